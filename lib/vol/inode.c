/* SPDX-License-Identifier: MIT */
/*
 * The inode cache and the inode life cycle.
 *
 * An inode is in DRAM while referenced: lookup counts (FUSE), open files
 * and internal holds all count in ip->ref (icache_lock). At ref 0 a linked
 * inode is simply evicted (its extent map and directory index go with it);
 * an unlinked one (nlink 0, on the orphan list) is reclaimed: blocks,
 * xattrs and the slot are freed in transactions, and it leaves the orphan
 * list in the last one. While being reclaimed it stays in the hash marked
 * reclaiming, so nobody can load a second copy of it.
 *
 * The on-media slot is used in place (ip->d points into the device): the
 * checksummed part changes only inside transactions (jtx_inode), the hot
 * fields (size, times) with single stores + persist.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vol_internal.h"

struct pgdax_inode *inode_slot(struct pgdax_vol *vol, uint64_t ino)
{
	return (struct pgdax_inode *)(vol->itable + ino * PGDAX_INODE_SIZE);
}

static size_t hslot(struct pgdax_vol *vol, uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ULL) >> 20) & (vol->hash_size - 1);
}

static struct inode *hfind(struct pgdax_vol *vol, uint64_t ino)
{
	for (struct inode *ip = vol->hash[hslot(vol, ino)]; ip; ip = ip->hnext)
		if (ip->ino == ino)
			return ip;
	return NULL;
}

static void hgrow(struct pgdax_vol *vol)
{
	size_t nsz = vol->hash_size * 2;
	struct inode **nh = calloc(nsz, sizeof(*nh));
	if (!nh)
		return;	/* keep the longer chains */
	struct inode **old = vol->hash;
	size_t osz = vol->hash_size;
	vol->hash = nh;
	vol->hash_size = nsz;
	for (size_t i = 0; i < osz; i++) {
		struct inode *ip = old[i], *next;
		for (; ip; ip = next) {
			next = ip->hnext;
			size_t h = hslot(vol, ip->ino);
			ip->hnext = nh[h];
			nh[h] = ip;
		}
	}
	free(old);
}

static void hinsert(struct pgdax_vol *vol, struct inode *ip)
{
	if (vol->ncached >= vol->hash_size * 2)
		hgrow(vol);
	size_t h = hslot(vol, ip->ino);
	ip->hnext = vol->hash[h];
	vol->hash[h] = ip;
	vol->ncached++;
}

static void hremove(struct pgdax_vol *vol, struct inode *ip)
{
	struct inode **pp = &vol->hash[hslot(vol, ip->ino)];
	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == ip) {
			*pp = ip->hnext;
			vol->ncached--;
			return;
		}
}

static struct inode *inode_alloc_mem(struct pgdax_vol *vol, uint64_t ino)
{
	struct inode *ip = calloc(1, sizeof(*ip));
	if (!ip)
		return NULL;
	ip->ino = ino;
	ip->ref = 1;
	ip->d = inode_slot(vol, ino);
	pthread_rwlock_init(&ip->lock, NULL);
	return ip;
}

static void inode_free_mem(struct inode *ip)
{
	extmap_free(&ip->map);
	dix_free(&ip->dix);
	pthread_rwlock_destroy(&ip->lock);
	free(ip);
}

int inode_get(struct pgdax_vol *vol, uint64_t ino, struct inode **out)
{
	struct inode *ip;
	char why[200];
	int rc;

	if (ino == 0 || ino >= vol->ninodes)
		return -ESTALE;
	pthread_mutex_lock(&vol->icache_lock);
	ip = hfind(vol, ino);
	if (ip) {
		if (ip->reclaiming) {
			pthread_mutex_unlock(&vol->icache_lock);
			return -ESTALE;
		}
		ip->ref++;
		pthread_mutex_unlock(&vol->icache_lock);
		*out = ip;
		return 0;
	}
	struct pgdax_inode *d = inode_slot(vol, ino);
	if (!ino_is_used(vol, ino) || le32toh(d->i_mode) == 0) {
		pthread_mutex_unlock(&vol->icache_lock);
		return -ESTALE;
	}
	rc = pgdax_inode_validate(&vol->geo, d, ino, why, sizeof(why));
	if (rc) {
		pthread_mutex_unlock(&vol->icache_lock);
		pgdax_err("%s: inode @%llu: %s", vol->devname,
			  (unsigned long long)dev_off(vol, d), why);
		return vol_corrupt(vol, ino);
	}
	ip = inode_alloc_mem(vol, ino);
	if (!ip) {
		pthread_mutex_unlock(&vol->icache_lock);
		return -ENOMEM;
	}
	hinsert(vol, ip);
	pthread_mutex_unlock(&vol->icache_lock);
	*out = ip;
	return 0;
}

