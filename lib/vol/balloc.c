/* SPDX-License-Identifier: MIT */
/*
 * The block and inode bitmaps on the medium, and the DRAM allocator built
 * from the block bitmap at mount. The bitmap is the persistent truth; every
 * change to it happens inside a journal transaction (so bitmap words are
 * only written under the journal lock). The DRAM buddy allocator
 * (lib/core/alloc.c) decides which free extent to hand out; blocks freed by a
 * transaction reach it only after the commit (journal.c).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vol_internal.h"

void *blk_addr(struct pgdax_vol *vol, uint64_t blk)
{
	return vol->base + (blk << vol->bshift);
}

uint64_t dev_off(struct pgdax_vol *vol, const void *addr)
{
	return (uint64_t)((const char *)addr - vol->base);
}

/*
 * Read device bytes. On an emulated device go through the file so that
 * scanning mostly-empty bitmaps does not fault in (allocate) file pages;
 * a devdax is read through the mapping.
 */
int dev_read(struct pgdax_vol *vol, struct pgdax_dev *dev, uint64_t off, void *buf,
	     size_t len)
{
	(void)vol;
	return pgdax_dev_read(dev, off, buf, len);
}

/* Keep blocks the device reports bad (libpmem2 badblocks on devdax, ranges
 * recorded by the SIGBUS guard) out of the allocator: checked per GiB, then
 * per block only inside a bad GiB. DRAM only: fsck/mkfs decide what to
 * persist. */
static void reserve_bad(struct pgdax_vol *vol, uint64_t lo, uint64_t hi)
{
	uint64_t step = (1ULL << 30) >> vol->bshift, n = 0;
	for (uint64_t b = lo; b < hi; b += step) {
		uint64_t e = b + step < hi ? b + step : hi;
		if (!pgdax_dev_range_is_bad(vol->dev, b << vol->bshift, (e - b) << vol->bshift))
			continue;
		for (uint64_t k = b; k < e; k++)
			if (pgdax_dev_range_is_bad(vol->dev, k << vol->bshift, vol->bs) &&
			    pgdax_alloc_reserve(vol->alloc, k, 1) == 0)
				n++;
	}
	if (n)
		pgdax_warn("%s: %llu bad blocks kept out of the allocator", vol->devname,
			   (unsigned long long)n);
}

/* The backup superblock inside the data area (format.h) is marked used; a
 * bitmap that says otherwise is damaged, and the block must still never be
 * handed out. DRAM only, like bad blocks: fsck repairs the bit. */
static void reserve_backup(struct pgdax_vol *vol)
{
	if (vol->backup_blk >= vol->data_end)
		return;
	if (pgdax_alloc_reserve(vol->alloc, vol->backup_blk, 1) == 0)
		pgdax_warn("%s: the block bitmap shows the backup superblock (block %llu) "
			   "free; kept out of the allocator (run fsck.pgdaxfs)", vol->devname,
			   (unsigned long long)vol->backup_blk);
}

/* Give the free runs of the block bitmap in [data_start, data_end) to the
 * allocator; count free inodes. Skips all-zero/all-one words fast. */
int bitmap_scan(struct pgdax_vol *vol)
{
	const size_t chunk = 1 << 20;
	uint64_t lo = vol->data_start, hi = vol->data_end;
	uint64_t *buf = malloc(chunk);
	uint64_t run = UINT64_MAX;	/* start of the current free run */
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	uint64_t boff = dev_off(vol, vol->bbitmap);
	for (uint64_t w0 = lo / 64; w0 * 64 < hi && !rc; w0 += chunk / 8) {
		size_t nw = chunk / 8;
		if ((w0 + nw) * 64 > hi)
			nw = (hi + 63) / 64 - w0;
		rc = dev_read(vol, vol->dev, boff + w0 * 8, buf, nw * 8);
		for (size_t i = 0; i < nw && !rc; i++) {
			uint64_t w = le64toh(buf[i]), b0 = (w0 + i) * 64;
			if (w == 0 && b0 >= lo && b0 + 64 <= hi) {
				if (run == UINT64_MAX)
					run = b0;
				continue;
			}
			if (w == ~0ULL && run == UINT64_MAX)
				continue;
			for (unsigned k = 0; k < 64; k++) {
				uint64_t b = b0 + k;
				bool freeb = !((w >> k) & 1) && b >= lo && b < hi;
				if (freeb && run == UINT64_MAX)
					run = b;
				else if (!freeb && run != UINT64_MAX) {
					rc = pgdax_alloc_add_free(vol->alloc, run, b - run);
					run = UINT64_MAX;
				}
			}
		}
	}
	if (!rc && run != UINT64_MAX)
		rc = pgdax_alloc_add_free(vol->alloc, run, hi - run);
	if (!rc) {
		reserve_backup(vol);
		reserve_bad(vol, lo, hi);
	}

	/* free inodes: popcount of the inode bitmap */
	uint64_t used = 0, ioff = dev_off(vol, vol->ibitmap);
	uint64_t nwords = (vol->ninodes + 63) / 64;
	for (uint64_t w0 = 0; w0 < nwords && !rc; w0 += chunk / 8) {
		size_t nw = chunk / 8;
		if (w0 + nw > nwords)
			nw = nwords - w0;
		rc = dev_read(vol, vol->dev, ioff + w0 * 8, buf, nw * 8);
		for (size_t i = 0; i < nw && !rc; i++) {
			uint64_t w = le64toh(buf[i]);
			uint64_t b0 = (w0 + i) * 64;
			if (b0 + 64 > vol->ninodes)
				w &= (1ULL << (vol->ninodes - b0)) - 1;
			used += (uint64_t)__builtin_popcountll(w);
		}
	}
	free(buf);
	if (rc)
		return rc;
	atomic_store(&vol->free_inodes, vol->ninodes - used);
	return 0;
}

