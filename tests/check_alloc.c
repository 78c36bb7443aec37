/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the extent allocator (lib/core/alloc.c): one suite, test cases
 * grouped by concern. The randomized test replays fixed seeds against a
 * page-state model; a failing run prints the seed and the op number.
 */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HAVE_SANITIZER_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HAVE_SANITIZER_HEAP 1
#endif
#endif
#ifdef HAVE_SANITIZER_HEAP
/* Exported by libasan/libtsan; GCC ships no header declaring it. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define P(o) (1ULL << (o))

/* ck_assert records the location of every *passing* check (a write to the
 * parent per call); hot loops use this, which only reports failures. */
#define REQUIRE(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

/* ---- helpers ------------------------------------------------------------ */

static struct pgdax_alloc *new_alloc(uint64_t npages, bool all_free)
{
	struct pgdax_alloc *a = NULL;

	ck_assert_int_eq(pgdax_alloc_new(npages, &a), 0);
	ck_assert_ptr_nonnull(a);
	if (all_free)
		ck_assert_int_eq(pgdax_alloc_add_free(a, 0, npages), 0);
	return a;
}

/* A snapshot of the free blocks, in offset order. */
struct blocks {
	size_t n, cap;
	uint64_t *off;
	unsigned *order;
};

static int collect_cb(uint64_t off, unsigned order, void *arg)
{
	struct blocks *b = arg;

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->off = realloc(b->off, b->cap * sizeof(*b->off));
		b->order = realloc(b->order, b->cap * sizeof(*b->order));
		if (!b->off || !b->order)
			abort();
	}
	b->off[b->n] = off;
	b->order[b->n] = order;
	b->n++;
	return 0;
}

static struct blocks snapshot(struct pgdax_alloc *a)
{
	struct blocks b = { 0 };

	ck_assert_int_eq(pgdax_alloc_for_each_free(a, collect_cb, &b), 0);
	return b;
}

static void blocks_free(struct blocks *b)
{
	free(b->off);
	free(b->order);
	memset(b, 0, sizeof(*b));
}

static bool blocks_equal(const struct blocks *x, const struct blocks *y)
{
	return x->n == y->n && (x->n == 0 ||
		(!memcmp(x->off, y->off, x->n * sizeof(*x->off)) &&
		 !memcmp(x->order, y->order, x->n * sizeof(*x->order))));
}

/* Asserts the free blocks are exactly the (off, order) pairs given. */
static void assert_blocks(struct pgdax_alloc *a, size_t n, const uint64_t *off,
			  const unsigned *order)
{
	struct blocks b = snapshot(a);

	ck_assert_uint_eq(b.n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(b.off[i], off[i]);
		ck_assert_uint_eq(b.order[i], order[i]);
	}
	blocks_free(&b);
}

/*
 * Structural invariants of the free set: blocks aligned, inside the device,
 * disjoint, no two free buddies of one order (coalescing complete), the sum
 * equals pgdax_alloc_free_pages and the largest equals max_free_order.
 * Returns the snapshot for further checks (the caller frees it).
 */
static struct blocks checked_snapshot(struct pgdax_alloc *a)
{
	struct blocks b = snapshot(a);
	uint64_t sum = 0, prev_end = 0;
	int maxo = -1;

	for (size_t i = 0; i < b.n; i++) {
		uint64_t off = b.off[i];
		unsigned o = b.order[i];

		REQUIRE(o <= PGDAX_ALLOC_MAX_ORDER, "block %#llx has order %u",
			(unsigned long long)off, o);
		REQUIRE((off & (P(o) - 1)) == 0, "block %#llx order %u misaligned",
			      (unsigned long long)off, o);
		REQUIRE(off + P(o) <= pgdax_alloc_npages(a), "block %#llx beyond the device",
			(unsigned long long)off);
		REQUIRE(i == 0 || off >= prev_end, "free blocks overlap at %#llx",
			      (unsigned long long)off);
		/* The buddy of a free block is never a free block of its order. */
		if (o < PGDAX_ALLOC_MAX_ORDER && i + 1 < b.n && !(off & P(o)))
			REQUIRE(!(b.off[i + 1] == off + P(o) && b.order[i + 1] == o),
				      "free buddies %#llx/%#llx of order %u not merged",
				      (unsigned long long)off, (unsigned long long)(off + P(o)), o);
		prev_end = off + P(o);
		sum += P(o);
		if ((int)o > maxo)
			maxo = (int)o;
	}
	ck_assert_uint_eq(sum, pgdax_alloc_free_pages(a));
	ck_assert_int_eq(maxo, pgdax_alloc_max_free_order(a));
	return b;
}

static void check_invariants(struct pgdax_alloc *a)
{
	struct blocks b = checked_snapshot(a);

	blocks_free(&b);
}

/* ---- exhaustion and coalescing ------------------------------------------ */

