/* SPDX-License-Identifier: MIT */
/*
 * Directories: variable-length records in the directory's blocks
 * (lib/vol/format.h), and a DRAM hash index (name hash -> record position)
 * built on first use and kept up to date, so lookup is O(1) whatever the
 * size of the directory. The index also keeps, per block, the largest free
 * record, so an insertion finds room without reading the blocks.
 *
 * Positions are byte offsets in the directory's data; a record never moves
 * while it is live, which is what makes readdir cookies (2 + position)
 * stable: deleting merges only free records, inserting only splits a free
 * one. Needs dp->lock (writers: for writing, and ns_lock).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vol_internal.h"

#define SLOT_EMPTY	UINT64_MAX
#define SLOT_DEL	(UINT64_MAX - 1)
#define REC_MAX		32768u	/* a record never exceeds this (d_rec_len is 16 bits) */

struct dent {
	uint64_t pos;
	uint32_t hash;
};

struct dirindex {
	struct dent *tab;	/* open addressing, linear probing */
	size_t cap, count, used;	/* used = live + deleted slots */
	uint16_t *blkfree;	/* largest free record per block */
	uint64_t nblocks;
	uint64_t hint;		/* block to try first for insertions */
};

void dix_free(struct dirindex **dix)
{
	if (!*dix)
		return;
	free((*dix)->tab);
	free((*dix)->blkfree);
	free(*dix);
	*dix = NULL;
}

