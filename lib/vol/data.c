/* SPDX-License-Identifier: MIT */
/*
 * File data: read_map / write / fallocate / lseek / copy_range / truncate.
 *
 * Every access to file data holds a folio reference on each extent it
 * touches (pgmap_get_folio with the extent's order from the extent map),
 * for the duration of the copy (writes) or until pgdax_vol_io_done
 * (reads handed to the kernel). Truncate/punch/zero first break the
 * layout and wait for every affected extent to be idle (wait_range:
 * bounded by the mount's break timeout, interruptible, never holding the
 * inode lock while it sleeps); then, under the inode lock held for writing
 * since the last check (so no new reference appears), they re-read the
 * file and change it. If the wait fails they change nothing.
 *
 * Data is never journaled. Ordering for a write into a hole:
 *   (1) take blocks from the DRAM allocator (not yet used on the medium),
 *   (2) zero the parts of the new extent the write does not cover and
 *       copy the data in, persisted (pgdax_dev_copy_guarded / memset),
 *   (3) one transaction marks the blocks used and inserts the extent,
 *   (4) i_size (8-byte store) and mtime/ctime, persisted.
 * A crash before (3) leaves the blocks free; before (4) an allocated
 * extent past EOF (invisible; its bytes past EOF are written ones).
 * Invariant: bytes of allocated extents beyond i_size are zero, so growing
 * the size never exposes old data (truncate down zeroes the tail of the
 * last block; new extents are zero-filled where not written), except while
 * a trim is pending (below), when nothing may grow the size.
 *
 * Truncate down to S (first freed page F = ceil(S / bs)), like ext4's
 * orphan list for truncates:
 *   (T1) wait for pages [F, end) to be idle (layout break);
 *   (T2) one transaction: zero the tail of the block holding S (journaled),
 *        i_size = S, and, if any extent reaches past F, PGDAX_IFL_TRIM +
 *        the inode on the orphan list (format.h);
 *   (T3) free_range: transactions of at most 128 extents each, from the
 *        end backwards, each one a consistent smaller file (an extent
 *        crossing F is split: its pages before F stay mapped);
 *   (T4) one transaction: drop the empty extent chain, clear the flag, take
 *        the inode off the orphan list (unless it is unlinked: its reclaim
 *        needs the list entry).
 * A crash before T2 commits leaves the old size and bytes; after it, the
 * flag makes the next mount finish T3-T4 (orphans_reclaim_all) before
 * serving, and fsck -y does the same. If T3 or T4 fails at run time
 * (ENOMEM, journal error, I/O), the flag stays: every operation that could
 * grow the size or hand out blocks past EOF (truncate up, a write or
 * fallocate reaching past EOF, zero-range, DAX layout) first finishes the
 * trim (data_finish_trim) or fails with its error, and unmount finishes it
 * too. So the blocks past EOF of a shrunk file are never readable again.
 *
 * Punch-hole of [a, b): the partial edge blocks are zeroed in place
 * (persisted stores, not journaled), then the whole blocks are freed by
 * free_range (T3). Zero-range: the mapped bytes are zeroed in place,
 * persisted, and only then (one 8-byte store) the size grows to b unless
 * KEEP_SIZE. Neither lowers i_size nor writes past EOF, so a crash in the
 * middle leaves each byte of the range either its old value or zero (the
 * operation partly applied, as a torn write(2) is) and every byte past EOF
 * zero; nothing needs finishing at mount. (Zero-range and fallocate finish
 * a pending trim first, since they may grow the size.)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vol_internal.h"

/*
 * File sizes go up to the kernel's MAX_LFS_FILESIZE (2^63 - 1), what FUSE
 * gives as s_maxbytes: truncate -s to it makes a sparse file of that size.
 * Data may sit in every file page an extent record may name: fp + n at most
 * MAX_FILE_PAGES, the bound pgdax_extent_validate() (lib/vol/format.c)
 * checks in every 1.3 driver and fsck. With 4 KiB blocks that leaves the
 * last block below 2^63 (bytes [2^63 - 4096, 2^63 - 1)) a hole that a write
 * cannot fill (EFBIG); the rule is kept, not relaxed, so that older drivers
 * and fscks read every extent this one writes. Block numbers and file
 * pages are 64-bit in the extent record, so nothing else limits it.
 */
#define MAX_FILE_BYTES	((uint64_t)INT64_MAX)
#define MAX_FILE_PAGES	(UINT64_MAX >> 13)

/* End (exclusive) of the bytes a file may hold data in. */
static uint64_t max_data_bytes(const struct pgdax_vol *vol)
{
	if (vol->bshift >= 13)
		return MAX_FILE_BYTES;
	return MAX_FILE_PAGES << vol->bshift;
}

static uint64_t ext_pages(const struct ext *e)
{
	return 1ULL << e->order;
}

/* ---- layout break: waiting for extents to be idle ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pages a break must cover: file pages [first, end) rounded out to the
 * whole extents overlapping them (extents are contiguous page ranges, so
 * only the ones holding @first and @end - 1 can stick out). */
static void break_span(struct inode *ip, uint64_t first, uint64_t end,
		       uint64_t *bfirst, uint64_t *bend)
{
	struct extmap *m = &ip->map;
	ssize_t i = extmap_find(m, first, NULL);

	*bfirst = i >= 0 ? m->v[i].fpage : first;
	*bend = end;
	if (end != UINT64_MAX) {
		i = extmap_find(m, end - 1, NULL);
		if (i >= 0)
			*bend = m->v[i].fpage + ext_pages(&m->v[i]);
	}
}

/* The first extent overlapping file pages [first, end) that is not idle
 * (asked of the core: FREEING and CLAIMING are busy), or NULL. */
static const struct ext *busy_extent(struct pgdax_vol *vol, struct inode *ip,
				     uint64_t first, uint64_t end)
{
	struct extmap *m = &ip->map;
	size_t i;
	ssize_t hit = extmap_find(m, first, &i);

	if (hit >= 0)
		i = (size_t)hit;
	for (; i < m->n && m->v[i].fpage < end; i++)
		if (!pgmap_folio_idle(vol->pgmap, m->v[i].dblk))
			return &m->v[i];
	return NULL;
}