START_TEST(test_exhaustion_returns_enospc)
{
	const uint64_t n = 1000;	/* not a power of two on purpose */
	struct pgdax_alloc *a = new_alloc(n, true);
	uint64_t off, got = 0;
	int rc;

	while ((rc = pgdax_alloc_get(a, 0, NULL, &off)) == 0) {
		ck_assert_uint_lt(off, n);
		got++;
	}
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_uint_eq(got, n);
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 0);
	ck_assert_int_eq(pgdax_alloc_max_free_order(a), -1);
	ck_assert_int_eq(pgdax_alloc_get(a, 5, NULL, &off), -ENOSPC);
	pgdax_alloc_delete(&a);
	ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_no_block_large_enough_returns_enospc_and_changes_nothing)
{
	struct pgdax_alloc *a = new_alloc(64, false);
	struct blocks before, after;
	uint64_t off = 12345;

	/* 32 free pages, but no two of them adjacent: no order-1 block. */
	for (uint64_t p = 0; p < 64; p += 2)
		ck_assert_int_eq(pgdax_alloc_add_free(a, p, 1), 0);
	before = checked_snapshot(a);
	ck_assert_int_eq(pgdax_alloc_get(a, 1, NULL, &off), -ENOSPC);
	ck_assert_uint_eq(off, 12345);
	after = checked_snapshot(a);
	ck_assert(blocks_equal(&before, &after));
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 32);
	blocks_free(&before);
	blocks_free(&after);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_frees_coalesce_back_to_one_max_extent)
{
	const unsigned top = 12;
	struct pgdax_alloc *a = new_alloc(P(top), true);
	uint64_t offs[P(top)];
	unsigned ords[P(top)];
	size_t n = 0;
	unsigned seed = 7;

	/* Fill it with a mix of orders, then free in a shuffled order. */
	for (;;) {
		unsigned o = (unsigned)(rand_r(&seed) % 5);
		int rc = pgdax_alloc_get(a, o, NULL, &offs[n]);

		if (rc == -ENOSPC) {
			if (pgdax_alloc_get(a, 0, NULL, &offs[n]))
				break;
			o = 0;
		} else {
			ck_assert_int_eq(rc, 0);
		}
		ords[n++] = o;
	}
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 0);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand_r(&seed) % (i + 1);
		uint64_t t = offs[i];
		unsigned u = ords[i];

		offs[i] = offs[j], ords[i] = ords[j];
		offs[j] = t, ords[j] = u;
	}
	for (size_t i = 0; i < n; i++)
		pgdax_alloc_put(a, offs[i], ords[i]);
	assert_blocks(a, 1, (uint64_t[]){ 0 }, (unsigned[]){ top });
	ck_assert_int_eq(pgdax_alloc_max_free_order(a), (int)top);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_device_larger_than_max_order_is_several_max_blocks)
{
	const unsigned m = PGDAX_ALLOC_MAX_ORDER;
	struct pgdax_alloc *a = new_alloc(3 * P(m) + 5, true);

	assert_blocks(a, 5, (uint64_t[]){ 0, P(m), 2 * P(m), 3 * P(m), 3 * P(m) + 4 },
		      (unsigned[]){ m, m, m, 2, 0 });
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 3 * P(m) + 5);
	pgdax_alloc_delete(&a);
}
END_TEST

/* ---- add_free ------------------------------------------------------------ */

START_TEST(test_add_free_of_unaligned_range_splits_into_maximal_buddies)
{
	struct pgdax_alloc *a = new_alloc(64, false);

	ck_assert_int_eq(pgdax_alloc_add_free(a, 3, 13), 0);	/* [3, 16) */
	assert_blocks(a, 3, (uint64_t[]){ 3, 4, 8 }, (unsigned[]){ 0, 2, 3 });
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 13);
	/* Adding the missing head coalesces everything into [0, 16). */
	ck_assert_int_eq(pgdax_alloc_add_free(a, 0, 3), 0);
	assert_blocks(a, 1, (uint64_t[]){ 0 }, (unsigned[]){ 4 });
	/* An odd range in the middle of nowhere. */
	ck_assert_int_eq(pgdax_alloc_add_free(a, 37, 22), 0);	/* [37, 59) */
	assert_blocks(a, 7, (uint64_t[]){ 0, 37, 38, 40, 48, 56, 58 },
		      (unsigned[]){ 4, 0, 1, 3, 3, 1, 0 });
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_add_free_of_already_free_pages_returns_eexist_and_changes_nothing)
{
	struct pgdax_alloc *a = new_alloc(64, false);
	struct blocks before, after;

	ck_assert_int_eq(pgdax_alloc_add_free(a, 8, 8), 0);
	before = snapshot(a);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 0, 9), -EEXIST);	/* overlaps at 8 */
	ck_assert_int_eq(pgdax_alloc_add_free(a, 15, 4), -EEXIST);	/* overlaps at 15 */
	ck_assert_int_eq(pgdax_alloc_add_free(a, 10, 1), -EEXIST);	/* inside */
	after = snapshot(a);
	ck_assert(blocks_equal(&before, &after));
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 8);
	blocks_free(&before);
	blocks_free(&after);
	pgdax_alloc_delete(&a);
}
END_TEST

/* ---- bad arguments ------------------------------------------------------- */

START_TEST(test_bad_arguments_return_einval_and_change_nothing)
{
	struct pgdax_alloc *a = NULL;
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_new(0, &a), -EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(pgdax_alloc_new(1ULL << 60, &a), -EINVAL);
	ck_assert_int_eq(pgdax_alloc_new(10, NULL), -EINVAL);
	a = new_alloc(100, true);
	ck_assert_int_eq(pgdax_alloc_get(a, PGDAX_ALLOC_MAX_ORDER + 1, NULL, &off), -EINVAL);
	ck_assert_int_eq(pgdax_alloc_get(a, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 99, 2), -EINVAL);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 101, 0), -EINVAL);
	ck_assert_int_eq(pgdax_alloc_add_free(a, UINT64_MAX, 2), -EINVAL);	/* wraps */
	ck_assert_int_eq(pgdax_alloc_reserve(a, 50, UINT64_MAX - 10), -EINVAL);	/* wraps */
	ck_assert_int_eq(pgdax_alloc_reserve(a, 100, 1), -EINVAL);
	ck_assert_int_eq(pgdax_alloc_add_free(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(pgdax_alloc_for_each_free(a, NULL, NULL), -EINVAL);
	/* Empty ranges are no-ops, even at the very end. */
	ck_assert_int_eq(pgdax_alloc_reserve(a, 100, 0), 0);
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 100);
	check_invariants(a);
	pgdax_alloc_delete(&a);
	pgdax_alloc_delete(&a);		/* NULL-safe, twice */
	pgdax_alloc_delete(NULL);
}
END_TEST