int check_name(const char *name, size_t *len)
{
	size_t n = strnlen(name, PGDAX_NAME_MAX + 1);
	if (n == 0)
		return -ENOENT;
	if (n > PGDAX_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
}

static struct pgdax_dirent *rec_at(struct pgdax_vol *vol, struct inode *dp, uint64_t pos)
{
	char *b = extmap_addr(vol, dp, pos >> vol->bshift);
	return b ? (struct pgdax_dirent *)(b + (pos & (vol->bs - 1))) : NULL;
}

static int tab_resize(struct dirindex *x, size_t ncap)
{
	struct dent *nt = malloc(ncap * sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < ncap; i++)
		nt[i].pos = SLOT_EMPTY;
	for (size_t i = 0; i < x->cap; i++) {
		if (x->tab[i].pos >= SLOT_DEL)
			continue;
		size_t j = x->tab[i].hash & (ncap - 1);
		while (nt[j].pos != SLOT_EMPTY)
			j = (j + 1) & (ncap - 1);
		nt[j] = x->tab[i];
	}
	free(x->tab);
	x->tab = nt;
	x->cap = ncap;
	x->used = x->count;
	return 0;
}

static int tab_insert(struct dirindex *x, uint32_t hash, uint64_t pos)
{
	if ((x->used + 1) * 4 >= x->cap * 3) {
		size_t nc = x->cap ? x->cap : 64;
		while ((x->count + 1) * 2 >= nc)
			nc *= 2;
		int rc = tab_resize(x, nc);	/* same size just drops deleted slots */
		if (rc)
			return rc;
	}
	size_t j = hash & (x->cap - 1);
	while (x->tab[j].pos < SLOT_DEL)
		j = (j + 1) & (x->cap - 1);
	if (x->tab[j].pos == SLOT_EMPTY)
		x->used++;
	x->tab[j] = (struct dent){ .pos = pos, .hash = hash };
	x->count++;
	return 0;
}

static void tab_delete(struct dirindex *x, uint32_t hash, uint64_t pos)
{
	size_t j = hash & (x->cap - 1);
	for (size_t n = 0; n < x->cap && x->tab[j].pos != SLOT_EMPTY; n++) {
		if (x->tab[j].pos == pos) {
			x->tab[j].pos = SLOT_DEL;
			x->count--;
			return;
		}
		j = (j + 1) & (x->cap - 1);
	}
}

/* Largest free record of a block (after validation). */
static uint16_t block_free(const char *b, uint32_t bs)
{
	uint32_t best = 0;
	for (uint32_t p = 0; p < bs;) {
		const struct pgdax_dirent *d = (const void *)(b + p);
		uint32_t rl = le16toh(d->d_rec_len);
		if (rl == 0)
			break;
		if (d->d_ino == 0 && rl > best)
			best = rl;
		p += rl;
	}
	return (uint16_t)(best > 65535 ? 65535 : best);
}

static int dir_load(struct pgdax_vol *vol, struct inode *dp)
{
	char why[160];
	int rc;

	if (dp->dix)
		return 0;
	rc = extmap_load(vol, dp);
	if (rc)
		return rc;
	uint64_t size = inode_size(dp);
	if (size % vol->bs) {
		pgdax_err("%s: directory inode %llu: size %llu is not a multiple of the block size",
			  vol->devname, (unsigned long long)dp->ino, (unsigned long long)size);
		return vol_corrupt(vol, dp->ino);
	}
	struct dirindex *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->nblocks = size >> vol->bshift;
	x->blkfree = calloc(x->nblocks + 1, sizeof(*x->blkfree));
	rc = x->blkfree ? tab_resize(x, 64) : -ENOMEM;
	for (uint64_t b = 0; b < x->nblocks && !rc; b++) {
		char *blk = extmap_addr(vol, dp, b);
		if (!blk) {
			pgdax_err("%s: directory inode %llu: block %llu is not mapped",
				  vol->devname, (unsigned long long)dp->ino, (unsigned long long)b);
			rc = vol_corrupt(vol, dp->ino);
			break;
		}
		for (uint32_t p = 0; p < vol->bs && !rc;) {
			rc = pgdax_dirent_validate(blk, vol->bs, p, why, sizeof(why));
			if (rc) {
				pgdax_err("%s: directory inode %llu, block @%llu: %s", vol->devname,
					  (unsigned long long)dp->ino,
					  (unsigned long long)dev_off(vol, blk), why);
				rc = vol_corrupt(vol, dp->ino);
				break;
			}
			const struct pgdax_dirent *d = (const void *)(blk + p);
			if (d->d_ino) {
				if (le64toh(d->d_ino) >= vol->ninodes) {
					pgdax_err("%s: dirent @%llu: inode %llu out of range",
						  vol->devname,
						  (unsigned long long)dev_off(vol, d),
						  (unsigned long long)le64toh(d->d_ino));
					rc = vol_corrupt(vol, dp->ino);
					break;
				}
				rc = tab_insert(x, le32toh(d->d_hash), (b << vol->bshift) + p);
			}
			p += le16toh(d->d_rec_len);
		}
		if (!rc)
			x->blkfree[b] = block_free(blk, vol->bs);
	}
	if (rc) {
		dix_free(&x);
		return rc;
	}
	x->hint = x->nblocks ? x->nblocks - 1 : 0;
	dp->dix = x;
	return 0;
}

int dir_prepare(struct pgdax_vol *vol, struct inode *dp)
{
	return dir_load(vol, dp);
}

int dir_lookup(struct pgdax_vol *vol, struct inode *dp, const char *name, size_t len,
	       uint64_t *ino, uint64_t *pos)
{
	int rc = dir_load(vol, dp);
	if (rc)
		return rc;
	struct dirindex *x = dp->dix;
	uint32_t h = pgdax_name_hash(name, len);
	size_t j = h & (x->cap - 1);
	for (size_t n = 0; n < x->cap && x->tab[j].pos != SLOT_EMPTY; n++) {
		if (x->tab[j].pos < SLOT_DEL && x->tab[j].hash == h) {
			struct pgdax_dirent *d = rec_at(vol, dp, x->tab[j].pos);
			if (d && d->d_ino && d->d_name_len == len && !memcmp(d->d_name, name, len)) {
				*ino = le64toh(d->d_ino);
				if (pos)
					*pos = x->tab[j].pos;
				return 0;
			}
		}
		j = (j + 1) & (x->cap - 1);
	}
	return -ENOENT;
}

int dir_count(struct pgdax_vol *vol, struct inode *dp, uint64_t *n)
{
	int rc = dir_load(vol, dp);
	if (!rc)
		*n = dp->dix->count;
	return rc;
}

/* Append a fresh block (all free records) to the directory. */
static int dir_grow(struct jtx *tx, struct inode *dp)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct dirindex *x = dp->dix;
	struct pgdax_alloc_hint hint = { .near = 0, .align_order = 0 };
	uint64_t b;

	if (x->nblocks) {
		void *last = extmap_addr(vol, dp, x->nblocks - 1);
		hint.near = dev_off(vol, last) >> vol->bshift;
	}
	int rc = blk_alloc(tx, 0, &hint, &b);
	if (rc)
		return rc;
	char *blk = blk_addr(vol, b);
	memset(blk, 0, vol->bs);
	for (uint32_t p = 0; p < vol->bs; p += REC_MAX) {
		struct pgdax_dirent *d = (void *)(blk + p);
		uint32_t rl = vol->bs - p < REC_MAX ? vol->bs - p : REC_MAX;
		d->d_rec_len = htole16((uint16_t)rl);
	}
	rc = jtx_touch(tx, blk, vol->bs);
	if (!rc)
		rc = extmap_insert(tx, dp, x->nblocks, b, 0);
	if (!rc)
		rc = jtx_add(tx, &dp->d->i_size, sizeof(dp->d->i_size));
	if (rc)
		return rc;
	uint16_t *nf = realloc(x->blkfree, (x->nblocks + 2) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	x->blkfree = nf;
	x->blkfree[x->nblocks] = block_free(blk, vol->bs);
	x->hint = x->nblocks;
	x->nblocks++;
	dp->d->i_size = htole64(x->nblocks << vol->bshift);
	return 0;
}

int dir_add(struct jtx *tx, struct inode *dp, const char *name, size_t len,
	    uint64_t ino, unsigned type)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	uint32_t need = pgdax_dirent_size((unsigned)len);
	int rc = dir_load(vol, dp);
	if (!rc)
		rc = jtx_note(tx, dp);
	if (rc)
		return rc;
	struct dirindex *x = dp->dix;
	uint64_t b = UINT64_MAX;
	if (x->hint < x->nblocks && x->blkfree[x->hint] >= need)
		b = x->hint;
	for (uint64_t i = 0; b == UINT64_MAX && i < x->nblocks; i++)
		if (x->blkfree[i] >= need)
			b = i;
	if (b == UINT64_MAX) {
		rc = dir_grow(tx, dp);
		if (rc)
			return rc;
		b = x->nblocks - 1;
	}
	char *blk = extmap_addr(vol, dp, b);
	struct pgdax_dirent *d = NULL;
	uint32_t p;
	for (p = 0; p < vol->bs;) {
		d = (void *)(blk + p);
		if (d->d_ino == 0 && le16toh(d->d_rec_len) >= need)
			break;
		p += le16toh(d->d_rec_len);
	}
	if (p >= vol->bs)	/* blkfree disagrees with the block */
		return vol_corrupt(vol, dp->ino);
	uint32_t rl = le16toh(d->d_rec_len);
	bool split = rl - need >= PGDAX_DIRENT_MIN;
	rc = jtx_add(tx, d, split ? need + sizeof(*d) : need);
	if (rc)
		return rc;
	if (split) {
		struct pgdax_dirent *t = (void *)((char *)d + need);
		t->d_ino = 0;
		t->d_rec_len = htole16((uint16_t)(rl - need));
		t->d_name_len = 0;
		t->d_type = 0;
		t->d_hash = 0;
	}
	uint32_t h = pgdax_name_hash(name, len);
	d->d_rec_len = htole16((uint16_t)(split ? need : rl));
	d->d_name_len = (uint8_t)len;
	d->d_type = (uint8_t)type;
	d->d_hash = htole32(h);
	memcpy(d->d_name, name, len);
	d->d_ino = htole64(ino);
	x->blkfree[b] = block_free(blk, vol->bs);
	x->hint = b;
	return tab_insert(x, h, (b << vol->bshift) + p);
}

