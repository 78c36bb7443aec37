/* SPDX-License-Identifier: MIT */
/*
 * Extent maps: file page -> (device block, order). On the medium a chain of
 * extent blocks with fixed 16-byte records (lib/vol/format.h); in DRAM, loaded
 * on first use, a sorted array (binary search: O(log n) per lookup) plus
 * the list of free record slots. Every change is one record store inside
 * the caller's transaction; an aborted transaction drops the DRAM copy
 * (jtx_note), which is then reloaded from the medium.
 *
 * Small maps live in the inode (PGDAX_IFL_INLINE_EXT, volumes of format
 * minor >= 3): the first extent of an inode without an extent block goes
 * into i_inline, and the fifth moves the four inline records into a new
 * extent block, all inside the caller's transaction, so a crash leaves
 * either form whole. An inline record is a slot like any other (its
 * device offset lies in the inode), so lookups do not care which form
 * they read; a change to one also reseals the inode crc (jtx_inode).
 *
 * Going back: after a truncate (and the last close's trim of what writes
 * allocated past EOF, lib/vol/data.c), a map left with at most four
 * extents moves back into the inode (extmap_to_inline), an empty one frees
 * its chain (extmap_free_chain; the next extent starts inline again), each
 * in one transaction. Not after a punch or a removal elsewhere: those keep
 * the block until the next truncate, which costs one block per such file
 * and keeps a file that hovers around four extents from converting back
 * and forth. Extent blocks are otherwise never freed while the inode has
 * extents (an emptied block's slots are reused).
 * All functions need ip->lock (writers: for writing).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vol_internal.h"

void extmap_free(struct extmap *m)
{
	free(m->v);
	free(m->free_slots);
	memset(m, 0, sizeof(*m));
}

static int push_ext(struct extmap *m, struct ext e)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		struct ext *v = realloc(m->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = nc;
	}
	m->v[m->n++] = e;
	return 0;
}

static int push_slot(struct extmap *m, uint64_t off)
{
	if (m->nfree == m->freecap) {
		size_t nc = m->freecap ? m->freecap * 2 : 64;
		uint64_t *v = realloc(m->free_slots, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->free_slots = v;
		m->freecap = nc;
	}
	m->free_slots[m->nfree++] = off;
	return 0;
}

static int cmp_ext(const void *a, const void *b)
{
	const struct ext *x = a, *y = b;
	return x->fpage < y->fpage ? -1 : x->fpage > y->fpage;
}

static bool map_inline(const struct inode *ip)
{
	return le32toh(ip->d->i_flags) & PGDAX_IFL_INLINE_EXT;
}

/* Load @n on-media records at @x into the DRAM map; -EUCLEAN on a bad one. */
static int load_records(struct pgdax_vol *vol, struct inode *ip, struct pgdax_extent *x,
			size_t n)
{
	struct extmap *m = &ip->map;
	char why[200];
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t v = le64toh(x[i].x_dblk_order);
		uint64_t off = dev_off(vol, &x[i]);
		if (v == 0) {
			rc = push_slot(m, off);
		} else if (pgdax_extent_validate(&vol->geo, &x[i], why, sizeof(why))) {
			pgdax_err("%s: extent record @%llu (inode %llu): %s", vol->devname,
				  (unsigned long long)off, (unsigned long long)ip->ino, why);
			rc = vol_corrupt(vol, ip->ino);
		} else {
			rc = push_ext(m, (struct ext){
				.fpage = le64toh(x[i].x_fpage),
				.dblk = v >> PGDAX_X_DBLK_SHIFT,
				.order = v & PGDAX_X_ORDER_MASK,
				.slot = off });
		}
	}
	return rc;
}