void inode_hold(struct pgdax_vol *vol, struct inode *ip)
{
	pthread_mutex_lock(&vol->icache_lock);
	ip->ref++;
	pthread_mutex_unlock(&vol->icache_lock);
}

/* Drop a new inode whose creating transaction aborted (slot is free). */
void inode_forget_new(struct pgdax_vol *vol, struct inode *ip)
{
	pthread_mutex_lock(&vol->icache_lock);
	hremove(vol, ip);
	pthread_mutex_unlock(&vol->icache_lock);
	inode_free_mem(ip);
}

void inode_put(struct pgdax_vol *vol, struct inode *ip)
{
	if (!ip)
		return;
	pthread_mutex_lock(&vol->icache_lock);
	if (ip->ref == 0)
		abort();	/* put at zero: a bug */
	if (--ip->ref > 0 || ip == vol->root) {
		pthread_mutex_unlock(&vol->icache_lock);
		return;
	}
	/* dead: the slot reads zeros now (the fence), and nothing may be
	 * freed anyway: a real orphan stays listed for the next mount */
	bool reclaim = inode_nlink(ip) == 0 && !vol->rdonly && !vol_dead(vol);
	if (!reclaim && !vol->rdonly && !vol_dead(vol) &&
	    (le32toh(ip->d->i_flags) & PGDAX_IFL_TRIM)) {
		/* A pending trim keeps the inode cached (at ref 0) until it is
		 * finished: it is on the orphan list, where a neighbour's
		 * removal rewrites its i_orphan_next (and crc) in a
		 * transaction that does not take its lock, so loading (and
		 * validating) the slot again could catch it half updated. */
		pthread_mutex_unlock(&vol->icache_lock);
		return;
	}
	if (reclaim)
		ip->reclaiming = true;
	else
		hremove(vol, ip);
	pthread_mutex_unlock(&vol->icache_lock);

	if (reclaim) {
		int rc = inode_reclaim(vol, ip->ino);
		if (rc)
			pgdax_err("%s: could not free unlinked inode %llu (%d); it stays on "
				  "the orphan list", vol->devname, (unsigned long long)ip->ino, rc);
		pthread_mutex_lock(&vol->icache_lock);
		hremove(vol, ip);
		pthread_mutex_unlock(&vol->icache_lock);
	}
	inode_free_mem(ip);
}

void icache_evict_all(struct pgdax_vol *vol)
{
	for (size_t i = 0; vol->hash && i < vol->hash_size; i++) {
		struct inode *ip = vol->hash[i], *next;
		for (; ip; ip = next) {
			next = ip->hnext;
			inode_free_mem(ip);
		}
		vol->hash[i] = NULL;
	}
	vol->ncached = 0;
	vol->root = NULL;
}

void inode_now(struct pgdax_timespec *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	inode_set_time(t, &ts);
}

void inode_set_time(struct pgdax_timespec *t, const struct timespec *ts)
{
	t->t_sec = htole64((uint64_t)ts->tv_sec);
	t->t_nsec = htole32((uint32_t)ts->tv_nsec);
}

/*
 * The times are the one field written under the inode lock held for
 * reading: overwrites (data.c's fast path) share the lock and each stores
 * "now". Each word is stored and loaded whole (relaxed atomics), so
 * concurrent touches and stats are no data race; two racing touches may
 * still leave one's seconds with the other's nanoseconds, as before.
 */
static void get_time(const struct pgdax_timespec *t, struct timespec *ts)
{
	ts->tv_sec = (time_t)le64toh(__atomic_load_n(&t->t_sec, __ATOMIC_RELAXED));
	ts->tv_nsec = (long)le32toh(__atomic_load_n(&t->t_nsec, __ATOMIC_RELAXED));
}

