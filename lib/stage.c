/* SPDX-License-Identifier: MIT */
/*
 * Write staging: one copy for a large WRITE instead of two.
 *
 * A WRITE through FUSE is copied twice: by the kernel, from the caller's
 * pages into the buffer the daemon reads the request into, and by the
 * daemon, from that buffer into the file's extent. For 1 MiB writes the
 * second copy is a fifth of the request's cost (fio, 2 vCPUs: 207 us per
 * request against 163 us for a FUSE filesystem that does nothing). Splice
 * does not help: the kernel copies an O_DIRECT writer's pages into the
 * pipe anyway ("can't control lifetime of pipe buffers").
 *
 * So the daemon points the payload part of its read(/dev/fuse) at a
 * *stage*: PGDAX_STAGE_BYTES of free device blocks lent by the allocator
 * (fs/loop.c). The kernel's copy then lands in device memory, and a WRITE
 * that covers exactly one stage-sized, stage-aligned, idle range of a file
 * is done by exchanging blocks instead of copying (stage_adopt):
 *
 *   (1) the staged bytes are persisted (they are the file's new data);
 *   (2) one transaction marks the stage's blocks used, replaces the
 *       file's blocks for that range by them (the old extent is split
 *       around the range if it is larger), and marks the old blocks free;
 *   (3) the old blocks become the stage for the next request.
 *
 * A crash before (2) commits leaves the file's old data and the stage free
 * on the medium; after, the new data. Nobody can see a stage's bytes: it
 * is in no file and out of the allocator.
 *
 * Refcount rules (lib/folio.c): only an *idle* range is exchanged: the
 * inode lock is held for writing (no new read, write or pin reference can
 * appear, as in truncate) and the extent's folio refcount must be 0, so no
 * mapping, pin or in-flight read sees its blocks change; otherwise, and for
 * every other WRITE (smaller, unaligned, into a hole or past EOF, O_APPEND,
 * one that clears setuid), the staged bytes are copied into the file as
 * from any buffer. While a client of an earlier daemon may still map
 * device ranges (quarantine armed), freed blocks must be probed before
 * reuse, so nothing is exchanged then either.
 *
 * Costs: the file's extents become stage-sized (1 MiB) where it was
 * overwritten this way (2 MiB extents are split; a pin on a 2 MiB-aligned
 * devdax re-lays out such a unit, lib/pin.c); each receiver holds one
 * stage (reported as used space) while the device has room to spare.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "vol_internal.h"

/* Stages are lent only while this much stays free besides them (so a
 * nearly full device never reports ENOSPC while stages hold space). */
#define STAGE_MIN_FREE_BYTES	(256ULL << 20)

static unsigned stage_order(const struct pgdax_vol *vol)
{
	return vol->bshift <= 20 ? 20 - vol->bshift : 0;
}

static bool stage_room(struct pgdax_vol *vol)
{
	uint64_t free_pages = pgdax_alloc_free_pages(vol->alloc);

	return free_pages << vol->bshift >= STAGE_MIN_FREE_BYTES &&
	       free_pages >= (vol->blocks - vol->data_start) / 8;
}

bool pgdax_vol_stage_keep(struct pgdax_vol *vol)
{
	return !vol->rdonly && vol->bshift <= 20 && stage_room(vol);
}

int pgdax_vol_stage_get(struct pgdax_vol *vol, struct pgdax_vol_stage *st)
{
	unsigned order = stage_order(vol);
	struct pgdax_alloc_hint hint = { .near = vol->data_start, .align_order = order };
	uint64_t blk;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!pgdax_vol_stage_keep(vol))
		return -ENOSPC;
	rc = pgdax_alloc_get(vol->alloc, order, &hint, &blk);
	if (rc)
		return rc;
	st->blk = blk;
	st->addr = blk_addr(vol, blk);
	st->len = PGDAX_STAGE_BYTES;
	atomic_fetch_add(&vol->staged_pages, 1ULL << order);
	return 0;
}

void pgdax_vol_stage_put(struct pgdax_vol *vol, struct pgdax_vol_stage *st)
{
	if (!st->addr)
		return;
	pgdax_alloc_put_range(vol->alloc, st->blk, 1ULL << stage_order(vol));
	atomic_fetch_sub(&vol->staged_pages, 1ULL << stage_order(vol));
	memset(st, 0, sizeof(*st));
}

/* Exchange the file's blocks of [off, off + st->len) for the stage's.
 * true if done (the stage now holds the file's old blocks). */
static bool stage_adopt(struct pgdax_vol *vol, struct pgdax_vol_file *f, uint64_t off,
			struct pgdax_vol_stage *st)
{
	struct inode *ip = f->ip;
	unsigned order = stage_order(vol);
	uint64_t n = 1ULL << order, fp = off >> vol->bshift, old;
	struct ext e;
	ssize_t i;
	struct jtx *tx;
	int rc;

	pthread_rwlock_wrlock(&ip->lock);
	/* after pgdax_vol_kill no extent changes hands without a reference
	 * either: the copy path then fails as every other access does */
	if (pgmap_state(vol->pgmap) != PGMAP_LIVE || extmap_load(vol, ip) ||
	    off + st->len > inode_size(ip))
		goto no;
	i = extmap_find(&ip->map, fp, NULL);
	if (i < 0)
		goto no;
	e = ip->map.v[i];
	if (e.order < order || pgmap_folio_refcount(vol->pgmap, e.dblk) != 0)
		goto no;	/* smaller extents, or in use: copy */
	old = e.dblk + (fp - e.fpage);

	/* (1) the staged bytes are the file's from (2) on */
	pgdax_dev_persist(vol->dev, st->addr, st->len);

	/* (2) */
	tx = jtx_begin(vol);
	rc = blk_mark(tx, st->blk, n, true);
	if (!rc)
		rc = extmap_remove(tx, ip, (size_t)i);
	if (!rc)
		rc = data_keep_pieces(tx, ip, &e, e.fpage, fp);
	if (!rc)
		rc = data_keep_pieces(tx, ip, &e, fp + n, e.fpage + (1ULL << e.order));
	if (!rc)
		rc = extmap_insert(tx, ip, fp, st->blk, order);
	if (!rc)
		rc = blk_mark(tx, old, n, false);
	if (rc) {
		jtx_abort(tx);
		extmap_load(vol, ip);	/* the abort dropped the loaded map */
		goto no;
	}
	if (jtx_commit(tx)) {
		extmap_load(vol, ip);
		goto no;
	}
	inode_touch_mc(vol, ip);
	pthread_rwlock_unlock(&ip->lock);

	/* (3) */
	st->blk = old;
	st->addr = blk_addr(vol, old);
	atomic_fetch_add(&vol->writes_adopted, 1);
	return true;
no:
	pthread_rwlock_unlock(&ip->lock);
	return false;
}

ssize_t pgdax_vol_write_staged(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			       uint64_t off, struct pgdax_vol_stage *st, size_t size,
			       const struct pgdax_cred *cred)
{
	if (size > st->len)
		return -EINVAL;
	if (size == st->len && !(off & (st->len - 1)) && !vol->rdonly &&
	    (f->flags & O_ACCMODE) != O_RDONLY && !(f->flags & O_APPEND) &&
	    S_ISREG(inode_mode(f->ip)) && !data_must_kill_suid(f->ip, cred) &&
	    !atomic_load(&vol->quarantine_armed) && stage_adopt(vol, f, off, st))
		return (ssize_t)size;
	return pgdax_vol_write(vol, f, off, st->addr, size, cred);
}