/* Set or clear [blk, blk+n) in the block bitmap inside @tx. The bits must
 * all be in the opposite state: anything else means the allocator and the
 * bitmap disagree (corruption), and the transaction fails. */
static int bits_change(struct jtx *tx, pgdax_le64 *map, uint64_t blk, uint64_t n,
		       bool set, const char *what)
{
	uint64_t w0 = blk / 64, w1 = (blk + n - 1) / 64;
	int rc = jtx_add(tx, &map[w0], (w1 - w0 + 1) * 8);
	if (rc)
		return rc;
	for (uint64_t w = w0; w <= w1; w++) {
		uint64_t s = w == w0 ? blk % 64 : 0;
		uint64_t e = w == w1 ? (blk + n - 1) % 64 + 1 : 64;
		uint64_t mask = (e - s == 64) ? ~0ULL : (((1ULL << (e - s)) - 1) << s);
		uint64_t v = le64toh(map[w]);
		if (set ? (v & mask) : ((v & mask) != mask)) {
			pgdax_err("%s bitmap word %llu: bits [%llu, +%llu) already %s",
				  what, (unsigned long long)w, (unsigned long long)blk,
				  (unsigned long long)n, set ? "set" : "clear");
			return vol_corrupt(jtx_vol(tx), 0);
		}
		map[w] = htole64(set ? (v | mask) : (v & ~mask));
	}
	return 0;
}

int blk_mark(struct jtx *tx, uint64_t blk, uint64_t n, bool used)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	if (n == 0 || blk < vol->data_start || blk + n > vol->data_end || blk + n < blk ||
	    (vol->backup_blk >= blk && vol->backup_blk < blk + n))
		abort();	/* caller bug */
	return bits_change(tx, vol->bbitmap, blk, n, used, "block");
}

int blk_alloc(struct jtx *tx, unsigned order, const struct pgdax_alloc_hint *hint,
	      uint64_t *blk)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	uint64_t b;
	int rc = pgdax_alloc_get(vol->alloc, order, hint, &b);
	if (rc)
		return rc;
	rc = jtx_alloced_blocks(tx, b, 1ULL << order);
	if (rc) {
		pgdax_alloc_put_range(vol->alloc, b, 1ULL << order);
		return rc;
	}
	rc = blk_mark(tx, b, 1ULL << order, true);
	if (rc)
		return rc;	/* the abort returns it */
	*blk = b;
	return 0;
}

int blk_free(struct jtx *tx, uint64_t blk, uint64_t n)
{
	int rc = blk_mark(tx, blk, n, false);
	if (rc)
		return rc;
	return jtx_free_blocks(tx, blk, n);
}

bool ino_is_used(struct pgdax_vol *vol, uint64_t ino)
{
	return ino < vol->ninodes && pgdax_bit_test(vol->ibitmap, ino);
}

/* First free inode at/after the rotating hint (journal lock held). */
int ino_alloc(struct jtx *tx, uint64_t *ino)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	uint64_t nwords = (vol->ninodes + 63) / 64;
	uint64_t start = vol->ino_hint / 64;

	if (atomic_load(&vol->free_inodes) == 0)
		return -ENOSPC;
	for (uint64_t i = 0; i <= nwords; i++) {
		uint64_t w = (start + i) % nwords;
		uint64_t v = le64toh(vol->ibitmap[w]);
		if (v == ~0ULL)
			continue;
		for (unsigned k = 0; k < 64; k++) {
			uint64_t b = w * 64 + k;
			if (b >= vol->ninodes)
				break;
			if (b < 2 || ((v >> k) & 1))
				continue;
			int rc = bits_change(tx, vol->ibitmap, b, 1, true, "inode");
			if (rc)
				return rc;
			vol->ino_hint = b + 1 < vol->ninodes ? b + 1 : 2;
			jtx_count(tx, -1, 0);
			*ino = b;
			return 0;
		}
	}
	return -ENOSPC;
}

int ino_free(struct jtx *tx, uint64_t ino)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	int rc = bits_change(tx, vol->ibitmap, ino, 1, false, "inode");
	if (!rc)
		jtx_count(tx, 1, 0);
	return rc;
}