static void put_time(struct pgdax_timespec *d, const struct pgdax_timespec *t)
{
	__atomic_store_n(&d->t_sec, t->t_sec, __ATOMIC_RELAXED);
	__atomic_store_n(&d->t_nsec, t->t_nsec, __ATOMIC_RELAXED);
}

void inode_touch_mc(struct pgdax_vol *vol, struct inode *ip)
{
	struct pgdax_timespec t;
	inode_now(&t);
	put_time(&ip->d->i_mtime, &t);
	put_time(&ip->d->i_ctime, &t);
	pgdax_dev_persist(vol->dev, &ip->d->i_mtime, 2 * sizeof(t));
}

/* Is a's time at or before b's? */
static bool time_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

bool inode_touch_atime(struct pgdax_vol *vol, struct inode *ip, int policy, bool lazy)
{
	struct pgdax_timespec t;
	struct timespec now, at, mt, ct;

	/* chattr +A (PGDAX_IATTR_NOATIME) is noatime for this inode alone */
	if (policy == PGDAX_ATIME_NOATIME || (iflags_of(ip) & PGDAX_IATTR_NOATIME))
		return false;
	inode_now(&t);
	get_time(&t, &now);
	get_time(&ip->d->i_atime, &at);
	if (policy == PGDAX_ATIME_RELATIME) {
		/* Linux's relatime: only when the last access predates the
		 * last change, or is a day old */
		get_time(&ip->d->i_mtime, &mt);
		get_time(&ip->d->i_ctime, &ct);
		if (!time_le(&at, &mt) && !time_le(&at, &ct) &&
		    now.tv_sec - at.tv_sec < 24 * 3600)
			return false;
	}
	put_time(&ip->d->i_atime, &t);
	/* a hot field: no transaction; lazytime leaves even the flush to the
	 * next persist of the inode's times (or the cache's own eviction) */
	if (!lazy)
		pgdax_dev_persist(vol->dev, &ip->d->i_atime, sizeof(t));
	return true;
}

/* Extending write: size, mtime, ctime with one persist barrier (i_size and
 * the times are adjacent hot fields; the size store itself is atomic). */
void inode_set_size_mc(struct pgdax_vol *vol, struct inode *ip, uint64_t size)
{
	struct pgdax_timespec t;
	inode_now(&t);
	__atomic_store_n(&ip->d->i_size, htole64(size), __ATOMIC_RELEASE);
	ip->d->i_mtime = t;
	ip->d->i_ctime = t;
	pgdax_dev_persist(vol->dev, &ip->d->i_size,
			  sizeof(*ip->d) - offsetof(struct pgdax_inode, i_size));
}

void inode_set_size(struct pgdax_vol *vol, struct inode *ip, uint64_t size)
{
	__atomic_store_n(&ip->d->i_size, htole64(size), __ATOMIC_RELEASE);
	pgdax_dev_persist(vol->dev, &ip->d->i_size, sizeof(ip->d->i_size));
}

void inode_stat(struct pgdax_vol *vol, struct inode *ip, struct stat *st)
{
	const struct pgdax_inode *d = ip->d;
	memset(st, 0, sizeof(*st));
	st->st_ino = ip->ino;
	st->st_mode = le32toh(d->i_mode);
	st->st_nlink = le32toh(d->i_nlink);
	st->st_uid = le32toh(d->i_uid);
	st->st_gid = le32toh(d->i_gid);
	st->st_rdev = (dev_t)le64toh(d->i_rdev);
	st->st_size = (off_t)le64toh(d->i_size);
	st->st_blksize = vol->bs;
	st->st_blocks = (blkcnt_t)(le64toh(d->i_blocks) * (vol->bs / 512));
	get_time(&d->i_atime, &st->st_atim);
	get_time(&d->i_mtime, &st->st_mtim);
	get_time(&d->i_ctime, &st->st_ctim);
}

void inode_btime(const struct inode *ip, struct timespec *ts)
{
	get_time(&ip->d->i_btime, ts);
}