int extmap_load(struct pgdax_vol *vol, struct inode *ip)
{
	struct extmap *m = &ip->map;
	uint64_t blk = le64toh(ip->d->i_extent_head), steps = 0;
	size_t per = PGDAX_EXTENTS_PER_BLOCK(vol->bs);
	int rc = 0;

	if (m->loaded)
		return 0;
	extmap_free(m);
	if (map_inline(ip)) {
		/* (the inode's validation refused a head with the flag) */
		rc = load_records(vol, ip, (struct pgdax_extent *)ip->d->i_inline,
				  PGDAX_INLINE_EXTENTS);
		if (rc)
			goto fail;
		blk = 0;
	}
	while (blk) {
		if (!pgdax_blk_in_data(&vol->geo, blk) || ++steps > vol->blocks) {
			pgdax_err("%s: inode %llu: extent chain points to block %llu (outside the "
				  "data area or a loop)", vol->devname,
				  (unsigned long long)ip->ino, (unsigned long long)blk);
			rc = vol_corrupt(vol, ip->ino);
			goto fail;
		}
		struct pgdax_extent_blk *eb = blk_addr(vol, blk);
		if (le32toh(eb->eb_magic) != PGDAX_EB_MAGIC || le64toh(eb->eb_ino) != ip->ino) {
			pgdax_err("%s: extent block @%llu (inode %llu): bad magic or owner",
				  vol->devname, (unsigned long long)dev_off(vol, eb),
				  (unsigned long long)ip->ino);
			rc = vol_corrupt(vol, ip->ino);
			goto fail;
		}
		rc = load_records(vol, ip, (struct pgdax_extent *)(eb + 1), per);
		if (rc)
			goto fail;
		blk = le64toh(eb->eb_next);
	}
	if (m->n)
		qsort(m->v, m->n, sizeof(*m->v), cmp_ext);
	for (size_t i = 0; i + 1 < m->n; i++) {
		if (m->v[i].fpage + (1ULL << m->v[i].order) > m->v[i + 1].fpage) {
			pgdax_err("%s: inode %llu: extents at file pages %llu and %llu overlap "
				  "(records @%llu, @%llu)", vol->devname, (unsigned long long)ip->ino,
				  (unsigned long long)m->v[i].fpage,
				  (unsigned long long)m->v[i + 1].fpage,
				  (unsigned long long)m->v[i].slot,
				  (unsigned long long)m->v[i + 1].slot);
			rc = vol_corrupt(vol, ip->ino);
			goto fail;
		}
	}
	m->loaded = true;
	return 0;
fail:
	extmap_free(m);
	return rc;
}

ssize_t extmap_find(struct extmap *m, uint64_t fpage, size_t *next)
{
	size_t lo = 0, hi = m->n;	/* first index with v.fpage > fpage */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->v[mid].fpage <= fpage)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0) {
		struct ext *e = &m->v[lo - 1];
		if (fpage < e->fpage + (1ULL << e->order)) {
			if (next)
				*next = lo;
			return (ssize_t)(lo - 1);
		}
	}
	if (next)
		*next = lo;
	return -1;
}

/*
 * Invariant 12 (checking mode): a layout break's wait ended with success,
 * so every extent overlapping file pages [first, end) must be idle now,
 * whatever the waiter saw after its last wait (lib/core/folio.c lists it).
 */
void extmap_assert_idle(struct pgdax_vol *vol, struct inode *ip, uint64_t first,
			uint64_t end)
{
	struct extmap *m = &ip->map;
	char what[160];
	ssize_t hit;
	size_t i;

	if (!pgmap_checking(vol->pgmap) || end <= first)
		return;
	if (end == UINT64_MAX)
		snprintf(what, sizeof(what), "the layout break of inode %llu from page %llu ended "
			 "its wait, but the range is busy: a wait not followed by a re-check",
			 (unsigned long long)ip->ino, (unsigned long long)first);
	else
		snprintf(what, sizeof(what), "the layout break of inode %llu pages [%llu, %llu) "
			 "ended its wait, but the range is busy: a wait not followed by a re-check",
			 (unsigned long long)ip->ino, (unsigned long long)first,
			 (unsigned long long)end);
	hit = extmap_find(m, first, &i);
	if (hit >= 0)
		i = (size_t)hit;
	for (; i < m->n && m->v[i].fpage < end; i++)
		pgmap_assert_idle(vol->pgmap, m->v[i].dblk, 1ULL << m->v[i].order, 12, what);
}

void *extmap_addr(struct pgdax_vol *vol, struct inode *ip, uint64_t fpage)
{
	ssize_t i = extmap_find(&ip->map, fpage, NULL);
	if (i < 0)
		return NULL;
	struct ext *e = &ip->map.v[i];
	return blk_addr(vol, e->dblk + (fpage - e->fpage));
}

static int add_blocks(struct jtx *tx, struct inode *ip, int64_t n)
{
	int rc = jtx_inode(tx, ip->d);
	if (rc)
		return rc;
	ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) + (uint64_t)n);
	return 0;
}