struct break_wait {
	struct inode *ip;
	uint64_t gen;			/* ip->layout_gen when the wait began */
	bool (*intr)(void *);		/* the caller's interruption, or NULL */
	void *arg;
};

/* pgmap_wait_idle's poll (every 100 ms at most): the caller was
 * interrupted, or the extent map lost an extent while we waited unlocked
 * (the one waited for may have been freed by another truncate and reused
 * by another file: we would be waiting for someone else's pin). */
static bool break_wait_over(void *arg)
{
	struct break_wait *w = arg;

	return (w->intr && w->intr(w->arg)) ||
	       atomic_load(&w->ip->layout_gen) != w->gen;
}

/*
 * A layout break (DESIGN.md 3, invariants 11 and 12; the kernel's
 * xfs_break_dax_layouts). Called with ip->lock held for writing; returns
 * with it held for writing, and either 0 with every extent overlapping
 * file pages [first, end) idle, or -EBUSY (break timeout), -EINTR
 * (interrupted) or another error, having changed nothing.
 *
 * While it runs, the holder (lib/pin/) refuses new pins in the break range
 * and notifies the open files pinning it (POLLPRI) so their clients let
 * go. The break range is [first, end) rounded out to whole extents: what
 * is waited for is whole extents (a truncate splits the one holding
 * @first), so a pin anywhere on them is told, and none is granted there.
 *
 * It never sleeps holding a lock: when an extent is busy it drops
 * ip->lock, sleeps until that extent is idle (pgmap_wait_idle:
 * event-driven, bounded by the break timeout, interruptible), retakes the
 * lock and checks everything again (the break range and the extents
 * included), because meanwhile the file may have changed: its size, its
 * extent map (new, split or freed extents). So the UNPIN or RELEASE that
 * ends the wait, and reads, writes and stats of the file, are served
 * meanwhile (fs/loop.c serves them on the thread that read them). The
 * caller must not use anything it read before the call (size, mode,
 * extent indices): it re-reads under the lock after it.
 * The break is set and moved under ip->lock, where pin creation checks it
 * (pin_begin), so a pin either exists before the break and is waited for,
 * or is refused; a moved break is set before the old one ends (no gap).
 */
static int wait_range(struct pgdax_vol *vol, struct inode *ip, uint64_t first,
		      uint64_t end, const struct pgdax_cred *cred, bool forever)
{
	int timeout = forever ? -1 : vol->opts.break_timeout_ms;
	int64_t deadline = timeout < 0 ? -1 : now_ms() + timeout;
	struct break_wait w = {
		.ip = ip,
		.intr = (!forever && cred) ? cred->interrupted : NULL,
		.arg = cred ? cred->interrupted_arg : NULL,
	};
	uint64_t bfirst = 0, bn = 0;	/* the break in force (bn 0: none) */
	int rc;

	if (end <= first)
		return 0;
	for (;;) {
		const struct ext *e;
		uint64_t nf, ne, dblk;
		int left;

		rc = extmap_load(vol, ip);	/* (an aborted tx may drop it) */
		if (rc)
			break;
		break_span(ip, first, end, &nf, &ne);
		if (nf != bfirst || ne - nf != bn) {
			rc = holder_break_layout(vol, ip->ino, nf, ne - nf);
			if (rc)
				break;	/* not recorded: new pins would not be refused */
			if (bn)
				holder_break_done(vol, ip->ino, bfirst, bn);
			bfirst = nf;
			bn = ne - nf;
		}
		e = busy_extent(vol, ip, first, end);
		if (!e) {
			extmap_assert_idle(vol, ip, first, end);	/* invariant 12 */
			break;		/* rc 0: all idle, and the lock is held */
		}
		left = deadline < 0 ? -1 : (int)(deadline - now_ms());
		if (deadline >= 0 && left <= 0) {
			rc = -EBUSY;
			break;
		}
		dblk = e->dblk;		/* (e is not ours once the lock is dropped) */
		w.gen = atomic_load(&ip->layout_gen);
		pthread_rwlock_unlock(&ip->lock);
		rc = pgmap_wait_idle(vol->pgmap, dblk, left, break_wait_over, &w);
		pthread_rwlock_wrlock(&ip->lock);
		if (rc == -ETIMEDOUT) {
			rc = -EBUSY;
			break;
		}
		if (rc == -EINTR && !(w.intr && w.intr(w.arg)))
			rc = 0;		/* the map changed: check again */
		if (rc)
			break;
	}
	if (bn)
		holder_break_done(vol, ip->ino, bfirst, bn);
	return rc;
}

/* Insert aligned power-of-two pieces of file pages [a, b) of extent @e. */
static int keep_pieces(struct jtx *tx, struct inode *ip, const struct ext *e,
		       uint64_t a, uint64_t b)
{
	while (a < b) {
		unsigned o = 0;
		while (o < e->order && !(a & ((2ULL << o) - 1)) && a + (2ULL << o) <= b)
			o++;
		int rc = extmap_insert(tx, ip, a, e->dblk + (a - e->fpage), o);
		if (rc)
			return rc;
		a += 1ULL << o;
	}
	return 0;
}

/*
 * Free the blocks of file pages [first, end) (extents split at the edges).
 * The range must be idle (wait_range). Chunked: each transaction frees a
 * bounded number of extents and leaves a consistent file.
 */