int inode_new(struct jtx *tx, mode_t mode, uid_t uid, gid_t gid, uint64_t parent,
	      dev_t rdev, struct inode **out)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	uint64_t ino;
	int rc = ino_alloc(tx, &ino);
	if (rc)
		return rc;
	/* the DRAM side first: nothing is written if this fails */
	pthread_mutex_lock(&vol->icache_lock);
	struct inode *ip = hfind(vol, ino);
	if (ip && ip->reclaiming) {
		/* The previous inode of this number was freed (its bit is clear,
		 * so its reclaim committed) but its reclaimer has not yet dropped
		 * it from the hash: detach it now; the reclaimer's own hremove()
		 * then finds nothing and it frees its copy. */
		hremove(vol, ip);
		ip = NULL;
	}
	if (ip) {
		pthread_mutex_unlock(&vol->icache_lock);
		pgdax_err("inode %llu: free in the bitmap but cached in use",
			  (unsigned long long)ino);
		return -EUCLEAN;
	}
	ip = inode_alloc_mem(vol, ino);
	if (!ip) {
		pthread_mutex_unlock(&vol->icache_lock);
		return -ENOMEM;
	}
	/* still under icache_lock: nobody can load the slot half written */
	struct pgdax_inode *d = inode_slot(vol, ino);
	uint32_t gen = le32toh(d->i_generation) + 1;
	struct pgdax_timespec now;
	inode_now(&now);
	/* the slot is free on the medium: no undo needed, only persistence */
	memset(d, 0, sizeof(*d));
	d->i_mode = htole32(mode);
	d->i_uid = htole32(uid);
	d->i_gid = htole32(gid);
	d->i_nlink = htole32(S_ISDIR(mode) ? 2 : 1);
	d->i_generation = htole32(gen);
	d->i_ino = htole64(ino);
	d->i_rdev = htole64(rdev);
	d->i_parent = htole64(S_ISDIR(mode) ? parent : 0);
	d->i_btime = now;
	d->i_atime = d->i_mtime = d->i_ctime = now;
	d->i_crc = htole32(pgdax_struct_crc(d, offsetof(struct pgdax_inode, i_crc)));
	rc = jtx_touch(tx, d, sizeof(*d));
	if (rc) {
		pthread_mutex_unlock(&vol->icache_lock);
		inode_free_mem(ip);
		return rc;
	}
	ip->map.loaded = true;	/* a new inode has an empty map */
	hinsert(vol, ip);
	pthread_mutex_unlock(&vol->icache_lock);
	*out = ip;
	return 0;
}

/* ---- orphan list: sb->s_orphan_head -> i_orphan_next -> ... ---- */

int orphan_add(struct jtx *tx, struct inode *ip)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	int rc = jtx_add(tx, &vol->sb->s_orphan_head, sizeof(vol->sb->s_orphan_head));
	if (!rc)
		rc = jtx_inode(tx, ip->d);
	if (rc)
		return rc;
	if (le32toh(ip->d->i_flags) & PGDAX_IFL_ORPHAN)
		return 0;
	ip->d->i_orphan_next = vol->sb->s_orphan_head;
	ip->d->i_flags = htole32(le32toh(ip->d->i_flags) | PGDAX_IFL_ORPHAN);
	vol->sb->s_orphan_head = htole64(ip->ino);
	jtx_count(tx, 0, 1);
	return 0;
}

int orphan_remove(struct jtx *tx, uint64_t ino)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct pgdax_inode *d = inode_slot(vol, ino);
	uint64_t prev = 0, cur = le64toh(vol->sb->s_orphan_head);
	uint64_t steps = 0;
	int rc;

	if (!(le32toh(d->i_flags) & PGDAX_IFL_ORPHAN))
		return 0;
	while (cur && cur != ino) {
		if (cur >= vol->ninodes || ++steps > vol->ninodes) {
			pgdax_err("orphan list: bad link %llu after inode %llu",
				  (unsigned long long)cur, (unsigned long long)prev);
			return vol_corrupt(vol, prev);
		}
		prev = cur;
		cur = le64toh(inode_slot(vol, cur)->i_orphan_next);
	}
	if (cur == ino) {
		pgdax_le64 next = d->i_orphan_next;
		if (prev == 0) {
			rc = jtx_add(tx, &vol->sb->s_orphan_head, 8);
			if (rc)
				return rc;
			vol->sb->s_orphan_head = next;
		} else {
			struct pgdax_inode *p = inode_slot(vol, prev);
			rc = jtx_inode(tx, p);
			if (rc)
				return rc;
			p->i_orphan_next = next;
		}
	} else {
		pgdax_warn("inode %llu: flagged orphan but not on the orphan list",
			   (unsigned long long)ino);
	}
	rc = jtx_inode(tx, d);
	if (rc)
		return rc;
	d->i_orphan_next = 0;
	d->i_flags = htole32(le32toh(d->i_flags) & ~PGDAX_IFL_ORPHAN);
	if (cur == ino)
		jtx_count(tx, 0, -1);
	return 0;
}