/* ---- policies ------------------------------------------------------------ */

START_TEST(test_align_hint_takes_result_from_block_carrying_the_alignment)
{
	struct pgdax_alloc *a = new_alloc(1024, false);
	struct pgdax_alloc_hint h = { .align_order = 9 };
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_add_free(a, 1, 1), 0);	/* small fragment */
	ck_assert_int_eq(pgdax_alloc_add_free(a, 6, 2), 0);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 512, 512), 0);	/* order 9 */
	/* Without a hint the smallest fit wins... */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, NULL, &off), 0);
	ck_assert_uint_eq(off, 1);
	/* ...with one, the result comes out of a block of order >= 9. */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off & (P(9) - 1), 0);
	ck_assert_uint_eq(off, 512);
	ck_assert_int_eq(pgdax_alloc_get(a, 1, &h, &off), 0);
	ck_assert_uint_eq(off, 6);	/* no order >= 9 block left: falls back */
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_align_hint_with_near_gives_aligned_slot_after_near)
{
	struct pgdax_alloc *a = new_alloc(4096, true);
	struct pgdax_alloc_hint h = { .align_order = 9, .near = 700 };
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 1024);	/* first 512-aligned page at/after 700 */
	h.align_order = 11;		/* only [2048, 4096) carries it */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 2048);
	h.align_order = 40;		/* no such block: plain near policy, goal slot */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 700);
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

/* With a unit order, a small allocation takes no goal slot out of a whole
 * unit while a broken one has room; a unit-sized one still gets a unit. */
START_TEST(test_small_allocation_fills_a_broken_unit_before_breaking_a_whole_one)
{
	struct pgdax_alloc *a = new_alloc(32, false);	/* four units of 8 pages */
	struct pgdax_alloc_hint h = { .near = 8 };
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_add_free(a, 5, 27), 0);	/* unit 0 broken: [5, 8) */
	pgdax_alloc_set_unit_order(a, 3);
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_lt(off, 8);		/* not the goal slot 8 of a whole unit */
	ck_assert_int_eq(pgdax_alloc_get(a, 1, &h, &off), 0);
	ck_assert_uint_lt(off, 8);
	ck_assert_int_eq(pgdax_alloc_get(a, 3, NULL, &off), 0);
	ck_assert_uint_eq(off, 8);		/* the units are all there */
	ck_assert_int_eq(pgdax_alloc_get(a, 3, NULL, &off), 0);
	ck_assert_uint_eq(off, 16);
	ck_assert_int_eq(pgdax_alloc_get(a, 3, NULL, &off), 0);
	ck_assert_uint_eq(off, 24);
	check_invariants(a);
	pgdax_alloc_delete(&a);
	/* without a unit order the goal slot wins, as before */
	a = new_alloc(32, false);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 5, 27), 0);
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 8);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_near_hint_prefers_lowest_block_at_or_after_near)
{
	struct pgdax_alloc *a = new_alloc(64, false);
	struct pgdax_alloc_hint h = { .near = 20 };
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_add_free(a, 5, 1), 0);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 21, 1), 0);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 41, 1), 0);
	ck_assert_int_eq(pgdax_alloc_add_free(a, 32, 8), 0);	/* bigger: not a candidate */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 21);
	h.near = 42;		/* nothing at/after: wraps to the lowest */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 5);
	h.near = 1ULL << 50;	/* beyond the device: same */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 41);
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_near_hint_extends_contiguously_inside_a_big_block)
{
	struct pgdax_alloc *a = new_alloc(1024, true);
	struct pgdax_alloc_hint h = { .near = 100 };
	uint64_t off, next;

	/* A file growing page by page gets consecutive pages. */
	ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &off), 0);
	ck_assert_uint_eq(off, 100);
	for (int i = 0; i < 50; i++) {
		h.near = off + 1;
		ck_assert_int_eq(pgdax_alloc_get(a, 0, &h, &next), 0);
		ck_assert_uint_eq(next, off + 1);
		off = next;
	}
	/* An order-2 extent after page 151 lands at the next aligned slot. */
	h.near = 151;
	ck_assert_int_eq(pgdax_alloc_get(a, 2, &h, &off), 0);
	ck_assert_uint_eq(off, 152);
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 1024 - 51 - 4);
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_near_hint_skips_block_without_room_after_near)
{
	struct pgdax_alloc *a = new_alloc(256, false);
	struct pgdax_alloc_hint h = { .near = 70 };
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_add_free(a, 64, 8), 0);	/* [64,72) order 3 */
	ck_assert_int_eq(pgdax_alloc_add_free(a, 200, 8), 0);	/* [200,208) order 3 */
	/* An order-2 slot at/after 70 does not fit in [64,72): take 200. */
	ck_assert_int_eq(pgdax_alloc_get(a, 2, &h, &off), 0);
	ck_assert_uint_eq(off, 200);
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

/* ---- reserve / put_range ------------------------------------------------- */

