/* SPDX-License-Identifier: MIT */
/* Test-only introspection of a mounted volume (lib/vol/vol_test.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vol_internal.h"
#include "vol_test.h"

static int count_cb(void *ctx, const char *name, const struct stat *st, uint64_t next_off)
{
	(void)name;
	(void)st;
	(void)next_off;
	(*(int *)ctx)++;
	return 0;
}

int vol_test_count_entries(struct pgdax_vol *vol, uint64_t dir)
{
	int n = 0;
	int rc = pgdax_vol_readdir(vol, dir, 0, false, count_cb, &n);
	return rc ? rc : n;
}

int vol_test_check_blocks(struct pgdax_vol *vol)
{
	uint64_t used_bits = 0, iblocks = 0;
	for (uint64_t b = vol->data_start; b < vol->data_end; b++)
		used_bits += b != vol->backup_blk && pgdax_bit_test(vol->bbitmap, b);
	for (uint64_t i = 1; i < vol->ninodes; i++) {
		if (!ino_is_used(vol, i))
			continue;
		iblocks += le64toh(inode_slot(vol, i)->i_blocks);
	}
	uint64_t data = vol->data_end - vol->data_start - (vol->backup_blk < vol->data_end);
	uint64_t afree = pgdax_alloc_free_pages(vol->alloc);
	uint64_t bad = le64toh(vol->geo.s_bad_blocks);
	if (used_bits != iblocks + bad || afree != data - used_bits) {
		fprintf(stderr, "space accounting: bitmap used %llu, inodes own %llu (+%llu bad), "
			"allocator free %llu, bitmap free %llu\n", (unsigned long long)used_bits,
			(unsigned long long)iblocks, (unsigned long long)bad,
			(unsigned long long)afree, (unsigned long long)(data - used_bits));
		return -1;
	}
	return 0;
}

uint64_t vol_test_dir_block(struct pgdax_vol *vol, uint64_t dir, uint64_t page)
{
	struct inode *ip;
	uint64_t b = 0;
	if (inode_get(vol, dir, &ip))
		return 0;
	pthread_rwlock_wrlock(&ip->lock);
	if (!extmap_load(vol, ip)) {
		void *p = extmap_addr(vol, ip, page);
		if (p)
			b = dev_off(vol, p) >> vol->bshift;
	}
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return b;
}

int vol_test_extents_of_order(struct pgdax_vol *vol, uint64_t ino, unsigned order)
{
	struct inode *ip;
	int n = 0, rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	rc = extmap_load(vol, ip);
	for (size_t i = 0; !rc && i < ip->map.n; i++) {
		struct ext *e = &ip->map.v[i];
		if (e->order == order) {
			n++;
			/* both sides aligned to the extent size */
			if ((e->dblk | e->fpage) & ((1ULL << order) - 1))
				rc = -EUCLEAN;
		}
	}
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc ? rc : n;
}

/* Get @ino with its extent map loaded, lock held for writing. */
static int get_locked(struct pgdax_vol *vol, uint64_t ino, struct inode **out)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	rc = extmap_load(vol, ip);
	if (rc) {
		pthread_rwlock_unlock(&ip->lock);
		inode_put(vol, ip);
		return rc;
	}
	*out = ip;
	return 0;
}

static void put_locked(struct pgdax_vol *vol, struct inode *ip)
{
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
}

ssize_t vol_test_read_raw(struct pgdax_vol *vol, uint64_t ino, uint64_t off, void *buf,
			  size_t len)
{
	struct inode *ip;
	int rc = get_locked(vol, ino, &ip);
	if (rc)
		return rc;
	memset(buf, 0, len);
	for (size_t i = 0; i < ip->map.n; i++) {
		const struct ext *e = &ip->map.v[i];
		uint64_t a = e->fpage << vol->bshift, b = (e->fpage + (1ULL << e->order)) << vol->bshift;
		if (a < off)
			a = off;
		if (b > off + len)
			b = off + len;
		if (a < b)
			memcpy((char *)buf + (a - off),
			       (char *)blk_addr(vol, e->dblk) + (a - (e->fpage << vol->bshift)),
			       b - a);
	}
	put_locked(vol, ip);
	return (ssize_t)len;
}

int vol_test_nonzero_past_eof(struct pgdax_vol *vol, uint64_t ino, uint64_t *where,
			      uint64_t *alloc_end)
{
	struct inode *ip;
	int found = 0, rc = get_locked(vol, ino, &ip);
	if (rc)
		return rc;
	uint64_t size = inode_size(ip);
	*alloc_end = 0;
	for (size_t i = 0; i < ip->map.n; i++) {
		const struct ext *e = &ip->map.v[i];
		uint64_t a = e->fpage << vol->bshift, b = (e->fpage + (1ULL << e->order)) << vol->bshift;
		const unsigned char *p = blk_addr(vol, e->dblk);
		if (b > *alloc_end)
			*alloc_end = b;
		for (uint64_t x = a > size ? a : size; !found && x < b; x++)
			if (p[x - a]) {
				*where = x;
				found = 1;
			}
	}
	put_locked(vol, ip);
	return found;
}

int vol_test_trim_pending(struct pgdax_vol *vol, uint64_t ino)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	rc = (le32toh(ip->d->i_flags) & PGDAX_IFL_TRIM) ? 1 : 0;
	inode_put(vol, ip);
	return rc;
}

void vol_test_fail_free_range(struct pgdax_vol *vol, int err)
{
	atomic_store(&vol->fail_free_range, err);
}

int vol_test_orphan_remove_aborted(struct pgdax_vol *vol, uint64_t ino,
				   void (*meanwhile)(void *arg), void *arg)
{
	struct jtx *tx = jtx_begin(vol);
	int rc = orphan_remove(tx, ino);
	if (meanwhile)
		meanwhile(arg);
	jtx_abort(tx);
	return rc;
}

void vol_test_set_page_free_hook(struct pgdax_vol *vol,
				 void (*fn)(uint64_t pgoff, unsigned order, void *arg),
				 void *arg)
{
	vol->test_page_free_arg = arg;
	atomic_store(&vol->test_page_free, fn);	/* publishes arg */
}

int vol_test_inline_map(struct pgdax_vol *vol, uint64_t ino)
{
	if (ino == 0 || ino >= vol->ninodes || !ino_is_used(vol, ino))
		return -ENOENT;
	return !!(le32toh(inode_slot(vol, ino)->i_flags) & PGDAX_IFL_INLINE_EXT);
}