static int free_range(struct pgdax_vol *vol, struct inode *ip, uint64_t first, uint64_t end)
{
	struct extmap *m = &ip->map;
	int rc = 0;

	for (;;) {
		/* last extent overlapping the range: free from the end backwards */
		size_t next;
		ssize_t hit = extmap_find(m, end - 1, &next);
		size_t i = hit >= 0 ? (size_t)hit + 1 : next;
		if (i == 0 || m->v[i - 1].fpage + ext_pages(&m->v[i - 1]) <= first)
			return 0;
		struct jtx *tx = jtx_begin(vol);
		for (int n = 0; n < 128 && i > 0 && jtx_room(tx) > 64 * 1024; n++) {
			struct ext e = m->v[i - 1];
			if (e.fpage + ext_pages(&e) <= first)
				break;
			uint64_t a = e.fpage > first ? e.fpage : first;
			uint64_t b = e.fpage + ext_pages(&e) < end ? e.fpage + ext_pages(&e) : end;
			pgmap_assert_idle(vol->pgmap, e.dblk, ext_pages(&e), 11,
					  "truncate/punch frees blocks of a busy extent");
			rc = extmap_remove(tx, ip, i - 1);
			if (!rc)
				rc = -atomic_load(&vol->fail_free_range);	/* tests */
			if (!rc)
				rc = blk_free(tx, e.dblk + (a - e.fpage), b - a);
			if (!rc)
				rc = keep_pieces(tx, ip, &e, e.fpage, a);
			if (!rc)
				rc = keep_pieces(tx, ip, &e, b, e.fpage + ext_pages(&e));
			if (rc)
				break;
			/* continue with the extents before e (pieces at >= e.fpage
			 * lie outside [first, end)) */
			size_t nx;
			ssize_t h = extmap_find(m, e.fpage, &nx);
			i = h >= 0 ? (size_t)h : nx;
		}
		if (rc) {
			jtx_abort(tx);
			return rc;
		}
		rc = jtx_commit(tx);
		if (rc)
			return rc;
		rc = extmap_load(vol, ip);	/* (no-op unless an abort dropped it) */
		if (rc)
			return rc;
	}
}

/* A file without extents gives its extent blocks back (st_blocks 0); one
 * left with what the inode holds moves its map there (extmap.c). */
static int drop_empty_chain(struct pgdax_vol *vol, struct inode *ip)
{
	if (!ip->d->i_extent_head ||
	    ip->map.n > (vol->inline_ext ? PGDAX_INLINE_EXTENTS : 0u))
		return 0;
	struct jtx *tx = jtx_begin(vol);
	int rc = ip->map.n ? extmap_to_inline(tx, ip) : extmap_free_chain(tx, ip);
	if (rc) {
		jtx_abort(tx);
		return rc;
	}
	return jtx_commit(tx);
}

static bool trim_pending(const struct inode *ip)
{
	return le32toh(ip->d->i_flags) & PGDAX_IFL_TRIM;
}

/* Is any block at file page >= @first mapped? (the map is sorted) */
static bool mapped_from(struct inode *ip, uint64_t first)
{
	const struct ext *e = ip->map.n ? &ip->map.v[ip->map.n - 1] : NULL;
	return e && e->fpage + ext_pages(e) > first;
}

/*
 * (T4) Every block past EOF is freed: in one transaction give back an
 * empty extent chain, clear PGDAX_IFL_TRIM and leave the orphan list
 * (an unlinked inode stays on it: its reclaim is still due).
 */
static int trim_done(struct pgdax_vol *vol, struct inode *ip)
{
	struct jtx *tx;
	int rc = 0;

	if (!trim_pending(ip))
		return drop_empty_chain(vol, ip);
	tx = jtx_begin(vol);
	if (!ip->map.n && ip->d->i_extent_head)
		rc = extmap_free_chain(tx, ip);
	else if (ip->d->i_extent_head)
		rc = extmap_to_inline(tx, ip);
	if (!rc)
		rc = jtx_inode(tx, ip->d);
	if (!rc) {
		ip->d->i_flags = htole32(le32toh(ip->d->i_flags) & ~PGDAX_IFL_TRIM);
		if (inode_nlink(ip))
			rc = orphan_remove(tx, ip->ino);
	}
	if (rc) {
		jtx_abort(tx);
		return rc;
	}
	return jtx_commit(tx);
}

/* (T3) + (T4): pages [first, end) are idle (the caller waited). */
static int trim_blocks(struct pgdax_vol *vol, struct inode *ip, uint64_t first)
{
	int rc = free_range(vol, ip, first, UINT64_MAX);
	if (!rc)
		rc = trim_done(vol, ip);
	return rc;
}

int data_finish_trim(struct pgdax_vol *vol, struct inode *ip, const struct pgdax_cred *cred,
		     bool wait_forever)
{
	uint64_t first;
	int rc;

	if (!trim_pending(ip))
		return 0;
	if (vol->rdonly)
		return -EROFS;	/* mount read-write once: the mount finishes it */
	for (;;) {
		first = (inode_size(ip) + vol->bs - 1) >> vol->bshift;
		rc = extmap_load(vol, ip);
		if (!rc)
			rc = wait_range(vol, ip, first, UINT64_MAX, cred, wait_forever);
		if (rc)
			break;
		/* wait_range may have dropped the lock: another thread may
		 * have finished the trim, or moved the size, meanwhile */
		if (!trim_pending(ip))
			return 0;
		if (((inode_size(ip) + vol->bs - 1) >> vol->bshift) == first) {
			rc = trim_blocks(vol, ip, first);
			break;
		}
	}
	if (rc)
		pgdax_warn("%s: inode %llu: blocks past EOF not freed yet (%d); the trim stays "
			   "pending", vol->devname, (unsigned long long)ip->ino, rc);
	return rc;
}

/*
 * Appends to a file past 1 MiB get 2 MiB extents (pick_order) so DAX
 * clients can map it with huge pages; the file's last one is mostly past
 * EOF when the writer stops. ext4 gives back its preallocation at close:
 * so does this, for the extent holding the last page only (size
 * unchanged, the blocks past EOF are zero: each transaction of free_range
 * leaves a consistent file, no trim flag needed). Extents past EOF that
 * fallocate(KEEP_SIZE) asked for are not this extent's and are kept.
 */