START_TEST(test_reserve_splits_the_free_blocks_around_the_range)
{
	struct pgdax_alloc *a = new_alloc(64, true);

	ck_assert_int_eq(pgdax_alloc_reserve(a, 3, 10), 0);	/* [3, 13) */
	assert_blocks(a, 6, (uint64_t[]){ 0, 2, 13, 14, 16, 32 },
		      (unsigned[]){ 1, 0, 0, 1, 4, 5 });
	ck_assert_int_eq(pgdax_alloc_reserve(a, 16, 2), 0);
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 52);
	check_invariants(a);
	/* Giving both back restores the single block. */
	pgdax_alloc_put_range(a, 3, 10);
	pgdax_alloc_put_range(a, 16, 2);
	assert_blocks(a, 1, (uint64_t[]){ 0 }, (unsigned[]){ 6 });
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_reserve_across_several_free_blocks)
{
	struct pgdax_alloc *a = new_alloc(64, false);

	ck_assert_int_eq(pgdax_alloc_add_free(a, 5, 40), 0);	/* many blocks */
	ck_assert_int_eq(pgdax_alloc_reserve(a, 6, 37), 0);	/* [6, 43) */
	assert_blocks(a, 3, (uint64_t[]){ 5, 43, 44 }, (unsigned[]){ 0, 0, 0 });
	ck_assert_int_eq(pgdax_alloc_reserve(a, 5, 1), 0);
	ck_assert_int_eq(pgdax_alloc_reserve(a, 43, 2), 0);
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 0);
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_reserve_of_partially_allocated_range_returns_ebusy_and_changes_nothing)
{
	struct pgdax_alloc *a = new_alloc(256, true);
	struct blocks before, after;
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_get(a, 0, &(struct pgdax_alloc_hint){ .near = 50 }, &off), 0);
	ck_assert_uint_eq(off, 50);
	before = snapshot(a);
	ck_assert_int_eq(pgdax_alloc_reserve(a, 40, 20), -EBUSY);	/* 50 inside */
	ck_assert_int_eq(pgdax_alloc_reserve(a, 50, 1), -EBUSY);
	ck_assert_int_eq(pgdax_alloc_reserve(a, 0, 256), -EBUSY);
	ck_assert_int_eq(pgdax_alloc_reserve(a, 49, 2), -EBUSY);
	after = snapshot(a);
	ck_assert(blocks_equal(&before, &after));
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 255);
	/* Ranges ending right before / starting right after it are fine. */
	ck_assert_int_eq(pgdax_alloc_reserve(a, 40, 10), 0);
	ck_assert_int_eq(pgdax_alloc_reserve(a, 51, 5), 0);
	check_invariants(a);
	blocks_free(&before);
	blocks_free(&after);
	pgdax_alloc_delete(&a);
}
END_TEST

START_TEST(test_put_range_of_an_extent_tail_keeps_the_head_allocated)
{
	struct pgdax_alloc *a = new_alloc(64, true);
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_get(a, 4, NULL, &off), 0);
	ck_assert_uint_eq(off, 0);
	pgdax_alloc_put_range(a, 5, 11);	/* keep [0, 5) */
	assert_blocks(a, 5, (uint64_t[]){ 5, 6, 8, 16, 32 }, (unsigned[]){ 0, 1, 3, 4, 5 });
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), 59);
	pgdax_alloc_put_range(a, 0, 5);
	assert_blocks(a, 1, (uint64_t[]){ 0 }, (unsigned[]){ 6 });
	pgdax_alloc_delete(&a);
}
END_TEST

/* ---- misuse aborts (each runs in its own forked child) -------------------- */

START_TEST(test_double_free_aborts)
{
	struct pgdax_alloc *a = new_alloc(64, true);
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_get(a, 0, NULL, &off), 0);
	pgdax_alloc_put(a, off, 0);
	pgdax_alloc_put(a, off, 0);	/* coalesced away, still detected */
}
END_TEST

START_TEST(test_freeing_a_never_allocated_extent_aborts)
{
	struct pgdax_alloc *a = new_alloc(64, true);

	pgdax_alloc_put(a, 8, 3);
}
END_TEST

START_TEST(test_freeing_an_extent_containing_free_pages_aborts)
{
	struct pgdax_alloc *a = new_alloc(64, true);
	uint64_t off;

	ck_assert_int_eq(pgdax_alloc_get(a, 0, NULL, &off), 0);
	ck_assert_uint_eq(off, 0);
	pgdax_alloc_put(a, 0, 1);	/* page 1 is free */
}
END_TEST

START_TEST(test_put_range_overlapping_free_pages_aborts)
{
	struct pgdax_alloc *a = new_alloc(64, false);

	ck_assert_int_eq(pgdax_alloc_add_free(a, 20, 1), 0);
	pgdax_alloc_put_range(a, 10, 11);
}
END_TEST

START_TEST(test_put_outside_the_device_aborts)
{
	struct pgdax_alloc *a = new_alloc(64, false);

	pgdax_alloc_put(a, 64, 0);
}
END_TEST

START_TEST(test_put_of_a_misaligned_extent_aborts)
{
	struct pgdax_alloc *a = new_alloc(64, false);

	pgdax_alloc_put(a, 2, 2);
}
END_TEST

/* ---- memory -------------------------------------------------------------- */