/* A new extent block at the head of the chain. */
static int grow_chain(struct jtx *tx, struct inode *ip)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct pgdax_alloc_hint hint = { .near = vol->data_start, .align_order = 0 };
	uint64_t b;
	int rc = blk_alloc(tx, 0, &hint, &b);
	if (rc)
		return rc;
	struct pgdax_extent_blk *eb = blk_addr(vol, b);
	memset(eb, 0, vol->bs);
	eb->eb_magic = htole32(PGDAX_EB_MAGIC);
	eb->eb_ino = htole64(ip->ino);
	eb->eb_next = ip->d->i_extent_head;
	rc = jtx_touch(tx, eb, vol->bs);
	if (!rc)
		rc = add_blocks(tx, ip, 1);
	if (rc)
		return rc;
	ip->d->i_extent_head = htole64(b);
	struct pgdax_extent *x = (void *)(eb + 1);
	for (size_t i = PGDAX_EXTENTS_PER_BLOCK(vol->bs); i-- > 0;) {
		rc = push_slot(&ip->map, dev_off(vol, &x[i]));
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * An empty map without an extent block starts in the inode: its four
 * records become the free slots. (jtx_note'd by the caller.)
 */
static int start_inline(struct jtx *tx, struct inode *ip)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct pgdax_extent *x = (struct pgdax_extent *)ip->d->i_inline;
	int rc = jtx_inode(tx, ip->d);

	if (rc)
		return rc;
	ip->d->i_flags = htole32(le32toh(ip->d->i_flags) | PGDAX_IFL_INLINE_EXT);
	memset(ip->d->i_inline, 0, sizeof(ip->d->i_inline));
	for (size_t i = PGDAX_INLINE_EXTENTS; i-- > 0;) {
		rc = push_slot(&ip->map, dev_off(vol, &x[i]));
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The inline records are all taken: move them into a new extent block
 * (record k to slot k), clear the flag and point the inode at the block,
 * in this transaction; the DRAM map follows the records to their new
 * slots and gets the block's free ones. (jtx_note'd by the caller: an
 * abort drops the DRAM map, and the journal puts the inode back.)
 */
static int inline_to_block(struct jtx *tx, struct inode *ip)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct pgdax_alloc_hint hint = { .near = vol->data_start, .align_order = 0 };
	struct pgdax_extent *ix = (struct pgdax_extent *)ip->d->i_inline;
	uint64_t ibase = dev_off(vol, ix), b;
	struct extmap *m = &ip->map;
	int rc = jtx_inode(tx, ip->d);

	if (!rc)
		rc = blk_alloc(tx, 0, &hint, &b);
	if (rc)
		return rc;
	struct pgdax_extent_blk *eb = blk_addr(vol, b);
	struct pgdax_extent *x = (void *)(eb + 1);
	memset(eb, 0, vol->bs);
	eb->eb_magic = htole32(PGDAX_EB_MAGIC);
	eb->eb_ino = htole64(ip->ino);
	memcpy(x, ix, PGDAX_INLINE_EXTENTS * sizeof(*x));
	rc = jtx_touch(tx, eb, vol->bs);
	if (rc)
		return rc;
	ip->d->i_extent_head = htole64(b);
	ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) + 1);
	ip->d->i_flags = htole32(le32toh(ip->d->i_flags) & ~PGDAX_IFL_INLINE_EXT);
	memset(ip->d->i_inline, 0, sizeof(ip->d->i_inline));
	for (size_t i = 0; i < m->n; i++)
		m->v[i].slot = dev_off(vol, &x[(m->v[i].slot - ibase) / sizeof(*x)]);
	m->nfree = 0;
	for (size_t i = PGDAX_EXTENTS_PER_BLOCK(vol->bs); i-- > 0;) {
		if (x[i].x_dblk_order)
			continue;
		rc = push_slot(m, dev_off(vol, &x[i]));
		if (rc)
			return rc;
	}
	return 0;
}

int extmap_insert(struct jtx *tx, struct inode *ip, uint64_t fpage, uint64_t dblk,
		  unsigned order)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct extmap *m = &ip->map;
	int rc = jtx_note(tx, ip);
	if (rc)
		return rc;
	if (m->nfree == 0) {
		uint32_t fl = le32toh(ip->d->i_flags);

		if (fl & PGDAX_IFL_INLINE_EXT)
			rc = inline_to_block(tx, ip);
		else if (vol->inline_ext && !ip->d->i_extent_head && !(fl & PGDAX_IFL_INLINE))
			rc = start_inline(tx, ip);
		else
			rc = grow_chain(tx, ip);
		if (rc)
			return rc;
	}
	uint64_t slot = m->free_slots[m->nfree - 1];
	struct pgdax_extent *x = (void *)(vol->base + slot);
	rc = jtx_add(tx, x, sizeof(*x));
	if (!rc)
		rc = add_blocks(tx, ip, (int64_t)(1ULL << order));
	if (!rc && m->n == m->cap) {
		rc = push_ext(m, (struct ext){ 0 });	/* make room */
		m->n--;
	}
	if (rc)
		return rc;
	m->nfree--;
	x->x_fpage = htole64(fpage);
	x->x_dblk_order = htole64(dblk << PGDAX_X_DBLK_SHIFT | PGDAX_X_VALID | order);
	size_t at;
	extmap_find(m, fpage, &at);
	memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof(*m->v));
	m->v[at] = (struct ext){ .fpage = fpage, .dblk = dblk, .order = order, .slot = slot };
	m->n++;
	return 0;
}