int data_trim_prealloc(struct pgdax_vol *vol, struct inode *ip)
{
	if (!ip->prealloc_tail || vol->rdonly || !S_ISREG(inode_mode(ip)) ||
	    !inode_nlink(ip) || trim_pending(ip))
		return 0;
	ip->prealloc_tail = false;
	int rc = extmap_load(vol, ip);
	if (rc)
		return rc;
	uint64_t first = (inode_size(ip) + vol->bs - 1) >> vol->bshift;
	ssize_t i = first ? extmap_find(&ip->map, first - 1, NULL) : -1;
	if (i < 0)
		return 0;
	uint64_t end = ip->map.v[i].fpage + ext_pages(&ip->map.v[i]);
	if (end <= first)
		return 0;
	/* This runs in RELEASE, which must never wait (fs/loop.c): no pin can
	 * hold these extents (pins live on open files, and this is the last
	 * close), so a busy one is an I/O copy in flight; then keep the tail
	 * for the next close rather than wait. ip->lock is held for writing
	 * from the check to the free, so no new reference appears between. */
	if (busy_extent(vol, ip, first, end)) {
		ip->prealloc_tail = true;
		return 0;
	}
	rc = free_range(vol, ip, first, end);
	if (!rc)
		rc = drop_empty_chain(vol, ip);
	return rc;
}

/* (wait_range may drop ip->lock: nothing read before is used after) */
int data_truncate_blocks(struct pgdax_vol *vol, struct inode *ip, uint64_t new_size,
			 const struct pgdax_cred *cred, bool wait_forever)
{
	uint64_t first = (new_size + vol->bs - 1) >> vol->bshift;
	int rc = extmap_load(vol, ip);
	if (!rc)
		rc = wait_range(vol, ip, first, UINT64_MAX, cred, wait_forever);
	if (!rc)
		rc = free_range(vol, ip, first, UINT64_MAX);
	if (!rc)
		rc = drop_empty_chain(vol, ip);
	return rc;
}

/* Zero file bytes [a, b) where mapped, under folio references. */
static int zero_mapped(struct pgdax_vol *vol, struct inode *ip, uint64_t a, uint64_t b)
{
	while (a < b) {
		uint64_t fp = a >> vol->bshift;
		size_t next;
		ssize_t i = extmap_find(&ip->map, fp, &next);
		if (i < 0) {
			if (next >= ip->map.n)
				return 0;
			uint64_t s = ip->map.v[next].fpage << vol->bshift;
			a = s;
			continue;
		}
		struct ext *e = &ip->map.v[i];
		uint64_t eend = (e->fpage + ext_pages(e)) << vol->bshift;
		uint64_t stop = eend < b ? eend : b;
		struct pgdax_folio *f;
		int rc = pgmap_get_folio(vol->pgmap, e->dblk, e->order, ip, &f);
		if (rc)
			return rc;
		char *dst = (char *)blk_addr(vol, e->dblk) + (a - (e->fpage << vol->bshift));
		pgdax_dev_memset_persist(vol->dev, dst, 0, stop - a);
		folio_put(f);
		a = stop;
	}
	return 0;
}

int data_zero_past_eof(struct pgdax_vol *vol, struct inode *ip, uint64_t new_size)
{
	uint64_t old = inode_size(ip);

	if (!ip->dax_past_eof || new_size <= old)
		return 0;
	return zero_mapped(vol, ip, old, new_size);
}

/*
 * Truncate down, (T2) in one transaction: zero the tail of the new last
 * block (bytes past EOF stay zero), store the new size and, when blocks
 * past it remain to be freed, mark the trim pending (flag + orphan list).
 * A crash leaves the old size and bytes, or the new ones with the trim
 * recorded for the next mount.
 */
static int shrink_size(struct pgdax_vol *vol, struct inode *ip, uint64_t size)
{
	uint64_t first = (size + vol->bs - 1) >> vol->bshift;
	bool trim = mapped_from(ip, first);
	struct pgdax_folio *f = NULL;
	struct jtx *tx;
	int rc = 0;

	ssize_t i = extmap_find(&ip->map, size >> vol->bshift, NULL);
	if ((size & (vol->bs - 1)) && i >= 0) {
		struct ext *e = &ip->map.v[i];
		rc = pgmap_get_folio(vol->pgmap, e->dblk, e->order, ip, &f);
		if (rc)
			return rc;
	}
	tx = jtx_begin(vol);
	if (f) {
		struct ext *e = &ip->map.v[i];
		char *p = (char *)blk_addr(vol, e->dblk) + (size - (e->fpage << vol->bshift));
		size_t n = vol->bs - (size & (vol->bs - 1));
		rc = jtx_add(tx, p, n);
		if (!rc)
			memset(p, 0, n);
	}
	if (!rc)
		rc = jtx_add(tx, &ip->d->i_size, sizeof(ip->d->i_size));
	if (!rc)
		ip->d->i_size = htole64(size);
	if (!rc && trim)
		rc = orphan_add(tx, ip);	/* journals the slot: the flag too */
	if (!rc && trim)
		ip->d->i_flags = htole32(le32toh(ip->d->i_flags) | PGDAX_IFL_TRIM);
	if (rc)
		jtx_abort(tx);
	else
		rc = jtx_commit(tx);
	if (f)
		folio_put(f);
	return rc;
}

int data_setsize(struct pgdax_vol *vol, struct inode *ip, uint64_t size,
		 const struct pgdax_cred *cred)
{
	uint64_t first = (size + vol->bs - 1) >> vol->bshift;
	int rc;

	if (size > MAX_FILE_BYTES)
		return -EFBIG;
	rc = extmap_load(vol, ip);
	if (rc)
		return rc;
	if (size < inode_size(ip)) {
		/* may drop ip->lock while it waits: the size is read after */
		rc = wait_range(vol, ip, first, UINT64_MAX, cred, false);
		if (rc)
			return rc;
	}
	uint64_t old = inode_size(ip);
	if (size < old) {
		rc = shrink_size(vol, ip, size);
		if (!rc)
			rc = trim_blocks(vol, ip, first);
	} else if (size > old) {
		/* (also when it shrank while we waited): finish a pending trim
		 * before the size grows over its blocks */
		rc = data_finish_trim(vol, ip, cred, false);
		if (!rc)
			rc = data_zero_past_eof(vol, ip, size);
		if (!rc)
			inode_set_size(vol, ip, size);
	}
	return rc;
}