/* Default period of the reports of a reclaim that waits (stall_report_ms). */
#define STALL_REPORT_MS		60000
/* Extents named per report (the rest are counted). */
#define STALL_REPORT_EXTENTS	8

/*
 * Wait, without a time limit, until every extent of @ip (being reclaimed:
 * no name, no open file, so no new reference can appear) is idle. An
 * extent still referenced now is a reference that outlived every handle
 * and pin: a client's transient I/O, or a leak. So that a leak shows
 * instead of a silent hang, every stall_report_ms the wait logs the inode
 * and the extents still referenced (device block, order, count), and
 * counts itself in stalled_reclaims (pgdax_vol_get_stats, pgdaxctl status)
 * until it ends. The wait is the pgmap's (event-driven); data.c then finds
 * everything idle. ip->lock held for writing.
 */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reclaim_wait_idle(struct pgdax_vol *vol, struct inode *ip)
{
	int period = vol->opts.stall_report_ms > 0 ? vol->opts.stall_report_ms
						   : STALL_REPORT_MS;
	int64_t start = mono_ms(), next_report = start + period, now;
	bool stalled = false;

	if (extmap_load(vol, ip))
		return;		/* data_truncate_blocks reports it */
	for (;;) {
		const struct ext *busy = NULL;
		char list[STALL_REPORT_EXTENTS * 48] = "";
		size_t len = 0, nbusy = 0;

		for (size_t i = 0; i < ip->map.n; i++) {
			const struct ext *e = &ip->map.v[i];
			uint32_t c;

			if (pgmap_folio_idle(vol->pgmap, e->dblk))	/* FREEING is busy */
				continue;
			c = pgmap_folio_refcount(vol->pgmap, e->dblk);
			if (!busy)
				busy = e;
			if (nbusy++ < STALL_REPORT_EXTENTS && len < sizeof(list))
				len += (size_t)snprintf(list + len, sizeof(list) - len,
							" block %llu order %u (%u ref%s)",
							(unsigned long long)e->dblk, e->order,
							c, c == 1 ? "" : "s");
		}
		if (!busy)
			break;
		now = mono_ms();
		if (now >= next_report) {
			if (!stalled)
				atomic_fetch_add(&vol->stalled_reclaims, 1);
			stalled = true;
			pgdax_warn("%s: freeing unlinked inode %llu has waited %lld s for %zu "
				   "extent(s) still referenced:%s%s", vol->devname,
				   (unsigned long long)ip->ino, (long long)((now - start) / 1000),
				   nbusy, list, nbusy > STALL_REPORT_EXTENTS ? " ..." : "");
			next_report = now + period;
		}
		/* one extent at a time: the scan above re-checks all after it */
		(void)pgmap_wait_idle(vol->pgmap, busy->dblk, (int)(next_report - now),
				      NULL, NULL);
	}
	if (stalled) {
		atomic_fetch_sub(&vol->stalled_reclaims, 1);
		pgdax_notice("%s: unlinked inode %llu: its extents are idle after %lld s, "
			     "freeing it", vol->devname, (unsigned long long)ip->ino,
			     (long long)((mono_ms() - start) / 1000));
	}
}

/*
 * Free an inode whose link count is 0: its blocks and then its xattr
 * blocks (chunked transactions, each leaving a consistent, smaller file),
 * then in one last transaction
 * xattrs, extent blocks, the orphan-list entry and the slot. A crash in
 * between leaves it on the orphan list for the next mount.
 *
 * It waits for the extents to be idle without a time limit, on the thread
 * that dropped the last reference: a receiver of fs/loop.c serving a
 * RELEASE, FORGET or unlink. That wait ends without any other request
 * being served, so it cannot hold that receiver up (nor the UNPIN or
 * RELEASE another wait needs): with the last reference gone no open file
 * is left, hence no pin (pins live on open files and pgdax_vol_release
 * drops them before the file's inode reference), and no I/O can start
 * (no handle, and the inode cannot be found: reclaiming). What can still
 * be busy is an I/O reference whose copy is ending on another thread (a
 * READ whose reply is written drops it right after) or a put still
 * running page_free (FREEING). So it is not handed to a worker.
 */
