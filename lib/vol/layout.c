/* SPDX-License-Identifier: MIT */
/*
 * DAX layout: the extents of a file range that a client may map
 * (pgdax_vol_dax_layout in lib/vol/vol.h; the holder is lib/pin/).
 *
 * Alignment and ownership (the decision). Clients map device ranges
 * directly, so every range handed out must (a) start and end on the device
 * alignment (devdax refuses anything else; the emulated device is held to
 * the same rule) and (b) contain bytes of this file only. The on-media
 * format already aligns every extent to its own size (x_fpage and dblk are
 * multiples of 2^order), so a file range of one alignment unit (A =
 * align / block size pages, order ao) is client-safe exactly when one
 * extent of order >= ao covers it. For every unit of the range:
 *   - covered by one such extent: hand that extent out as it is;
 *   - a hole, read-only request: reported as a hole (the client maps
 *     zeros), nothing is allocated;
 *   - otherwise (small extents, or a hole in a writable request):
 *     *relayout* the unit: allocate one extent of order ao (aligned), copy
 *     the unit's data into it and zero the rest, persist it, then in ONE
 *     journal transaction remove the old extent records, insert the new
 *     one, free the old blocks and account i_blocks. This runs under the
 *     inode lock held for writing, so no read/write can look the old
 *     extents up meanwhile, and only when every old extent is idle (an
 *     in-flight I/O reference is waited for, briefly; a busy extent after
 *     that gives -EBUSY and changes nothing). The relayout then holds folio
 *     references of its own on the old extents and the new one, so a
 *     kill/drain waits for it; a pgmap killed first makes it fail with
 *     -ENXIO, changing nothing (relayout_unit says exactly when the old
 *     blocks reach the allocator: after commit and after the references).
 * Cost: a small file pinned on a 2 MiB-aligned device takes 2 MiB of device
 * space from then on (its data stays in the aligned extent after unpin).
 * At 1 GiB alignment the same rule makes every pinned small file take a
 * whole 1 GiB unit (zero-filled when it is laid out) until it is deleted or
 * truncated: a 3 GiB volume holds two such files (its first unit carries
 * the metadata), and a pin fails with -ENOSPC once no whole unit is free.
 * Small allocations fill units already broken first (lib/core/alloc.c,
 * unit order), so small files alone do not take the units pins need.
 * Relayout needs a writable volume (-EROFS otherwise).
 *
 * A file with a pending trim (PGDAX_IFL_TRIM, lib/vol/data.c) gets it
 * finished before anything is handed out: an extent crossing EOF, or one
 * past it, may still hold blocks the truncate has not freed (on a
 * read-only volume that cannot be done: -EROFS).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "quarantine.h"
#include "vol_internal.h"

struct layout {
	struct pgdax_vol *vol;
	struct inode *ip;
	unsigned ao;			/* alignment order in blocks */
	uint64_t A;			/* pages per alignment unit */
	bool write;
};

/*
 * Wait (briefly) for an extent to go idle: an in-flight I/O reference, or
 * the put that ends one still running page_free (FREEING: busy, whose
 * blocks must not reach the allocator yet, invariant 11; so "idle" is
 * asked of the core, never read off the count). Only extents smaller than
 * the alignment are relaid out, and no pin holds those (pins take aligned
 * extents only), so what is waited for here ends without any other
 * request being served: no new reference can start while the inode lock
 * is held for writing, and the in-flight ones end with their copy. That
 * is why this may wait holding the lock, and is bounded (2 s, then EBUSY).
 */
static int wait_idle(struct pgdax_vol *vol, uint64_t dblk)
{
	if (pgmap_folio_idle(vol->pgmap, dblk))
		return 0;
	(void)pgmap_wait_idle(vol->pgmap, dblk, 2000, NULL, NULL);
	return pgmap_folio_idle(vol->pgmap, dblk) ? 0 : -EBUSY;
}

/*
 * Hold old extent @x for the relayout: idle first (an in-flight I/O
 * reference is waited for), then requested through lib/core (0 -> 1), so a
 * kill/drain from now on waits for this relayout, and a pgmap already
 * dying refuses it (-ENXIO). The inode lock held for writing keeps new
 * references out, so -EBUSY (someone in between) is retried only briefly.
 */
static int hold_old(struct pgdax_vol *vol, struct inode *ip, const struct ext *x,
		    struct pgdax_folio **out)
{
	int r = -EBUSY;

	for (int tries = 0; tries < 3 && r == -EBUSY; tries++) {
		r = wait_idle(vol, x->dblk);
		if (!r)
			r = pgmap_request_folio(vol->pgmap, x->dblk, x->order, ip, out);
	}
	return r;
}