/* ---- reads ---- */

static ssize_t read_map_impl(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			   uint64_t off, size_t size, struct iovec *iov,
			   int maxiov, int *niov, struct pgdax_io *io)
{
	struct inode *ip = f->ip;
	uint64_t done = 0;
	int n = 0, rc = 0;

	*niov = 0;
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	pthread_rwlock_rdlock(&ip->lock);
	if (!S_ISREG(inode_mode(ip))) {
		pthread_rwlock_unlock(&ip->lock);
		return -EISDIR;
	}
	while (!ip->map.loaded) {
		/* load under the write lock, then continue as a reader (an
		 * aborted transaction may drop it again in between: re-check) */
		pthread_rwlock_unlock(&ip->lock);
		pthread_rwlock_wrlock(&ip->lock);
		rc = extmap_load(vol, ip);
		pthread_rwlock_unlock(&ip->lock);
		if (rc)
			return rc;
		pthread_rwlock_rdlock(&ip->lock);
	}
	uint64_t isz = inode_size(ip);
	if (off >= isz || size == 0) {
		pthread_rwlock_unlock(&ip->lock);
		return 0;
	}
	if (size > isz - off)
		size = isz - off;
	while (done < size && n < maxiov) {
		uint64_t pos = off + done, fp = pos >> vol->bshift;
		size_t next;
		ssize_t i = extmap_find(&ip->map, fp, &next);
		uint64_t len = size - done;
		if (i < 0) {
			if (next < ip->map.n) {
				uint64_t s = ip->map.v[next].fpage << vol->bshift;
				if (s - pos < len)
					len = s - pos;
			}
			if (len > vol->zero_len)
				len = vol->zero_len;
			iov[n].iov_base = vol->zero;
		} else {
			struct ext *e = &ip->map.v[i];
			uint64_t eoff = pos - (e->fpage << vol->bshift);
			uint64_t left = (ext_pages(e) << vol->bshift) - eoff;
			if (io->nfolios >= (int)(sizeof(io->folios) / sizeof(io->folios[0])))
				break;
			rc = pgmap_get_folio(vol->pgmap, e->dblk, e->order, ip,
					     &io->folios[io->nfolios]);
			if (rc)
				break;
			io->nfolios++;
			atomic_fetch_add(&vol->inflight_io, 1);
			if (left < len)
				len = left;
			iov[n].iov_base = (char *)blk_addr(vol, e->dblk) + eoff;
		}
		iov[n].iov_len = len;
		n++;
		done += len;
	}
	pthread_rwlock_unlock(&ip->lock);
	*niov = n;
	if (done == 0 && rc)
		return rc;
	return (ssize_t)done;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
ssize_t pgdax_vol_read_map(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			   uint64_t off, size_t size, struct iovec *iov,
			   int maxiov, int *niov, struct pgdax_io *io)
{
	ssize_t rc;

	VOL_LIVE_OR_EIO(vol);
	rc = read_map_impl(vol, f, off, size, iov, maxiov, niov, io);
	if (vol_dead(vol)) {
		pgdax_vol_io_done(vol, io);
		*niov = 0;
		rc = -EIO;
	}
	return rc;
}


void pgdax_vol_io_done(struct pgdax_vol *vol, struct pgdax_io *io)
{
	for (int i = 0; i < io->nfolios; i++) {
		folio_put(io->folios[i]);
		atomic_fetch_sub(&vol->inflight_io, 1);
	}
	io->nfolios = 0;
}

/* ---- writes ---- */

static bool must_kill_suid(const struct inode *ip, const struct pgdax_cred *cred)
{
	uint32_t mode = inode_mode(ip);
	if (!cred || cred->uid == 0)
		return false;
	return (mode & S_ISUID) || ((mode & S_ISGID) && (mode & S_IXGRP));
}

static int kill_suid(struct pgdax_vol *vol, struct inode *ip)
{
	struct jtx *tx = jtx_begin(vol);
	int rc = jtx_inode(tx, ip->d);
	if (rc) {
		jtx_abort(tx);
		return rc;
	}
	uint32_t mode = inode_mode(ip);
	mode &= ~(uint32_t)S_ISUID;
	if (mode & S_IXGRP)
		mode &= ~(uint32_t)S_ISGID;
	ip->d->i_mode = htole32(mode);
	return jtx_commit(tx);
}

/* Largest order for a new extent at file page @fp, not overlapping the next
 * extent, sized to the write (large files get up to 2 MiB extents). */
static unsigned pick_order(struct pgdax_vol *vol, struct inode *ip, uint64_t fp,
			   uint64_t end_byte)
{
	unsigned maxo = vol->bshift < 21 ? 21 - vol->bshift : 0;
	uint64_t want = ((end_byte + vol->bs - 1) >> vol->bshift) - fp;
	/* appending (no gap) to a file already past 1 MiB: large extents even
	 * for small writes; sparse writes far past EOF get what they write */
	uint64_t isz = inode_size(ip);
	bool large = isz >= (1u << 20) && (fp << vol->bshift) <= isz;
	size_t next;
	uint64_t limit = UINT64_MAX;

	extmap_find(&ip->map, fp, &next);
	if (next < ip->map.n)
		limit = ip->map.v[next].fpage - fp;
	if (MAX_FILE_PAGES - fp < limit)	/* fp < MAX_FILE_PAGES: write_impl */
		limit = MAX_FILE_PAGES - fp;
	unsigned o = 0;
	while (o < maxo && !(fp & ((2ULL << o) - 1)) && (2ULL << o) <= limit &&
	       (large || (2ULL << o) <= want))
		o++;
	return o;
}

/* Fill a hole at @pos with a new extent holding buf[0, len) (len may stop
 * short of the extent end). Returns bytes written or -errno. */
static ssize_t write_new_extent(struct pgdax_vol *vol, struct inode *ip, uint64_t pos,
				const char *buf, uint64_t len, uint64_t want_end)
{
	uint64_t fp = pos >> vol->bshift;
	unsigned order = pick_order(vol, ip, fp, want_end > pos + len ? want_end : pos + len);
	struct pgdax_alloc_hint hint = { .near = vol->data_start, .align_order = order };
	uint64_t blk;
	int rc;

	if (ip->map.n) {
		size_t next;
		extmap_find(&ip->map, fp, &next);
		if (next > 0) {
			struct ext *p = &ip->map.v[next - 1];
			hint.near = p->dblk + ext_pages(p) + (fp - p->fpage - ext_pages(p));
		}
	}
	for (;;) {	/* (1) */
		rc = pgdax_alloc_get(vol->alloc, order, &hint, &blk);
		if (rc != -ENOSPC || order == 0)
			break;
		order--;
		hint.align_order = order;
	}
	if (rc)
		return rc;
	uint64_t n = 1ULL << order;
	uint64_t e0 = fp << vol->bshift, e1 = (fp + n) << vol->bshift;
	if (len > e1 - pos)
		len = e1 - pos;
	/* a write's extent reaching past it (not fallocate's, want_end) */
	bool ahead = !want_end && ((pos + len + vol->bs - 1) & ~(uint64_t)(vol->bs - 1)) < e1;
	struct pgdax_folio *f;
	rc = pgmap_get_folio(vol->pgmap, blk, order, ip, &f);
	if (rc) {
		pgdax_alloc_put_range(vol->alloc, blk, n);
		return rc;
	}
	char *base = blk_addr(vol, blk);	/* (2) */
	if (pos > e0)
		pgdax_dev_memset_persist(vol->dev, base, 0, pos - e0);
	if (pos + len < e1)
		pgdax_dev_memset_persist(vol->dev, base + (pos + len - e0), 0, e1 - pos - len);
	if (len)
		rc = pgdax_dev_copy_guarded(vol->dev, base + (pos - e0), buf, len, true);
	folio_put(f);
	if (rc) {
		pgdax_alloc_put_range(vol->alloc, blk, n);
		return rc;
	}
	struct jtx *tx = jtx_begin(vol);	/* (3) */
	rc = jtx_alloced_blocks(tx, blk, n);
	if (rc) {
		pgdax_alloc_put_range(vol->alloc, blk, n);
		jtx_abort(tx);
		return rc;
	}
	rc = blk_mark(tx, blk, n, true);
	if (!rc)
		rc = extmap_insert(tx, ip, fp, blk, order);
	if (rc) {
		jtx_abort(tx);
		int rc2 = extmap_load(vol, ip);
		return rc2 ? rc2 : rc;
	}
	rc = jtx_commit(tx);
	if (!rc && ahead)
		ip->prealloc_tail = true;
	return rc ? rc : (ssize_t)len;
}

/* Copy into allocated extents / fill holes. ip->lock held (write lock if
 * @may_alloc). Returns bytes written (short on ENOSPC after progress). */
static ssize_t write_locked(struct pgdax_vol *vol, struct inode *ip, uint64_t off,
			    const char *buf, size_t size, bool may_alloc)
{
	uint64_t done = 0;
	int rc = 0;

	while (done < size) {
		uint64_t pos = off + done, fp = pos >> vol->bshift;
		ssize_t i = extmap_find(&ip->map, fp, NULL);
		if (i < 0) {
			if (!may_alloc)
				return -EAGAIN;
			ssize_t w = write_new_extent(vol, ip, pos, buf + done, size - done, 0);
			if (w < 0) {
				rc = (int)w;
				break;
			}
			done += (uint64_t)w;
			continue;
		}
		struct ext *e = &ip->map.v[i];
		uint64_t eoff = pos - (e->fpage << vol->bshift);
		uint64_t len = (ext_pages(e) << vol->bshift) - eoff;
		if (len > size - done)
			len = size - done;
		struct pgdax_folio *f;
		rc = pgmap_get_folio(vol->pgmap, e->dblk, e->order, ip, &f);
		if (rc)
			break;
		atomic_fetch_add(&vol->inflight_io, 1);
		rc = pgdax_dev_copy_guarded(vol->dev, (char *)blk_addr(vol, e->dblk) + eoff,
					    buf + done, len, true);
		folio_put(f);
		atomic_fetch_sub(&vol->inflight_io, 1);
		if (rc)
			break;
		done += len;
	}
	if (done == 0 && rc)
		return rc;
	return (ssize_t)done;
}

static bool range_mapped(struct pgdax_vol *vol, struct inode *ip, uint64_t off, size_t size)
{
	uint64_t fp = off >> vol->bshift, last = (off + size - 1) >> vol->bshift;
	while (fp <= last) {
		ssize_t i = extmap_find(&ip->map, fp, NULL);
		if (i < 0)
			return false;
		fp = ip->map.v[i].fpage + ext_pages(&ip->map.v[i]);
	}
	return true;
}

static ssize_t write_impl(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			uint64_t off, const void *buf, size_t size,
			const struct pgdax_cred *cred)
{
	struct inode *ip = f->ip;
	ssize_t w;
	int rc = 0;

	if (vol->rdonly)
		return -EROFS;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (!S_ISREG(inode_mode(ip)))
		return -EISDIR;
	if (size == 0)
		return 0;
	if (off >= max_data_bytes(vol) || size > max_data_bytes(vol) - off)
		return -EFBIG;
	rc = iflags_check(ip, IFL_WRITE, f->flags);
	if (rc)
		return rc;

	/* fast path: overwrite of allocated blocks inside EOF, shared lock */
	if (!(f->flags & O_APPEND) && !must_kill_suid(ip, cred)) {
		pthread_rwlock_rdlock(&ip->lock);
		if (ip->map.loaded && off + size <= inode_size(ip) &&
		    range_mapped(vol, ip, off, size)) {
			w = write_locked(vol, ip, off, buf, size, false);
			if (w > 0)
				inode_touch_mc(vol, ip);
			pthread_rwlock_unlock(&ip->lock);
			return w;
		}
		pthread_rwlock_unlock(&ip->lock);
	}

	pthread_rwlock_wrlock(&ip->lock);
	rc = extmap_load(vol, ip);
	if (rc)
		goto out;
	if (f->flags & O_APPEND)
		off = inode_size(ip);
	if (off >= max_data_bytes(vol) || size > max_data_bytes(vol) - off) {
		rc = -EFBIG;
		goto out;
	}
	if (off + size > inode_size(ip)) {
		rc = data_finish_trim(vol, ip, cred, false);
		if (!rc)	/* the gap and the range itself; the write overwrites */
			rc = data_zero_past_eof(vol, ip, off + size);
		if (rc)
			goto out;
	}
	if (must_kill_suid(ip, cred)) {
		rc = kill_suid(vol, ip);
		if (rc)
			goto out;
	}
	w = write_locked(vol, ip, off, buf, size, true);
	if (w < 0) {
		rc = (int)w;
		goto out;
	}
	if (w > 0) {	/* (4) */
		if (off + (uint64_t)w > inode_size(ip))
			inode_set_size_mc(vol, ip, off + (uint64_t)w);
		else
			inode_touch_mc(vol, ip);
	}
	pthread_rwlock_unlock(&ip->lock);
	return w;
out:
	pthread_rwlock_unlock(&ip->lock);
	return rc;
}

/* Refused once the device is lost, and not acknowledged if it was lost
 * meanwhile: its stores may have landed in the fence (vol_ack). */
ssize_t pgdax_vol_write(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			uint64_t off, const void *buf, size_t size,
			const struct pgdax_cred *cred)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, write_impl(vol, f, off, buf, size, cred));
}