int dir_set_ino(struct jtx *tx, struct inode *dp, uint64_t pos, uint64_t ino, unsigned type)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct pgdax_dirent *d = rec_at(vol, dp, pos);
	int rc = jtx_note(tx, dp);
	if (!rc)
		rc = d ? jtx_add(tx, d, sizeof(*d)) : -EUCLEAN;
	if (rc)
		return rc;
	d->d_type = (uint8_t)type;
	d->d_ino = htole64(ino);
	return 0;
}

int dir_remove(struct jtx *tx, struct inode *dp, uint64_t pos)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	uint64_t b = pos >> vol->bshift;
	uint32_t off = (uint32_t)(pos & (vol->bs - 1));
	char *blk = extmap_addr(vol, dp, b);
	int rc = dir_load(vol, dp);
	if (!rc)
		rc = jtx_note(tx, dp);
	if (rc)
		return rc;
	if (!blk)
		return -EUCLEAN;
	struct pgdax_dirent *d = (void *)(blk + off);
	uint32_t h = le32toh(d->d_hash);
	rc = jtx_add(tx, d, sizeof(*d));
	if (rc)
		return rc;
	d->d_ino = 0;
	/* merge with a free successor, then with a free predecessor */
	uint32_t rl = le16toh(d->d_rec_len);
	if (off + rl < vol->bs) {
		struct pgdax_dirent *n = (void *)(blk + off + rl);
		uint32_t nrl = le16toh(n->d_rec_len);
		if (n->d_ino == 0 && rl + nrl <= REC_MAX) {
			rl += nrl;
			d->d_rec_len = htole16((uint16_t)rl);
		}
	}
	struct pgdax_dirent *prev = NULL;
	for (uint32_t p = 0; p < off;) {
		prev = (void *)(blk + p);
		p += le16toh(prev->d_rec_len);
	}
	if (prev && prev->d_ino == 0 && le16toh(prev->d_rec_len) + rl <= REC_MAX) {
		rc = jtx_add(tx, prev, sizeof(*prev));
		if (rc)
			return rc;
		prev->d_rec_len = htole16((uint16_t)(le16toh(prev->d_rec_len) + rl));
	}
	tab_delete(dp->dix, h, pos);
	dp->dix->blkfree[b] = block_free(blk, vol->bs);
	return 0;
}