/*
 * Give unit [fp, fp + A) one aligned extent of order ao, carrying over the
 * data of the small extents in it (indices [lo, hi) of the map).
 *
 * References: every old extent is held (hold_old) from before the copy
 * until the transaction that frees it has committed; the new extent is
 * held for the zero-fill and the copy. So a kill/drain (unmount) cannot
 * release the device under the copy or the commit, and a pgmap killed
 * before the extents are held, or before the commit, fails the relayout
 * with -ENXIO having changed nothing. The old blocks are marked free on
 * the medium in the transaction but reach the allocator only after our
 * references are dropped (rule 11: blocks reach the allocator only when
 * idle), through the same path a commit uses (quarantine-checked).
 */
static int relayout_unit(struct layout *c, uint64_t fp, size_t lo, size_t hi)
{
	struct pgdax_vol *vol = c->vol;
	struct inode *ip = c->ip;
	struct pgdax_alloc_hint hint = { .near = 0, .align_order = c->ao };
	uint64_t nb, old_blocks = 0, bs = vol->bs, cursor = fp;
	struct pgdax_folio **old = NULL, *nf = NULL;
	size_t nold = hi - lo, held = 0;
	struct jtx *tx;
	char *dst;
	int r;

	if (vol->rdonly)
		return -EROFS;
	if (nold && !(old = calloc(nold, sizeof(*old))))
		return -ENOMEM;
	for (; held < nold; held++) {
		r = hold_old(vol, ip, &ip->map.v[lo + held], &old[held]);
		if (r)
			goto out;
	}
	tx = jtx_begin(vol);
	r = blk_alloc(tx, c->ao, &hint, &nb);
	if (r)
		goto abort;
	if (nb & (c->A - 1)) {
		r = -ENOSPC;	/* no aligned extent left */
		goto abort;
	}
	r = pgmap_request_folio(vol->pgmap, nb, c->ao, ip, &nf);
	if (r)
		goto abort;
	dst = blk_addr(vol, nb);
	/* data first (persisted), then the metadata that exposes it */
	for (size_t i = lo; i < hi; i++) {
		const struct ext *x = &ip->map.v[i];
		uint64_t n = 1ull << x->order;

		if (x->fpage > cursor)
			pgdax_dev_memset_persist(vol->dev, dst + (cursor - fp) * bs, 0,
						 (size_t)((x->fpage - cursor) * bs));
		r = pgdax_dev_copy_guarded(vol->dev, dst + (x->fpage - fp) * bs,
					   blk_addr(vol, x->dblk), (size_t)(n * bs), true);
		if (r)
			goto abort;
		cursor = x->fpage + n;
		old_blocks += n;
	}
	if (cursor < fp + c->A)
		pgdax_dev_memset_persist(vol->dev, dst + (cursor - fp) * bs, 0,
					 (size_t)((fp + c->A - cursor) * bs));
	for (size_t i = hi; i > lo; i--) {
		const struct ext x = ip->map.v[i - 1];

		r = extmap_remove(tx, ip, i - 1);
		if (!r)	/* free on the medium; to the allocator below */
			r = blk_mark(tx, x.dblk, 1ull << x.order, false);
		if (r)
			goto abort;
	}
	/* extmap_insert/remove account i_blocks and note the DRAM map */
	r = extmap_insert(tx, ip, fp, nb, c->ao);
	if (r)
		goto abort;
	if (pgmap_state(vol->pgmap) != PGMAP_LIVE) {
		r = -ENXIO;	/* killed meanwhile: nothing becomes durable */
		goto abort;
	}
	r = jtx_commit(tx);
	if (r)
		goto out;	/* it aborted: the map and blocks are as before */
	pgdax_dbg("inode %llu: unit at page %llu relaid out: %llu block(s) -> aligned "
		  "extent at block %llu", (unsigned long long)ip->ino,
		  (unsigned long long)fp, (unsigned long long)old_blocks,
		  (unsigned long long)nb);
	folio_put(nf);
	for (size_t i = 0; i < nold; i++) {
		uint64_t pg = folio_pgoff(old[i]), n = 1ull << folio_order(old[i]);

		folio_put(old[i]);
		pgdax_quarantine_put_freed(vol, pg, n);
	}
	free(old);
	return 0;
abort:
	/* the abort gives the new blocks back: not while we reference them */
	if (nf)
		folio_put(nf);
	jtx_abort(tx);
out:
	while (held)
		folio_put(old[--held]);
	free(old);
	return r;
}

