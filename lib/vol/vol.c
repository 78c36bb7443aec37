/* SPDX-License-Identifier: MIT */
/*
 * Mount / unmount / stats of a volume (lib/vol/vol.h).
 *
 * Mount: open the device with the exclusive lock, validate the superblock
 * (backup if the primary is damaged), roll back an uncommitted journal
 * transaction, rebuild the DRAM allocator from the block bitmap (the only
 * work proportional to the device size: a bitmap scan, all-zero/all-one
 * words skipped fast), create the pgmap, mark the volume dirty, reclaim
 * orphans. Inodes, directories and extent maps are loaded lazily.
 *
 * Unmount: kill -> drain -> free leftover unlinked inodes -> mark clean ->
 * release the pgmap (which unmaps and closes the device).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "quarantine.h"
#include "vol_internal.h"

static void vol_page_free(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order,
			  void *owner, void *arg)
{
	/* Nothing to do: blocks are returned to the allocator only by
	 * truncate/unlink after they waited for the extent to be idle
	 * (pgmap_wait_idle is woken by the folio layer itself, and FREEING,
	 * while this runs, is not idle). */
	struct pgdax_vol *vol = arg;
	void (*hook)(uint64_t, unsigned, void *) = atomic_load(&vol->test_page_free);

	(void)pgmap;
	(void)owner;
	if (hook)
		hook(pgoff, order, vol->test_page_free_arg);
}

/* Invariant 1 (checking mode: lib/core/folio.c asks it of every new
 * reference): the extent is allocated, to a file or an orphan. */
static bool vol_page_owned(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order,
			   void *arg)
{
	struct pgdax_vol *vol = arg;

	(void)pgmap;
	return pgdax_alloc_range_allocated(vol->alloc, pgoff, 1ULL << order);
}

/* Invariant 11 (checking mode: the allocator calls it, under its lock,
 * before pages go back to the free pool on any path: a commit's frees,
 * a relayout's old blocks, an abort, the quarantine): they are idle. */
static void vol_check_freed(void *arg, uint64_t pg, uint64_t n)
{
	struct pgdax_vol *vol = arg;

	pgmap_assert_idle(vol->pgmap, pg, n, 11, "blocks go back to the allocator while "
			  "an extent holding them is referenced");
}

static void vol_device_lost(void *arg, const char *why);
static void tell_dead(struct pgdax_vol *vol, const char *why);

static const struct pgmap_ops vol_pgmap_ops = {
	.page_free = vol_page_free,
	.owned = vol_page_owned,
};

static void vol_free(struct pgdax_vol *vol)
{
	const struct pgdax_vol_holder_ops *hops = vol->holder_ops;
	void *hctx = atomic_load(&vol->holder_ctx);

	pgdax_quarantine_free(vol);
	if (hctx && hops->fini)
		hops->fini(hctx);	/* the holder's state (lib/pin/) */
	icache_evict_all(vol);
	free(vol->hash);
	journal_close(vol);
	pgdax_alloc_delete(&vol->alloc);
	if (vol->zero)
		munmap(vol->zero, vol->zero_len);
	pthread_mutex_destroy(&vol->ns_lock);
	pthread_mutex_destroy(&vol->icache_lock);
	pthread_mutex_destroy(&vol->holder_lock);
	pthread_cond_destroy(&vol->dead_done);
	free(vol);
}

static uint64_t count_orphans(struct pgdax_vol *vol)
{
	uint64_t n = 0;
	for (uint64_t i = le64toh(vol->sb->s_orphan_head); i && i < vol->ninodes &&
	     n <= vol->ninodes; i = le64toh(inode_slot(vol, i)->i_orphan_next))
		n++;
	return n;
}

/*
 * The volume's alignment (s_align) is the one its clients map with: imposed
 * on an emulated device, checked against a devdax's own (lib/dev/dev_align.c).
 * An explicit alignment (the align= mount option of earlier versions, which
 * named the alignment of an emulated device) must agree with it.
 */
static int use_align(struct pgdax_vol *vol, uint64_t want)
{
	uint64_t a = le64toh(vol->geo.s_align);

	if (!a)
		a = 4096;	/* never written so by mkfs; read as the smallest */
	if (want && want != a) {
		pgdax_err("%s: the volume was formatted with alignment %llu; align=%llu does not "
			  "match (the volume records its alignment: drop the option, or reformat "
			  "with mkfs.pgdaxfs --align)", vol->devname, (unsigned long long)a,
			  (unsigned long long)want);
		return -EINVAL;
	}
	return pgdax_dev_use_align(vol->dev, a);
}