/* ---- fallocate / lseek / copy_range ---- */

/* Allocate zeroed extents for every hole in file bytes [a, b). */
static int alloc_range(struct pgdax_vol *vol, struct inode *ip, uint64_t a, uint64_t b)
{
	uint64_t fp = a >> vol->bshift, last = (b + vol->bs - 1) >> vol->bshift;
	while (fp < last) {
		size_t next;
		ssize_t i = extmap_find(&ip->map, fp, &next);
		if (i >= 0) {
			fp = ip->map.v[i].fpage + ext_pages(&ip->map.v[i]);
			continue;
		}
		uint64_t hole_end = next < ip->map.n ? ip->map.v[next].fpage : last;
		if (hole_end > last)
			hole_end = last;
		/* write_new_extent with no data: zero-filled, sized to the hole */
		uint64_t pos = fp << vol->bshift;
		ssize_t w = write_new_extent(vol, ip, pos, NULL, 0, hole_end << vol->bshift);
		if (w < 0)
			return (int)w;
		i = extmap_find(&ip->map, fp, NULL);
		if (i < 0)
			return -EIO;
		fp = ip->map.v[i].fpage + ext_pages(&ip->map.v[i]);
	}
	return 0;
}

static int fallocate_impl(struct pgdax_vol *vol, uint64_t ino, int mode,
			uint64_t off, uint64_t len, const struct pgdax_cred *cred)
{
	struct inode *ip;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	if (len == 0)
		return -EINVAL;
	if (off >= max_data_bytes(vol) || len > max_data_bytes(vol) - off)
		return -EFBIG;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & FALLOC_FL_ZERO_RANGE)))
		return -EOPNOTSUPP;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	if (!S_ISREG(inode_mode(ip)) || (rc = iflags_check(ip, IFL_FALLOCATE, mode))) {
		rc = rc ? rc : S_ISDIR(inode_mode(ip)) ? -EISDIR : -ENODEV;
		inode_put(vol, ip);	/* (may free ip: read the mode first) */
		return rc;
	}
	pthread_rwlock_wrlock(&ip->lock);
	rc = extmap_load(vol, ip);
	if (rc)
		goto out;
	/* Every mode modifies the file: Linux (file_modified in ext4, xfs and
	 * tmpfs fallocate) drops setuid/setgid for a non-owner without
	 * CAP_FSETID as a write does, before any block changes. */
	if (must_kill_suid(ip, cred)) {
		rc = kill_suid(vol, ip);
		if (rc)
			goto out;
	}
	if (!(mode & FALLOC_FL_PUNCH_HOLE)) {
		/* may grow the size or map pages past EOF */
		rc = data_finish_trim(vol, ip, cred, false);
		if (rc)
			goto out;
	}
	uint64_t end = off + len, size;
	uint64_t p0 = (off + vol->bs - 1) >> vol->bshift, p1 = end >> vol->bshift;

	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		/* may drop ip->lock while it waits: the size is read after */
		rc = wait_range(vol, ip, off >> vol->bshift, (end + vol->bs - 1) >> vol->bshift,
				cred, false);
		if (rc)
			goto out;
		/* a truncate may have run while the lock was dropped */
		if (!(mode & FALLOC_FL_PUNCH_HOLE))
			rc = data_finish_trim(vol, ip, cred, false);
		if (rc)
			goto out;
		size = inode_size(ip);
		uint64_t zend = (mode & FALLOC_FL_PUNCH_HOLE) && end > size ? size : end;
		if (mode & FALLOC_FL_PUNCH_HOLE) {
			/* partial edge blocks are zeroed, whole blocks freed */
			if (p0 > p1) {
				rc = zero_mapped(vol, ip, off, zend > off ? zend : off);
			} else {
				rc = zero_mapped(vol, ip, off, p0 << vol->bshift);
				if (!rc && (p1 << vol->bshift) < zend)
					rc = zero_mapped(vol, ip, p1 << vol->bshift, zend);
				if (!rc && p1 > p0)
					rc = free_range(vol, ip, p0, p1);
			}
		} else {
			rc = zero_mapped(vol, ip, off, end);
			if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) && end > size)
				rc = data_zero_past_eof(vol, ip, end);
			if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) && end > size)
				inode_set_size(vol, ip, end);
		}
	} else {
		size = inode_size(ip);
		rc = alloc_range(vol, ip, off, end);
		if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) && end > size)
			rc = data_zero_past_eof(vol, ip, end);
		if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) && end > size)
			inode_set_size(vol, ip, end);
	}
	if (!rc)
		inode_touch_mc(vol, ip);