int extmap_remove(struct jtx *tx, struct inode *ip, size_t idx)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct extmap *m = &ip->map;
	struct ext e = m->v[idx];
	struct pgdax_extent *x = (void *)(vol->base + e.slot);
	int rc = jtx_note(tx, ip);
	if (!rc)
		rc = jtx_add(tx, x, sizeof(*x));
	if (!rc)
		rc = add_blocks(tx, ip, -(int64_t)(1ULL << e.order));
	if (!rc)
		rc = push_slot(m, e.slot);
	if (rc)
		return rc;
	x->x_fpage = 0;
	x->x_dblk_order = 0;
	memmove(&m->v[idx], &m->v[idx + 1], (m->n - idx - 1) * sizeof(*m->v));
	m->n--;
	/* its blocks may be freed and reused: tell unlocked break waiters */
	atomic_fetch_add(&ip->layout_gen, 1);
	return 0;
}

/*
 * A map that shrank to what the inode holds goes back into it: the
 * records (in map order) into i_inline, the chain freed, in this
 * transaction; the DRAM map follows the records to their inline slots.
 */
int extmap_to_inline(struct jtx *tx, struct inode *ip)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct extmap *m = &ip->map;
	struct pgdax_extent *ix = (struct pgdax_extent *)ip->d->i_inline;
	int rc = extmap_load(vol, ip);

	if (rc)
		return rc;
	if (!vol->inline_ext || !ip->d->i_extent_head || m->n > PGDAX_INLINE_EXTENTS ||
	    (le32toh(ip->d->i_flags) & PGDAX_IFL_INLINE))
		return 0;
	rc = jtx_note(tx, ip);
	if (!rc)
		rc = jtx_inode(tx, ip->d);
	if (rc)
		return rc;
	uint64_t blk = le64toh(ip->d->i_extent_head);
	int64_t n = 0;
	while (blk) {	/* validated by extmap_load */
		struct pgdax_extent_blk *eb = blk_addr(vol, blk);
		uint64_t next = le64toh(eb->eb_next);
		rc = blk_free(tx, blk, 1);
		if (rc)
			return rc;
		n++;
		blk = next;
	}
	memset(ix, 0, PGDAX_INLINE_EXTENTS * sizeof(*ix));
	for (size_t k = 0; k < m->n; k++) {
		ix[k].x_fpage = htole64(m->v[k].fpage);
		ix[k].x_dblk_order = htole64(m->v[k].dblk << PGDAX_X_DBLK_SHIFT | PGDAX_X_VALID |
					     m->v[k].order);
		m->v[k].slot = dev_off(vol, &ix[k]);
	}
	ip->d->i_extent_head = 0;
	ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) - (uint64_t)n);
	ip->d->i_flags = htole32(le32toh(ip->d->i_flags) | PGDAX_IFL_INLINE_EXT);
	m->nfree = 0;
	for (size_t k = PGDAX_INLINE_EXTENTS; k-- > m->n;) {
		rc = push_slot(m, dev_off(vol, &ix[k]));
		if (rc)
			return rc;
	}
	return 0;
}

int extmap_free_chain(struct jtx *tx, struct inode *ip)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	int rc = extmap_load(vol, ip);
	if (rc)
		return rc;
	if (ip->map.n)
		return -ENOTEMPTY;
	rc = jtx_note(tx, ip);
	if (!rc)
		rc = jtx_inode(tx, ip->d);
	if (rc)
		return rc;
	uint64_t blk = le64toh(ip->d->i_extent_head);
	int64_t n = 0;
	while (blk) {	/* validated by extmap_load */
		struct pgdax_extent_blk *eb = blk_addr(vol, blk);
		uint64_t next = le64toh(eb->eb_next);
		rc = blk_free(tx, blk, 1);
		if (rc)
			return rc;
		n++;
		blk = next;
	}
	ip->d->i_extent_head = 0;
	ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) - (uint64_t)n);
	/* an empty inline map is no map: the next extent starts it again */
	ip->d->i_flags = htole32(le32toh(ip->d->i_flags) & ~PGDAX_IFL_INLINE_EXT);
	extmap_free(&ip->map);
	ip->map.loaded = true;
	return 0;
}