int pgdax_vol_mount(const char *device, const struct pgdax_vol_opts *opts,
		    struct pgdax_vol **out)
{
	struct pgdax_vol_opts defopts = { .flags = 0, .break_timeout_ms = 30000 };
	struct pgdax_vol *vol;
	struct pgdax_dev *dev = NULL;
	int rc;

	if (!opts)
		opts = &defopts;
	vol = calloc(1, sizeof(*vol));
	if (!vol)
		return -ENOMEM;
	vol->opts = *opts;
	vol->rdonly = opts->flags & PGDAX_VOL_RDONLY;
	pthread_mutex_init(&vol->ns_lock, NULL);
	pthread_mutex_init(&vol->icache_lock, NULL);
	pthread_mutex_init(&vol->holder_lock, NULL);
	pthread_cond_init(&vol->dead_done, NULL);
	snprintf(vol->devname, sizeof(vol->devname), "%s", device);

	rc = pgdax_dev_open(device, PGDAX_DEV_EXCL | (vol->rdonly ? PGDAX_DEV_RDONLY : 0),
			    0, &dev);
	if (rc)
		goto fail;
	vol->dev = dev;
	vol->base = pgdax_dev_base(dev);
	vol->dev_size = pgdax_dev_size(dev);
	rc = sb_load(dev, vol->rdonly, &vol->geo);
	if (!rc)
		rc = use_align(vol, opts->align_override);
	if (rc)
		goto fail;
	vol->sb = (struct pgdax_sb *)vol->base;
	vol->bs = le32toh(vol->geo.s_block_size);
	vol->bshift = (unsigned)__builtin_ctz(vol->bs);
	vol->blocks = le64toh(vol->geo.s_blocks);
	vol->ninodes = le64toh(vol->geo.s_inodes);
	vol->data_start = le64toh(vol->geo.s_data_start);
	vol->data_end = pgdax_sb_data_end(&vol->geo);
	vol->backup_blk = pgdax_sb_backup_blk(&vol->geo);
	vol->bbitmap = blk_addr(vol, le64toh(vol->geo.s_bbitmap_start));
	vol->ibitmap = blk_addr(vol, le64toh(vol->geo.s_ibitmap_start));
	vol->itable = blk_addr(vol, le64toh(vol->geo.s_itable_start));
	if (le64toh(vol->geo.s_feat_ro_compat) & ~PGDAX_FEAT_RO_COMPAT_SUPP) {
		pgdax_warn("%s: unknown read-only-compatible features 0x%llx: mounting read-only",
			   device, (unsigned long long)le64toh(vol->geo.s_feat_ro_compat));
		vol->rdonly = true;
	}
	/* inline extent maps only where every driver that accepts the volume
	 * reads them: the incompat feature (lib/vol/format.h, minor 3) */
	vol->inline_ext = le64toh(vol->geo.s_feat_incompat) & PGDAX_FEAT_INCOMPAT_INLINE_EXT;
	/* the same for xattrs beyond one block (minor 4) */
	vol->xattr_multi = le64toh(vol->geo.s_feat_incompat) & PGDAX_FEAT_INCOMPAT_XATTR_MULTI;
	if (le16toh(vol->geo.s_minor) > PGDAX_FMT_MINOR)
		pgdax_notice("%s: format %u.%u is newer than this build (%u.%u)", device,
			     le16toh(vol->geo.s_major), le16toh(vol->geo.s_minor),
			     PGDAX_FMT_MAJOR, PGDAX_FMT_MINOR);
	if (le16toh(vol->geo.s_minor) >= 2 && vol->sb->s_errors) {
		/* a volume known to be damaged: not written before fsck */
		uint64_t e = le64toh(vol->sb->s_errors);
		const char *why = (e & PGDAX_ERR_FSCK) && (e & PGDAX_ERR_RUNTIME) ?
			"fsck left problems and corruption was met while mounted" :
			(e & PGDAX_ERR_FSCK) ? "fsck left problems unrepaired" :
			"corruption was met while mounted";

		if (!vol->rdonly) {
			pgdax_err("%s: the volume records errors (%s; %llu errors, last in inode "
				  "%llu): run fsck.pgdaxfs -y %s first, or mount it read-only "
				  "(-o ro)", device, why,
				  (unsigned long long)le64toh(vol->sb->s_error_count),
				  (unsigned long long)le64toh(vol->sb->s_last_error_ino), device);
			rc = -EUCLEAN;
			goto fail;
		}
		pgdax_warn("%s: the volume records errors (%s): mounted read-only; run "
			   "fsck.pgdaxfs -y %s", device, why, device);
	}
	uint64_t state = le64toh(vol->sb->s_state);
	if (state != PGDAX_STATE_CLEAN)
		pgdax_notice("%s: not cleanly unmounted; recovering", device);