out:
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

/* Refused once the device is lost, and not acknowledged if it was lost
 * meanwhile: its stores may have landed in the fence (vol_ack). */
int pgdax_vol_fallocate(struct pgdax_vol *vol, uint64_t ino, int mode,
			uint64_t off, uint64_t len, const struct pgdax_cred *cred)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, fallocate_impl(vol, ino, mode, off, len, cred));
}

static int lseek_impl(struct pgdax_vol *vol, uint64_t ino, uint64_t off, int whence,
		    uint64_t *result)
{
	struct inode *ip;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	rc = extmap_load(vol, ip);
	uint64_t size = inode_size(ip);
	if (!rc && off >= size)
		rc = -ENXIO;
	if (!rc) {
		uint64_t fp = off >> vol->bshift;
		size_t next;
		ssize_t i = extmap_find(&ip->map, fp, &next);
		if (whence == SEEK_DATA) {
			if (i >= 0)
				*result = off;
			else if (next < ip->map.n &&
				 (ip->map.v[next].fpage << vol->bshift) < size)
				*result = ip->map.v[next].fpage << vol->bshift;
			else
				rc = -ENXIO;
		} else {
			uint64_t pos = off;
			while (i >= 0) {
				struct ext *e = &ip->map.v[i];
				pos = (e->fpage + ext_pages(e)) << vol->bshift;
				if (pos >= size)
					break;
				i = extmap_find(&ip->map, pos >> vol->bshift, NULL);
			}
			*result = pos < size ? pos : size;
		}
	}
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_lseek(struct pgdax_vol *vol, uint64_t ino, uint64_t off, int whence,
		    uint64_t *result)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, lseek_impl(vol, ino, off, whence, result));
}