static size_t heap_in_use(void)
{
#ifdef HAVE_SANITIZER_HEAP
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

static size_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void *volatile probe_sink;

/*
 * Bytes in use, from the heap meter when it works (glibc mallinfo2 or the
 * sanitizer's allocator), else from the resident set (under valgrind, whose
 * malloc mallinfo2 cannot see), with *slack set to the noise that allows.
 * The probe allocation proves the chosen meter moves, so the bounds the
 * test asserts can fail.
 */
static size_t (*pick_meter(size_t *slack))(void)
{
	size_t (*meter[2])(void) = { heap_in_use, rss_bytes };

	for (int i = 0; i < 2; i++) {
		size_t base = meter[i]();
		char *probe = malloc(4 << 20);

		ck_assert_ptr_nonnull(probe);
		memset(probe, 1, 4 << 20);
		probe_sink = probe;	/* escapes: the compiler may not elide it */
		if (meter[i]() - base >= 4 << 20) {
			free(probe_sink);
			*slack = i ? 8 << 20 : 0;
			return meter[i];
		}
		free(probe_sink);
	}
	ck_abort_msg("no working memory meter (mallinfo2, sanitizer, /proc/self/statm)");
	return NULL;
}

static void *volatile probe_sink;

static int count_cb(uint64_t off, unsigned order, void *arg)
{
	(*(uint64_t *)arg)++;
	return 0;
}

START_TEST(test_allocator_of_2p40_pages_costs_memory_per_fragment_not_per_page)
{
	const uint64_t n = 1ULL << 40;
	struct pgdax_alloc *a;
	size_t base, used;
	uint64_t blocks = 0, off;

	size_t slack, (*meter)(void) = pick_meter(&slack);

	base = meter();
	a = new_alloc(n, true);
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), n);
	ck_assert_int_eq(pgdax_alloc_max_free_order(a), PGDAX_ALLOC_MAX_ORDER);
	used = meter() - base;
	ck_assert_msg(used < 256 * 1024 + slack, "a free 2^40-page allocator uses %zu bytes", used);

	/* Fragment it: one page taken in each of 1000 max-order blocks. */
	for (uint64_t i = 0; i < 1000; i++)
		ck_assert_int_eq(pgdax_alloc_reserve(a, i * P(PGDAX_ALLOC_MAX_ORDER) + 12345, 1), 0);
	ck_assert_int_eq(pgdax_alloc_get(a, PGDAX_ALLOC_MAX_ORDER, NULL, &off), 0);
	ck_assert_uint_eq(off, 1000 * P(PGDAX_ALLOC_MAX_ORDER));
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), n - 1000 - P(PGDAX_ALLOC_MAX_ORDER));
	ck_assert_int_eq(pgdax_alloc_for_each_free(a, count_cb, &blocks), 0);
	used = meter() - base;
	/* ~30 fragments per reserved page; a per-page bitmap would be 128 GiB. */
	ck_assert_uint_gt(blocks, 1000 * 25);
	ck_assert_msg(used < 4096 + blocks * 128 + slack, "%zu bytes for %llu free blocks", used,
		      (unsigned long long)blocks);
	for (uint64_t i = 0; i < 1000; i++)
		pgdax_alloc_put(a, i * P(PGDAX_ALLOC_MAX_ORDER) + 12345, 0);
	pgdax_alloc_put(a, off, PGDAX_ALLOC_MAX_ORDER);
	ck_assert_uint_eq(pgdax_alloc_free_pages(a), n);
	blocks = 0;
	ck_assert_int_eq(pgdax_alloc_for_each_free(a, count_cb, &blocks), 0);
	ck_assert_uint_eq(blocks, n >> PGDAX_ALLOC_MAX_ORDER);
	check_invariants(a);
	pgdax_alloc_delete(&a);
}
END_TEST

static int stop_at_third(uint64_t off, unsigned order, void *arg)
{
	return ++*(int *)arg == 3 ? 42 : 0;
}

START_TEST(test_for_each_free_stops_at_first_nonzero_return)
{
	struct pgdax_alloc *a = new_alloc(64, false);
	int calls = 0;

	for (uint64_t p = 0; p < 64; p += 4)
		ck_assert_int_eq(pgdax_alloc_add_free(a, p, 1), 0);
	ck_assert_int_eq(pgdax_alloc_for_each_free(a, stop_at_third, &calls), 42);
	ck_assert_int_eq(calls, 3);
	pgdax_alloc_delete(&a);
}
END_TEST

/* ---- randomized test against a page-state model --------------------------- */

enum { UNADDED = 0, FREE = 1, USED = 2 };

struct rec {
	uint64_t off, len;
	int order;		/* >= 0: an intact extent from get; -1: a range */
};

struct model {
	uint64_t n, nfree;
	uint8_t *st;
	struct rec *recs;
	size_t nrecs, cap;
	unsigned seed;		/* RNG state */
	unsigned seed0;		/* the seed the run started from, for messages */
	/* What the run did, printed at the end (proves the mix ran). */
	uint64_t gets, enospc, puts, put_ranges, reserves, ebusy, adds;
};

static uint64_t rnd(struct model *m, uint64_t bound)
{
	uint64_t r = ((uint64_t)rand_r(&m->seed) << 31) ^ (uint64_t)rand_r(&m->seed);

	return bound ? r % bound : 0;
}

static void push_rec(struct model *m, uint64_t off, uint64_t len, int order)
{
	if (!len)
		return;
	if (m->nrecs == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->recs = realloc(m->recs, m->cap * sizeof(*m->recs));
		ck_assert_ptr_nonnull(m->recs);
	}
	m->recs[m->nrecs++] = (struct rec){ off, len, order };
}

static void drop_rec(struct model *m, size_t i)
{
	m->recs[i] = m->recs[--m->nrecs];
}

