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
 *     one, free the old blocks (they reach the allocator after commit) and
 *     account i_blocks. This runs under the inode lock held for writing, so
 *     no read/write can look the old extents up meanwhile, and only when
 *     every old extent is idle (an in-flight I/O reference is waited for,
 *     briefly; a busy extent after that gives -EBUSY and changes nothing).
 * Cost: a small file pinned on a 2 MiB-aligned device takes 2 MiB of device
 * space from then on (its data stays in the aligned extent after unpin).
 * Relayout needs a writable volume (-EROFS otherwise).
 */
#include "config.h"

#include <errno.h>
#include <sys/stat.h>

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
 * Give unit [fp, fp + A) one aligned extent of order ao, carrying over the
 * data of the small extents in it (indices [lo, hi) of the map).
 */
static int relayout_unit(struct layout *c, uint64_t fp, size_t lo, size_t hi)
{
	struct pgdax_vol *vol = c->vol;
	struct inode *ip = c->ip;
	struct pgdax_alloc_hint hint = { .near = 0, .align_order = c->ao };
	uint64_t nb, old_blocks = 0, bs = vol->bs, cursor = fp;
	char *dst;
	struct jtx *tx;
	int r;

	if (vol->rdonly)
		return -EROFS;
	for (size_t i = lo; i < hi; i++) {
		r = wait_idle(vol, ip->map.v[i].dblk);
		if (r)
			return r;
	}
	tx = jtx_begin(vol);
	r = blk_alloc(tx, c->ao, &hint, &nb);
	if (r)
		goto abort;
	if (nb & (c->A - 1)) {
		r = -ENOSPC;	/* no aligned extent left */
		goto abort;
	}
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
		if (!r)
			r = blk_free(tx, x.dblk, 1ull << x.order);
		if (r)
			goto abort;
	}
	/* extmap_insert/remove account i_blocks and note the DRAM map */
	r = extmap_insert(tx, ip, fp, nb, c->ao);
	if (r)
		goto abort;
	pgdax_dbg("inode %llu: unit at page %llu relaid out: %llu block(s) -> aligned "
		  "extent at block %llu", (unsigned long long)ip->ino,
		  (unsigned long long)fp, (unsigned long long)old_blocks,
		  (unsigned long long)nb);
	return jtx_commit(tx);
abort:
	jtx_abort(tx);
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

int pgdax_vol_dax_layout(struct pgdax_vol *vol, struct pgdax_vol_file *f, uint64_t off,
			 uint64_t end_aligned, uint64_t end, uint64_t align, bool write,
			 const struct pgdax_vol_dax_ops *ops, void *ctx)
{
	struct layout c = { .vol = vol, .ip = f->ip, .write = write };
	int r;

	if (align < vol->bs || (align & (align - 1)) || (off | end_aligned) & (align - 1) ||
	    off >= end_aligned)
		return -EINVAL;
	c.A = align / vol->bs;
	c.ao = (unsigned)__builtin_ctzll(c.A);

	pthread_rwlock_wrlock(&c.ip->lock);
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
	if (write && end > inode_size(c.ip)) {
		/* like a write fault past EOF: the file grows to cover the range */
		inode_set_size(vol, c.ip, end);
		inode_touch_mc(vol, c.ip);
	}
	r = ops->commit ? ops->commit(ctx) : 0;
unlock:
	pthread_rwlock_unlock(&c.ip->lock);
	return r;
}