static ssize_t copy_range_impl(struct pgdax_vol *vol, uint64_t ino_in, uint64_t off_in,
			     uint64_t ino_out, uint64_t off_out, size_t len,
			     const struct pgdax_cred *cred)
{
	struct pgdax_vol_file fin = { 0 }, fout = { 0 };
	struct inode *in, *out;
	size_t chunk = 1 << 20;
	char *buf;
	ssize_t total = 0;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	if (off_in >= MAX_FILE_BYTES || len > MAX_FILE_BYTES - off_in ||
	    off_out >= max_data_bytes(vol) || len > max_data_bytes(vol) - off_out)
		return -EFBIG;
	/* copy_file_range(2): overlapping ranges of one file are invalid */
	if (ino_in == ino_out && off_in < off_out + len && off_out < off_in + len)
		return -EINVAL;
	rc = inode_get(vol, ino_in, &in);
	if (rc)
		return rc;
	rc = inode_get(vol, ino_out, &out);
	if (rc) {
		inode_put(vol, in);
		return rc;
	}
	if (!S_ISREG(inode_mode(in)) || !S_ISREG(inode_mode(out))) {
		rc = (S_ISDIR(inode_mode(in)) || S_ISDIR(inode_mode(out))) ? -EISDIR : -EINVAL;
		goto done;
	}
	rc = iflags_check(out, IFL_WRITE, 0);
	if (rc)
		goto done;
	buf = malloc(chunk);
	if (!buf) {
		rc = -ENOMEM;
		goto done;
	}
	fin.ip = in;
	fin.flags = O_RDONLY;
	fout.ip = out;
	fout.flags = O_WRONLY;
	while ((size_t)total < len) {
		struct iovec iov[64];
		struct pgdax_io io = { 0 };
		int niov;
		size_t want = len - (size_t)total < chunk ? len - (size_t)total : chunk;
		ssize_t r = pgdax_vol_read_map(vol, &fin, off_in + (uint64_t)total, want,
					       iov, 64, &niov, &io);
		if (r <= 0) {
			pgdax_vol_io_done(vol, &io);
			if (r < 0)
				rc = (int)r;
			break;
		}
		size_t got = 0;
		for (int k = 0; k < niov && !rc; k++) {
			rc = pgdax_dev_copy_guarded(vol->dev, buf + got, iov[k].iov_base,
						    iov[k].iov_len, false);
			got += iov[k].iov_len;
		}
		pgdax_vol_io_done(vol, &io);
		if (rc)
			break;
		ssize_t w = pgdax_vol_write(vol, &fout, off_out + (uint64_t)total, buf, got, cred);
		if (w < 0) {
			rc = (int)w;
			break;
		}
		total += w;
		if ((size_t)w < got)
			break;
	}
	free(buf);
done:
	inode_put(vol, out);
	inode_put(vol, in);
	if (total == 0 && rc)
		return rc;
	return total;
}

/* Refused once the device is lost, and not acknowledged if it was lost
 * meanwhile: its stores may have landed in the fence (vol_ack). */
ssize_t pgdax_vol_copy_range(struct pgdax_vol *vol, uint64_t ino_in, uint64_t off_in,
			     uint64_t ino_out, uint64_t off_out, size_t len,
			     const struct pgdax_cred *cred)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, copy_range_impl(vol, ino_in, off_in, ino_out, off_out, len, cred));
}

static int fsync_impl(struct pgdax_vol *vol, uint64_t ino, bool datasync)
{
	(void)ino;
	(void)datasync;
	/* every call persisted its changes before returning */
	pgdax_dev_drain(vol->dev);
	return 0;
}

/* Refused once the device is lost, and not acknowledged if it was lost
 * meanwhile: its stores may have landed in the fence (vol_ack). */
int pgdax_vol_fsync(struct pgdax_vol *vol, uint64_t ino, bool datasync)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, fsync_impl(vol, ino, datasync));
}