static void set_state(struct model *m, uint64_t off, uint64_t len, uint8_t from, uint8_t to,
		      uint64_t opno)
{
	for (uint64_t p = off; p < off + len; p++) {
		REQUIRE(m->st[p] == from, "seed %u op %llu: page %llu is %d, expected %d",
			      m->seed0, (unsigned long long)opno, (unsigned long long)p, m->st[p], from);
		m->st[p] = to;
	}
	if (to == FREE)
		m->nfree += len;
	if (from == FREE)
		m->nfree -= len;
}

static bool all_state(struct model *m, uint64_t off, uint64_t len, uint8_t s)
{
	for (uint64_t p = off; p < off + len; p++)
		if (m->st[p] != s)
			return false;
	return true;
}

static bool any_state(struct model *m, uint64_t off, uint64_t len, uint8_t s)
{
	for (uint64_t p = off; p < off + len; p++)
		if (m->st[p] == s)
			return true;
	return false;
}

/* Every free block is free in the model and the totals match. */
static void check_against_model(struct pgdax_alloc *a, struct model *m, uint64_t opno)
{
	struct blocks b = checked_snapshot(a);
	uint64_t sum = 0;

	for (size_t i = 0; i < b.n; i++) {
		REQUIRE(all_state(m, b.off[i], P(b.order[i]), FREE),
			      "seed %u op %llu: free block %#llx order %u holds pages not free",
			      m->seed0, (unsigned long long)opno, (unsigned long long)b.off[i],
			      b.order[i]);
		sum += P(b.order[i]);
	}
	ck_assert_uint_eq(sum, m->nfree);
	blocks_free(&b);
}

static void random_op(struct pgdax_alloc *a, struct model *m, uint64_t opno)
{
	unsigned what = (unsigned)rnd(m, 100);
	uint64_t off, len;
	int rc;

	if (what < 38) {			/* get */
		unsigned order = (unsigned)(rnd(m, 4) ? rnd(m, 3) : rnd(m, 8));
		struct pgdax_alloc_hint h = { 0 };
		bool use_hint = rnd(m, 2);

		if (use_hint) {
			h.near = rnd(m, 3) ? rnd(m, m->n) : 0;
			h.align_order = rnd(m, 2) ? (unsigned)rnd(m, 10) : 0;
		}
		rc = pgdax_alloc_get(a, order, use_hint ? &h : NULL, &off);
		if (rc == -ENOSPC) {
			/* Then no aligned run of 2^order free pages exists. */
			for (uint64_t p = 0; p + P(order) <= m->n; p += P(order))
				REQUIRE(!all_state(m, p, P(order), FREE),
					      "seed %u op %llu: -ENOSPC for order %u but %llu is free",
					      m->seed0, (unsigned long long)opno, order,
					      (unsigned long long)p);
			m->enospc++;
			return;
		}
		m->gets++;
		REQUIRE(rc == 0 && !(off & (P(order) - 1)) && off + P(order) <= m->n,
			"seed %u op %llu: get order %u -> %d, offset %#llx", m->seed0,
			(unsigned long long)opno, order, rc, (unsigned long long)off);
		set_state(m, off, P(order), FREE, USED, opno);	/* never handed out twice */
		push_rec(m, off, P(order), (int)order);
	} else if (what < 62) {			/* put an intact extent, or a whole range */
		size_t i;

		if (!m->nrecs)
			return;
		i = (size_t)rnd(m, m->nrecs);
		m->puts++;
		if (m->recs[i].order >= 0)
			pgdax_alloc_put(a, m->recs[i].off, (unsigned)m->recs[i].order);
		else
			pgdax_alloc_put_range(a, m->recs[i].off, m->recs[i].len);
		set_state(m, m->recs[i].off, m->recs[i].len, USED, FREE, opno);
		drop_rec(m, i);
	} else if (what < 74) {			/* put_range of a piece of a record */
		size_t i;
		struct rec r;

		if (!m->nrecs)
			return;
		i = (size_t)rnd(m, m->nrecs);
		r = m->recs[i];
		off = r.off + rnd(m, r.len);
		len = 1 + rnd(m, r.off + r.len - off);
		pgdax_alloc_put_range(a, off, len);
		m->put_ranges++;
		set_state(m, off, len, USED, FREE, opno);
		drop_rec(m, i);
		push_rec(m, r.off, off - r.off, -1);
		push_rec(m, off + len, r.off + r.len - off - len, -1);
	} else if (what < 92) {			/* reserve */
		bool expect_ok;

		off = rnd(m, m->n);
		len = 1 + rnd(m, rnd(m, 4) ? 8 : 200);
		if (off + len > m->n)
			len = m->n - off;
		expect_ok = all_state(m, off, len, FREE);
		rc = pgdax_alloc_reserve(a, off, len);
		if (!expect_ok) {
			m->ebusy++;
			REQUIRE(rc == -EBUSY, "seed %u op %llu: reserve -> %d, want -EBUSY",
				      m->seed0, (unsigned long long)opno, rc);
			REQUIRE(pgdax_alloc_free_pages(a) == m->nfree, "seed %u op %llu: free pages changed",
				m->seed0, (unsigned long long)opno);
			if (rnd(m, 8) == 0)	/* and nothing changed, block by block */
				check_against_model(a, m, opno);
			return;
		}
		REQUIRE(rc == 0, "seed %u op %llu: reserve of free range -> %d",
			      m->seed0, (unsigned long long)opno, rc);
		m->reserves++;
		set_state(m, off, len, FREE, USED, opno);
		push_rec(m, off, len, -1);
	} else {				/* add_free of never-added pages */
		off = rnd(m, m->n);
		len = 1 + rnd(m, 64);
		if (off + len > m->n)
			len = m->n - off;
		if (any_state(m, off, len, FREE)) {
			REQUIRE(pgdax_alloc_add_free(a, off, len) == -EEXIST,
				"seed %u op %llu: add_free over free pages", m->seed0, (unsigned long long)opno);
		} else if (all_state(m, off, len, UNADDED)) {
			REQUIRE(pgdax_alloc_add_free(a, off, len) == 0,
				"seed %u op %llu: add_free failed", m->seed0, (unsigned long long)opno);
			set_state(m, off, len, UNADDED, FREE, opno);
			m->adds++;
		}
	}
}