/* Hand unit [fp, fp + A) to the holder, relaying it out first when needed. */
static int layout_unit(struct layout *c, uint64_t fp, const struct pgdax_vol_dax_ops *ops,
		       void *ctx)
{
	struct pgdax_vol *vol = c->vol;
	struct extmap *m = &c->ip->map;
	uint64_t bs = vol->bs;
	struct pgdax_vol_dax_ext e = { .file_off = fp * bs, .len = c->A * bs };
	size_t next, lo, hi;
	ssize_t idx;
	int r;

	for (int pass = 0; pass < 2; pass++) {
		idx = extmap_find(m, fp, &next);
		if (idx >= 0 && m->v[idx].order >= c->ao) {
			const struct ext *x = &m->v[idx];

			r = pgmap_get_folio(vol->pgmap, x->dblk, x->order, c->ip, &e.folio);
			if (r)
				return r;
			e.dev_off = (x->dblk + (fp - x->fpage)) * bs;
			return ops->unit(ctx, &e);
		}
		lo = idx >= 0 ? (size_t)idx : next;
		hi = lo;
		while (hi < m->n && m->v[hi].fpage < fp + c->A)
			hi++;
		if (lo == hi && !c->write) {
			e.hole = true;
			return ops->unit(ctx, &e);
		}
		if (pass)
			break;
		r = relayout_unit(c, fp, lo, hi);
		if (r)
			return r;
	}
	return -EIO;	/* relayout did not produce an aligned extent: a bug */
}

static int dax_layout_impl(struct pgdax_vol *vol, struct pgdax_vol_file *f, uint64_t off,
			 uint64_t end_aligned, uint64_t end, uint64_t align, unsigned flags,
			 const struct pgdax_vol_dax_ops *ops, void *ctx)
{
	bool write = flags & PGDAX_VOL_DAX_WRITE, extend = flags & PGDAX_VOL_DAX_EXTEND;
	struct layout c = { .vol = vol, .ip = f->ip, .write = write };
	int r;

	if (align < vol->bs || (align & (align - 1)) || (off | end_aligned) & (align - 1) ||
	    off >= end_aligned || (flags & ~(PGDAX_VOL_DAX_WRITE | PGDAX_VOL_DAX_EXTEND)) ||
	    (extend && !write))
		return -EINVAL;
	c.A = align / vol->bs;
	c.ao = (unsigned)__builtin_ctzll(c.A);

	pthread_rwlock_wrlock(&c.ip->lock);
	/* A pending trim first (its own layout break comes before the
	 * holder's begin): units past EOF, or an extent crossing it, may
	 * still hold blocks a truncate has not freed yet. */
	r = data_finish_trim(vol, c.ip, NULL, false);
	if (r)
		goto unlock;
	/* Growing is asked for, never implied (pgdax_map without
	 * PGDAX_MAP_EXTEND is mmap-like): a writable range may reach to the
	 * end of the block holding EOF, which changes no size. Checked under
	 * the lock every size change takes, before any allocation. */
	if (write && !extend &&
	    end > ((inode_size(c.ip) + vol->bs - 1) & ~(uint64_t)(vol->bs - 1))) {
		r = -ENXIO;
		goto unlock;
	}
	r = ops->begin ? ops->begin(ctx) : 0;
	if (r)
		goto unlock;
	if (!c.ip->map.loaded) {
		r = extmap_load(vol, c.ip);
		if (r)
			goto unlock;
	}
	for (uint64_t fp = off / vol->bs; fp < end_aligned / vol->bs; fp += c.A) {
		r = layout_unit(&c, fp, ops, ctx);
		if (r)
			goto unlock;
	}
	if (extend && end > inode_size(c.ip)) {
		/* PGDAX_MAP_EXTEND: the file grows to cover the range (what an
		 * earlier pin stored past EOF is not file data: zeroed first) */
		r = data_zero_past_eof(vol, c.ip, end);
		if (r)
			goto unlock;
		inode_set_size(vol, c.ip, end);
		inode_touch_mc(vol, c.ip);
	}
	if (write && end_aligned > inode_size(c.ip))
		c.ip->dax_past_eof = true;	/* the client may store past EOF */
	r = ops->commit ? ops->commit(ctx) : 0;
unlock:
	pthread_rwlock_unlock(&c.ip->lock);
	return r;
}

/* Refused once the device is lost, and not acknowledged if it was lost
 * meanwhile: its stores may have landed in the fence (vol_ack). */
int pgdax_vol_dax_layout(struct pgdax_vol *vol, struct pgdax_vol_file *f, uint64_t off,
			 uint64_t end_aligned, uint64_t end, uint64_t align, unsigned flags,
			 const struct pgdax_vol_dax_ops *ops, void *ctx)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, dax_layout_impl(vol, f, off, end_aligned, end, align, flags, ops,
					    ctx));
}