	rc = journal_open(vol);
	if (rc)
		goto fail;
	vol->hash_size = 1024;
	vol->hash = calloc(vol->hash_size, sizeof(*vol->hash));
	vol->zero_len = 1 << 20;
	vol->zero = mmap(NULL, vol->zero_len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!vol->hash || vol->zero == MAP_FAILED) {
		vol->zero = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	rc = pgdax_alloc_new(vol->blocks, &vol->alloc);
	if (rc)
		goto fail;
	/* whole alignment units stay whole for DAX mappings while they can */
	pgdax_alloc_set_unit_order(vol->alloc, (unsigned)__builtin_ctzll(
		pgdax_dev_info(dev)->align > vol->bs ? pgdax_dev_info(dev)->align / vol->bs : 1));
	rc = bitmap_scan(vol);
	if (rc)
		goto fail;
	rc = pgmap_new(dev, vol->bshift, vol->blocks, &vol_pgmap_ops, vol, &vol->pgmap);
	if (rc)
		goto fail;
	dev = NULL;	/* owned by the pgmap now */
	if (pgmap_checking(vol->pgmap))
		pgdax_alloc_set_free_check(vol->alloc, vol_check_freed, vol);
	rc = pgdax_dev_watch(vol->dev, vol_device_lost, vol);
	if (rc)
		pgdax_warn("%s: device removal is noticed only when an access faults (%d)",
			   device, rc);

	rc = inode_get(vol, PGDAX_ROOT_INO, &vol->root);
	if (!rc && !S_ISDIR(inode_mode(vol->root))) {
		pgdax_err("%s: root inode is not a directory", device);
		rc = -EUCLEAN;
	}
	if (rc)
		goto fail_pgmap;
	if (!vol->rdonly) {
		sb_set_state(vol, PGDAX_STATE_DIRTY);
		atomic_store(&vol->orphans, count_orphans(vol));
		rc = orphans_reclaim_all(vol);
		if (rc)
			pgdax_warn("%s: orphan reclaim stopped (%d); space may be lost until "
				   "fsck.pgdaxfs runs", device, rc);
		atomic_store(&vol->orphans, count_orphans(vol));
		/* [pin hook] after orphan reclaim, before serving: device ranges
		 * still mapped by clients of an earlier daemon stay unallocated */
		pgdax_quarantine_start(vol);
	}
	pgdax_info("%s: mounted (%llu blocks of %u bytes, %llu inodes)", device,
		   (unsigned long long)vol->blocks, vol->bs, (unsigned long long)vol->ninodes);
	*out = vol;
	return 0;

fail_pgmap:
	if (vol->root) {
		vol->root = NULL;
	}
	pgmap_kill(vol->pgmap);
	pgmap_drain(vol->pgmap, -1);
	pgdax_alloc_set_free_check(vol->alloc, NULL, NULL);
	pgmap_release(&vol->pgmap);
	vol->dev = NULL;
fail:
	pgdax_dev_close(&dev);
	vol_free(vol);
	return rc;
}

/*
 * The device went away (called once, on the device's watcher thread; see
 * lib/dev/dev_watch.c). From now on the volume is dead: the device layer
 * has already fenced the mapping, so nothing more reaches the device; every
 * public call answers -EIO (VOL_LIVE_OR_EIO, vol_ack, jtx_commit). Here:
 * no new reference of any kind (pgmap kill, as at unmount), and the holder
 * revokes the pins (their clients' mappings are gone with the device; the
 * references are dropped on their behalf so that unmount's drain does not
 * wait for clients that cannot give anything back) and tells them (POLLPRI).
 * Waiters for those pins wake up and meet -EIO.
 */
static void vol_device_lost(void *arg, const char *why)
{
	struct pgdax_vol *vol = arg;
	const struct pgdax_vol_holder_ops *hops = vol->holder_ops;
	void *hctx = atomic_load(&vol->holder_ctx);

	pgdax_err("%s: the volume is dead (%s): every request fails with EIO and "
		  "nothing more is written to the device; unmount it. Operations "
		  "acknowledged before this are on the device: when it is back, the "
		  "next mount recovers them as after a crash", vol->devname, why);
	pgmap_kill(vol->pgmap);
	atomic_store(&vol->dead_reported, true);
	if (hctx && hops->device_lost)
		hops->device_lost(hctx, why);
	tell_dead(vol, why);
}

/* Run the dead callback once, if one is set (holder_lock orders it with
 * pgdax_vol_on_dead: whichever comes second runs it). */
static void tell_dead(struct pgdax_vol *vol, const char *why)
{
	void (*cb)(void *, const char *) = NULL;
	void *arg = NULL;

	pthread_mutex_lock(&vol->holder_lock);
	if (vol->dead_cb && !vol->dead_told) {
		vol->dead_told = true;
		vol->dead_running = true;
		cb = vol->dead_cb;
		arg = vol->dead_arg;
	}
	pthread_mutex_unlock(&vol->holder_lock);
	if (!cb)
		return;
	cb(arg, why);
	pthread_mutex_lock(&vol->holder_lock);
	vol->dead_running = false;
	pthread_cond_broadcast(&vol->dead_done);
	pthread_mutex_unlock(&vol->holder_lock);
}

void pgdax_vol_on_dead(struct pgdax_vol *vol, void (*cb)(void *arg, const char *why),
		       void *arg)
{
	char why[512];

	pthread_mutex_lock(&vol->holder_lock);
	/* unset: the caller is about to free what the callback uses */
	while (!cb && vol->dead_running)
		pthread_cond_wait(&vol->dead_done, &vol->holder_lock);
	vol->dead_cb = cb;
	vol->dead_arg = arg;
	pthread_mutex_unlock(&vol->holder_lock);
	if (cb && atomic_load(&vol->dead_reported)) {	/* died before: tell now */
		pgdax_vol_dead_reason(vol, why, sizeof(why));
		tell_dead(vol, why);
	}
}

bool pgdax_vol_is_dead(struct pgdax_vol *vol)
{
	return vol_dead(vol);
}

void pgdax_vol_dead_reason(struct pgdax_vol *vol, char *buf, size_t len)
{
	pgdax_dev_lost_reason(vol->dev, buf, len);
}

void pgdax_vol_kill(struct pgdax_vol *vol)
{
	if (!vol)
		return;
	vol->killed = true;
	pgmap_kill(vol->pgmap);
}

int pgdax_vol_drain(struct pgdax_vol *vol, int timeout_ms)
{
	return pgmap_drain(vol->pgmap, timeout_ms);
}

struct pgdax_pgmap *pgdax_vol_pgmap(struct pgdax_vol *vol)
{
	return vol->pgmap;
}

/* Unlinked inodes still cached (their last reference never came back,
 * e.g. the kernel connection went away) are freed before marking clean. */
static void reclaim_cached_orphans(struct pgdax_vol *vol)
{
	for (size_t i = 0; i < vol->hash_size; i++) {
		for (struct inode *ip = vol->hash[i]; ip; ip = ip->hnext) {
			if (inode_nlink(ip) == 0 && !ip->reclaiming) {
				ip->reclaiming = true;
				int rc = inode_reclaim(vol, ip->ino);
				if (rc)
					pgdax_warn("%s: orphan inode %llu not freed (%d)",
						   vol->devname, (unsigned long long)ip->ino, rc);
			}
		}
	}
}

int pgdax_vol_unmount(struct pgdax_vol **volp)
{
	struct pgdax_vol *vol = volp ? *volp : NULL;
	bool dead;
	int rc;

	if (!vol)
		return 0;
	pgdax_vol_kill(vol);
	rc = pgmap_drain(vol->pgmap, -1);
	if (rc)
		return rc;
	dead = vol_dead(vol);
	if (dead)
		pgdax_err("%s: released after the device went away: left as the device "
			  "has it (not marked clean); mount it again when it is back",
			  vol->devname);
	else if (!vol->rdonly) {
		/* the pgmap is drained: waits for idle extents return at once */
		reclaim_cached_orphans(vol);
		/* what is left: pending trims (a failed truncate), orphans
		 * whose reclaim failed; a failure leaves them for the mount */
		if (le64toh(vol->sb->s_orphan_head) != 0 && orphans_reclaim_all(vol))
			pgdax_warn("%s: could not finish every pending truncate or orphan",
				   vol->devname);
		if (le64toh(vol->sb->s_orphan_head) == 0)
			sb_set_state(vol, PGDAX_STATE_CLEAN);
		else
			pgdax_notice("%s: orphans remain; left dirty for the next mount",
				     vol->devname);
	}
	icache_evict_all(vol);
	pgdax_quarantine_stop(vol);	/* its thread uses the device: stop it first */
	pgdax_alloc_set_free_check(vol->alloc, NULL, NULL);	/* it reads the pgmap */
	rc = pgmap_release(&vol->pgmap);
	if (rc) {
		pgdax_err("%s: could not release the device (%d)", vol->devname, rc);
		return rc;
	}
	vol->dev = NULL;
	vol_free(vol);
	*volp = NULL;
	return dead ? -ENODEV : 0;
}

void pgdax_vol_get_stats(struct pgdax_vol *vol, struct pgdax_vol_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->blocks = vol_data_blocks(vol);	/* accounting: lib/vol/vol.h */
	s->free_blocks = pgdax_alloc_free_pages(vol->alloc);
	s->block_size = vol->bs;
	s->inodes = vol_inode_slots(vol);
	s->free_inodes = atomic_load(&vol->free_inodes);
	s->active_extents = pgmap_active_folios(vol->pgmap);
	s->inflight_io = (uint64_t)atomic_load(&vol->inflight_io);
	s->orphans = atomic_load(&vol->orphans);
	s->pgmap_state = (int)pgmap_state(vol->pgmap);
	s->live_count = pgmap_live_count(vol->pgmap);
	s->quarantined_pages = pgdax_quarantine_pages(vol);
	s->stalled_reclaims = atomic_load(&vol->stalled_reclaims);
}

/* ---- the holder (lib/pin/): registration and the calls to it ---- */

int pgdax_vol_set_holder(struct pgdax_vol *vol, const struct pgdax_vol_holder_ops *ops,
			 void *ctx)
{
	int rc = 0;

	if (!vol || !ops || !ctx)
		return -EINVAL;
	pthread_mutex_lock(&vol->holder_lock);
	if (atomic_load(&vol->holder_ctx)) {
		rc = -EBUSY;
	} else {
		vol->holder_ops = ops;
		atomic_store(&vol->holder_ctx, ctx);	/* publishes holder_ops */
	}
	pthread_mutex_unlock(&vol->holder_lock);
	return rc;
}

void *pgdax_vol_holder(struct pgdax_vol *vol)
{
	return atomic_load(&vol->holder_ctx);
}

int holder_break_layout(struct pgdax_vol *vol, uint64_t ino, uint64_t first, uint64_t n)
{
	void *ctx = atomic_load(&vol->holder_ctx);

	if (ctx && vol->holder_ops->break_layout)
		return vol->holder_ops->break_layout(ctx, ino, first, n);
	return 0;
}

void holder_break_done(struct pgdax_vol *vol, uint64_t ino, uint64_t first, uint64_t n)
{
	void *ctx = atomic_load(&vol->holder_ctx);

	if (ctx && vol->holder_ops->break_done)
		vol->holder_ops->break_done(ctx, ino, first, n);
}

void holder_release_file(struct pgdax_vol *vol, struct pgdax_vol_file *f)
{
	void *ctx = atomic_load(&vol->holder_ctx);

	if (ctx && vol->holder_ops->release_file)
		vol->holder_ops->release_file(ctx, f);
}

/* ---- what the layer above may read ---- */

struct pgdax_dev *pgdax_vol_dev(struct pgdax_vol *vol)
{
	return vol->dev;
}

uint32_t pgdax_vol_block_size(const struct pgdax_vol *vol)
{
	return vol->bs;
}

uint64_t pgdax_vol_blocks(const struct pgdax_vol *vol)
{
	return vol->blocks;
}

bool pgdax_vol_is_rdonly(const struct pgdax_vol *vol)
{
	return vol->rdonly;
}