static void run_random(unsigned seed, uint64_t npages, uint64_t ops)
{
	struct model m = { .n = npages, .seed = seed, .seed0 = seed };
	struct pgdax_alloc *a = new_alloc(npages, false);

	printf("check_alloc: random ops, seed %u, %llu pages, %llu ops\n", seed,
	       (unsigned long long)npages, (unsigned long long)ops);
	fflush(stdout);
	m.st = calloc(npages, 1);
	ck_assert_ptr_nonnull(m.st);
	/* Start with about two thirds of the device given, in odd pieces. */
	for (uint64_t p = 0; p < npages; ) {
		uint64_t len = 1 + rnd(&m, 300);

		if (p + len > npages)
			len = npages - p;
		if (rnd(&m, 3)) {
			ck_assert_int_eq(pgdax_alloc_add_free(a, p, len), 0);
			set_state(&m, p, len, UNADDED, FREE, 0);
		}
		p += len;
	}
	check_against_model(a, &m, 0);
	for (uint64_t i = 1; i <= ops; i++) {
		random_op(a, &m, i);
		REQUIRE(pgdax_alloc_free_pages(a) == m.nfree,
			      "seed %u op %llu: free_pages %llu, model %llu", seed,
			      (unsigned long long)i, (unsigned long long)pgdax_alloc_free_pages(a),
			      (unsigned long long)m.nfree);
		if (i % 512 == 0)
			check_against_model(a, &m, i);
	}
	/* Return everything: the free set must be every page that was added. */
	while (m.nrecs) {
		struct rec r = m.recs[m.nrecs - 1];

		if (r.order >= 0)
			pgdax_alloc_put(a, r.off, (unsigned)r.order);
		else
			pgdax_alloc_put_range(a, r.off, r.len);
		set_state(&m, r.off, r.len, USED, FREE, ops + 1);
		m.nrecs--;
	}
	check_against_model(a, &m, ops + 1);
	printf("check_alloc: seed %u: %llu gets, %llu -ENOSPC, %llu puts, %llu partial put_ranges, "
	       "%llu reserves, %llu -EBUSY, %llu add_frees; %llu pages free at the end\n", seed,
	       (unsigned long long)m.gets, (unsigned long long)m.enospc, (unsigned long long)m.puts,
	       (unsigned long long)m.put_ranges, (unsigned long long)m.reserves,
	       (unsigned long long)m.ebusy, (unsigned long long)m.adds,
	       (unsigned long long)m.nfree);
	REQUIRE(m.gets > ops / 10 && m.enospc && m.puts && m.put_ranges && m.reserves && m.ebusy &&
		m.adds, "seed %u: the op mix did not exercise every path", seed);
	pgdax_alloc_delete(&a);
	free(m.st);
	free(m.recs);
}

static const unsigned random_seeds[] = { 1, 42, 20261121 };

START_TEST(test_random_ops_never_hand_out_a_page_twice_and_keep_free_plus_used_total)
{
	/* 3 seeds x 40k ops = 120k ops; odd device sizes on purpose. */
	run_random(random_seeds[_i], 3001 + 1000 * (uint64_t)_i, 40000);
}
END_TEST

/* ---- threads -------------------------------------------------------------- */

#define TH_NPAGES 8192
#define TH_THREADS 4
#define TH_OPS 40000
#define TH_HELD 48

struct th_shared {
	struct pgdax_alloc *a;
	unsigned char owner[TH_NPAGES];	/* 0 free, else thread id + 1 */
	_Atomic unsigned long errors;
};

struct th_arg {
	struct th_shared *s;
	unsigned id;
};