int inode_reclaim(struct pgdax_vol *vol, uint64_t ino)
{
	struct inode tmp, *ip = &tmp;
	int rc;

	if (vol_dead(vol))
		return -EIO;	/* the orphan stays listed on the device for the next mount */

	memset(&tmp, 0, sizeof(tmp));
	tmp.ino = ino;
	tmp.d = inode_slot(vol, ino);
	pthread_rwlock_init(&tmp.lock, NULL);
	pthread_rwlock_wrlock(&ip->lock);

	reclaim_wait_idle(vol, ip);
	rc = data_truncate_blocks(vol, ip, 0, NULL, true);
	if (!rc)
		rc = xattr_free_chunked(vol, ip);	/* bounded transactions, as the data */
	if (rc)
		goto out;
	struct jtx *tx = jtx_begin(vol);
	jtx_note(tx, ip);
	rc = xattr_free(tx, ip);
	if (!rc)
		rc = extmap_free_chain(tx, ip);
	if (!rc)
		rc = orphan_remove(tx, ino);
	if (!rc)
		rc = jtx_inode(tx, ip->d);
	if (!rc) {
		ip->d->i_mode = 0;
		ip->d->i_nlink = 0;
		ip->d->i_flags = 0;
		ip->d->i_blocks = 0;
		ip->d->i_extent_head = 0;
		ip->d->i_xattr_block = 0;
		rc = ino_free(tx, ino);
	}
	if (rc)
		jtx_abort(tx);
	else
		rc = jtx_commit(tx);
out:
	pthread_rwlock_unlock(&ip->lock);
	extmap_free(&ip->map);
	dix_free(&ip->dix);
	pthread_rwlock_destroy(&ip->lock);
	return rc;
}

/* Finish the pending trim of linked inode @ino (PGDAX_IFL_TRIM). */
static int trim_finish_ino(struct pgdax_vol *vol, uint64_t ino)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	rc = data_finish_trim(vol, ip, NULL, true);
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

/*
 * Mount (and unmount): empty the orphan list left by a crash or by an
 * earlier failure: free every unlinked inode, finish every pending trim
 * (free the blocks past EOF: until then they hold the bytes a truncate
 * cut off), and drop linked inodes listed without one.
 */
int orphans_reclaim_all(struct pgdax_vol *vol)
{
	uint64_t n = 0;
	for (;;) {
		uint64_t ino = le64toh(vol->sb->s_orphan_head);
		char why[200];
		if (ino == 0)
			break;
		struct pgdax_inode *d = inode_slot(vol, ino);
		if (ino >= vol->ninodes || !ino_is_used(vol, ino) || ++n > vol->ninodes ||
		    pgdax_inode_validate(&vol->geo, d, ino, why, sizeof(why)) ||
		    !(le32toh(d->i_flags) & PGDAX_IFL_ORPHAN)) {
			pgdax_err("%s: orphan list: bad inode %llu; run fsck.pgdaxfs",
				  vol->devname, (unsigned long long)ino);
			return vol_corrupt(vol, ino);
		}
		int rc;
		if (le32toh(d->i_nlink) != 0 && (le32toh(d->i_flags) & PGDAX_IFL_TRIM)) {
			rc = trim_finish_ino(vol, ino);
			if (!rc && le64toh(vol->sb->s_orphan_head) == ino)
				rc = -EUCLEAN;	/* still listed: would loop */
			if (rc)
				return rc;
			pgdax_info("%s: finished the truncate of inode %llu", vol->devname,
				   (unsigned long long)ino);
			continue;
		} else if (le32toh(d->i_nlink) != 0) {
			struct jtx *tx = jtx_begin(vol);
			rc = orphan_remove(tx, ino);
			if (rc)
				jtx_abort(tx);
			else
				rc = jtx_commit(tx);
		} else {
			rc = inode_reclaim(vol, ino);
		}
		if (rc)
			return rc;
		pgdax_info("%s: reclaimed orphan inode %llu", vol->devname,
			   (unsigned long long)ino);
	}
	return 0;
}