int dir_iterate(struct pgdax_vol *vol, struct inode *dp, uint64_t off,
		int (*cb)(void *ctx, const char *name, size_t len, uint64_t ino,
			  unsigned type, uint64_t next_off), void *ctx)
{
	int rc = dir_load(vol, dp);
	if (rc)
		return rc;
	if (off == 0) {
		if (cb(ctx, ".", 1, dp->ino, DT_DIR, 1))
			return 0;
		off = 1;
	}
	if (off == 1) {
		uint64_t parent = le64toh(dp->d->i_parent);
		if (cb(ctx, "..", 2, parent ? parent : dp->ino, DT_DIR, 2))
			return 0;
		off = 2;
	}
	uint64_t pos = off - 2;
	for (uint64_t b = pos >> vol->bshift; b < dp->dix->nblocks; b++) {
		char *blk = extmap_addr(vol, dp, b);
		uint64_t base = b << vol->bshift;
		if (!blk)
			return -EUCLEAN;
		for (uint32_t p = 0; p < vol->bs;) {
			const struct pgdax_dirent *d = (const void *)(blk + p);
			uint32_t rl = le16toh(d->d_rec_len);
			if (rl == 0)
				return -EUCLEAN;
			if (d->d_ino && base + p >= pos &&
			    cb(ctx, d->d_name, d->d_name_len, le64toh(d->d_ino), d->d_type,
			       base + p + rl + 2))
				return 0;
			p += rl;
		}
	}
	return 0;
}