static bool claim(struct th_shared *s, uint64_t off, uint64_t len, unsigned char me)
{
	bool ok = true;

	for (uint64_t p = off; p < off + len; p++) {
		unsigned char zero = 0;

		if (!__atomic_compare_exchange_n(&s->owner[p], &zero, me, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			ok = false;
	}
	return ok;
}

static bool unclaim(struct th_shared *s, uint64_t off, uint64_t len, unsigned char me)
{
	bool ok = true;

	for (uint64_t p = off; p < off + len; p++) {
		unsigned char mine = me;

		if (!__atomic_compare_exchange_n(&s->owner[p], &mine, 0, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			ok = false;
	}
	return ok;
}

static void *th_main(void *p)
{
	struct th_arg *ta = p;
	struct th_shared *s = ta->s;
	unsigned char me = (unsigned char)(ta->id + 1);
	unsigned seed = 1000 + ta->id;
	struct rec held[TH_HELD];
	size_t n = 0;

	for (int i = 0; i < TH_OPS; i++) {
		unsigned what = (unsigned)rand_r(&seed) % 10;

		if (n == TH_HELD || (n && what < 4)) {
			size_t j = (size_t)rand_r(&seed) % n;

			if (!unclaim(s, held[j].off, held[j].len, me))
				s->errors++;
			if (held[j].order >= 0)
				pgdax_alloc_put(s->a, held[j].off, (unsigned)held[j].order);
			else
				pgdax_alloc_put_range(s->a, held[j].off, held[j].len);
			held[j] = held[--n];
		} else if (what < 9) {
			unsigned order = (unsigned)rand_r(&seed) % 5;
			struct pgdax_alloc_hint h = {
				.near = (uint64_t)rand_r(&seed) % TH_NPAGES,
				.align_order = (unsigned)rand_r(&seed) % 6,
			};
			uint64_t off;
			int rc = pgdax_alloc_get(s->a, order, (what & 1) ? &h : NULL, &off);

			if (rc == -ENOSPC)
				continue;
			if (rc || off % P(order) || off + P(order) > TH_NPAGES ||
			    !claim(s, off, P(order), me)) {
				s->errors++;
				continue;
			}
			held[n++] = (struct rec){ off, P(order), (int)order };
		} else {
			uint64_t off = (uint64_t)rand_r(&seed) % (TH_NPAGES - 16);
			uint64_t len = 1 + (uint64_t)rand_r(&seed) % 16;
			int rc = pgdax_alloc_reserve(s->a, off, len);

			if (rc == -EBUSY)
				continue;
			if (rc || !claim(s, off, len, me)) {
				s->errors++;
				continue;
			}
			held[n++] = (struct rec){ off, len, -1 };
		}
	}
	while (n) {
		n--;
		if (!unclaim(s, held[n].off, held[n].len, me))
			s->errors++;
		pgdax_alloc_put_range(s->a, held[n].off, held[n].len);
	}
	return NULL;
}

START_TEST(test_threads_allocating_and_freeing_concurrently_keep_the_invariants)
{
	static struct th_shared s;
	struct th_arg args[TH_THREADS];
	pthread_t th[TH_THREADS];

	memset(&s, 0, sizeof(s));
	s.a = new_alloc(TH_NPAGES, true);
	for (unsigned i = 0; i < TH_THREADS; i++) {
		args[i] = (struct th_arg){ &s, i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, th_main, &args[i]), 0);
	}
	for (unsigned i = 0; i < TH_THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_uint_eq(s.errors, 0);
	for (uint64_t p = 0; p < TH_NPAGES; p++)
		ck_assert_uint_eq(s.owner[p], 0);
	ck_assert_uint_eq(pgdax_alloc_free_pages(s.a), TH_NPAGES);
	assert_blocks(s.a, 1, (uint64_t[]){ 0 }, (unsigned[]){ 13 });
	pgdax_alloc_delete(&s.a);
}
END_TEST

/* ---- suite ---------------------------------------------------------------- */

static Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc;

	tc = tcase_create("exhaustion_and_coalescing");
	tcase_add_test(tc, test_exhaustion_returns_enospc);
	tcase_add_test(tc, test_no_block_large_enough_returns_enospc_and_changes_nothing);
	tcase_add_test(tc, test_frees_coalesce_back_to_one_max_extent);
	tcase_add_test(tc, test_device_larger_than_max_order_is_several_max_blocks);
	suite_add_tcase(s, tc);

	tc = tcase_create("add_free_and_arguments");
	tcase_add_test(tc, test_add_free_of_unaligned_range_splits_into_maximal_buddies);
	tcase_add_test(tc, test_add_free_of_already_free_pages_returns_eexist_and_changes_nothing);
	tcase_add_test(tc, test_bad_arguments_return_einval_and_change_nothing);
	tcase_add_test(tc, test_for_each_free_stops_at_first_nonzero_return);
	suite_add_tcase(s, tc);

	tc = tcase_create("policies");
	tcase_add_test(tc, test_align_hint_takes_result_from_block_carrying_the_alignment);
	tcase_add_test(tc, test_align_hint_with_near_gives_aligned_slot_after_near);
	tcase_add_test(tc, test_near_hint_prefers_lowest_block_at_or_after_near);
	tcase_add_test(tc, test_small_allocation_fills_a_broken_unit_before_breaking_a_whole_one);
	tcase_add_test(tc, test_near_hint_extends_contiguously_inside_a_big_block);
	tcase_add_test(tc, test_near_hint_skips_block_without_room_after_near);
	suite_add_tcase(s, tc);

	tc = tcase_create("reserve_and_put_range");
	tcase_add_test(tc, test_reserve_splits_the_free_blocks_around_the_range);
	tcase_add_test(tc, test_reserve_across_several_free_blocks);
	tcase_add_test(tc, test_reserve_of_partially_allocated_range_returns_ebusy_and_changes_nothing);
	tcase_add_test(tc, test_put_range_of_an_extent_tail_keeps_the_head_allocated);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse_aborts");
	tcase_add_test_raise_signal(tc, test_double_free_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_freeing_a_never_allocated_extent_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_freeing_an_extent_containing_free_pages_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_put_range_overlapping_free_pages_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_put_outside_the_device_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_put_of_a_misaligned_extent_aborts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_add_test(tc, test_allocator_of_2p40_pages_costs_memory_per_fragment_not_per_page);
	suite_add_tcase(s, tc);

	tc = tcase_create("randomized");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_random_ops_never_hand_out_a_page_twice_and_keep_free_plus_used_total,
			    0, (int)(sizeof(random_seeds) / sizeof(random_seeds[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_threads_allocating_and_freeing_concurrently_keep_the_invariants);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(alloc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
