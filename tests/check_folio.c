/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the folio table (lib/core/folio.c): every refcount transition
 * and the DESIGN.md section 3 invariants that apply to it. One suite, test
 * cases grouped by concern; a fixture gives each test a fresh pgmap with a
 * counting page_free, and the teardown proves the counters balance.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/pgmap.h"
#include "core/pgmap_internal.h"

#define NPAGES 1024

/* ---- fixture ------------------------------------------------------------ */

struct frees {
	_Atomic int n;
	uint64_t pgoff;
	unsigned order;
	void *owner;
	/* observations made inside page_free */
	int64_t live_during_free;
	uint32_t refcount_during_free;
	int request_during_free;
	bool try_get_during_free;
	bool idle_during_free, tail_idle_during_free;
	struct pgdax_folio *folio;	/* for try_get inside page_free */
};

static struct frees frees;
static struct pgdax_pgmap *pgmap;
static bool probe_in_free;
static int owner_a, owner_b;

static void count_free(struct pgdax_pgmap *pm, uint64_t pgoff, unsigned order,
		       void *owner, void *arg)
{
	struct frees *f = arg;
	struct pgdax_folio *other = NULL;

	f->pgoff = pgoff;
	f->order = order;
	f->owner = owner;
	if (probe_in_free) {
		f->live_during_free = pgmap_live_count(pm);
		f->refcount_during_free = pgmap_folio_refcount(pm, pgoff);
		f->request_during_free = pgmap_request_folio(pm, pgoff, order,
							     &owner_b, &other);
		f->try_get_during_free = f->folio ? folio_try_get(f->folio) : false;
		f->idle_during_free = pgmap_folio_idle(pm, pgoff);
		f->tail_idle_during_free = order ? pgmap_folio_idle(pm, pgoff + 1) : false;
	}
	atomic_fetch_add(&f->n, 1);
}

static const struct pgmap_ops ops = { .page_free = count_free };

static void setup(void)
{
	memset(&frees, 0, sizeof(frees));
	probe_in_free = false;
	ck_assert_int_eq(pgmap_new(NULL, 12, NPAGES, &ops, &frees, &pgmap), 0);
}

static void teardown(void)
{
	if (!pgmap)
		return;
	/* every test drops what it took: the counters must balance */
	ck_assert_uint_eq(pgmap_active_folios(pgmap), 0);
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_drain(pgmap, 1000), 0);
	ck_assert_int_eq(pgmap_live_count(pgmap), 0);
	ck_assert_uint_eq(pgmap_drained_events(pgmap), 1);
	ck_assert_int_eq(pgmap_release(&pgmap), 0);
}

static struct pgdax_folio *request_ok(uint64_t pgoff, unsigned order, void *owner)
{
	struct pgdax_folio *f = NULL;

	ck_assert_int_eq(pgmap_request_folio(pgmap, pgoff, order, owner, &f), 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

/* Everything a failed request must leave untouched. */
struct snap {
	int64_t live;
	uint64_t active;
	int frees;
	uint32_t words[8];
};

static struct snap take_snap(const uint64_t *offs, int n)
{
	struct snap s = {
		.live = pgmap_live_count(pgmap),
		.active = pgmap_active_folios(pgmap),
		.frees = atomic_load(&frees.n),
	};
	int i;

	for (i = 0; i < n; i++)
		s.words[i] = pgmap_folio_word(pgmap, offs[i]);
	return s;
}

static void assert_same(const struct snap *a, const struct snap *b, int n)
{
	int i;

	ck_assert_int_eq(a->live, b->live);
	ck_assert_uint_eq(a->active, b->active);
	ck_assert_int_eq(a->frees, b->frees);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(a->words[i], b->words[i]);
}

/* ---- request (the only 0 -> 1) ------------------------------------------ */

START_TEST(test_request_activates_idle_extent_with_one_reference_and_two_pow_order_live_units)
{
	struct pgdax_folio *f = request_ok(8, 3, &owner_a);

	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 8), 1);
	ck_assert_uint_eq(folio_pgoff(f), 8);
	ck_assert_uint_eq(folio_order(f), 3);
	ck_assert_uint_eq(pgmap_active_folios(pgmap), 1);
	/* invariant 2: 1 (not killed) + 2^order */
	ck_assert_int_eq(pgmap_live_count(pgmap), 1 + 8);
	ck_assert_ptr_null(folio_addr(f));	/* no device */
	folio_put(f);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
}
END_TEST

START_TEST(test_request_on_busy_extent_returns_ebusy_and_changes_nothing)
{
	uint64_t offs[] = { 16 };
	struct pgdax_folio *f = request_ok(16, 2, &owner_a), *g = NULL;
	struct snap before, after;

	folio_get(f);
	before = take_snap(offs, 1);
	ck_assert_int_eq(pgmap_request_folio(pgmap, 16, 2, &owner_b, &g), -EBUSY);
	ck_assert_ptr_null(g);
	after = take_snap(offs, 1);
	assert_same(&before, &after, 1);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 16), 2);
	folio_put(f);
	folio_put(f);
	/* the failed request ran no free path: exactly one page_free */
	ck_assert_int_eq(atomic_load(&frees.n), 1);
	ck_assert_ptr_eq(frees.owner, &owner_a);
}
END_TEST

START_TEST(test_bad_offset_order_or_alignment_returns_einval_and_changes_nothing)
{
	static const struct { uint64_t pgoff; unsigned order; } bad[] = {
		{ NPAGES, 0 },		/* beyond the end */
		{ UINT64_MAX, 0 },	/* far beyond */
		{ 3, 1 },		/* not aligned to its order */
		{ 4, 3 },		/* not aligned */
		{ NPAGES - 4, 3 },	/* aligned? no: and would run past the end */
		{ 0, 11 },		/* 2048 pages > 1024 */
		{ 0, 31 },		/* order beyond the limit */
		{ 0, 200 },
	};
	uint64_t offs[] = { 0, 3, 4, NPAGES - 4 };
	struct pgdax_folio *f = request_ok(512, 0, &owner_a), *g;
	struct snap before, after;
	size_t i;

	before = take_snap(offs, 4);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		g = NULL;
		ck_assert_int_eq(pgmap_request_folio(pgmap, bad[i].pgoff,
						     bad[i].order, &owner_b, &g), -EINVAL);
		ck_assert_ptr_null(g);
		ck_assert_int_eq(pgmap_get_folio(pgmap, bad[i].pgoff,
						 bad[i].order, &owner_b, &g), -EINVAL);
		ck_assert_ptr_null(g);
	}
	ck_assert_int_eq(pgmap_request_folio(pgmap, 0, 0, &owner_b, NULL), -EINVAL);
	ck_assert_int_eq(pgmap_get_folio(pgmap, 0, 0, &owner_b, NULL), -EINVAL);
	after = take_snap(offs, 4);
	assert_same(&before, &after, 4);
	ck_assert_uint_eq(pgmap_table_chunks(pgmap), 1);
	folio_put(f);
}
END_TEST

START_TEST(test_tail_offset_of_active_extent_returns_einval_and_changes_nothing)
{
	uint64_t offs[] = { 64, 65, 66, 127 };
	struct pgdax_folio *f = request_ok(64, 6, &owner_a), *g = NULL;
	struct snap before, after;

	before = take_snap(offs, 4);
	ck_assert_int_eq(pgmap_request_folio(pgmap, 65, 0, &owner_b, &g), -EINVAL);
	ck_assert_int_eq(pgmap_request_folio(pgmap, 66, 1, &owner_b, &g), -EINVAL);
	ck_assert_int_eq(pgmap_request_folio(pgmap, 96, 5, &owner_b, &g), -EINVAL);
	ck_assert_int_eq(pgmap_request_folio(pgmap, 127, 0, &owner_b, &g), -EINVAL);
	ck_assert_int_eq(pgmap_get_folio(pgmap, 127, 0, &owner_b, &g), -EINVAL);
	ck_assert_ptr_null(g);
	after = take_snap(offs, 4);
	assert_same(&before, &after, 4);
	/* just past the extent is free to use */
	g = request_ok(128, 0, &owner_b);
	folio_put(g);
	folio_put(f);
}
END_TEST

START_TEST(test_overlap_with_active_extent_of_another_order_returns_einval)
{
	uint64_t offs[] = { 0, 4, 8 };
	struct pgdax_folio *small = request_ok(4, 0, &owner_a), *g = NULL;
	struct pgdax_folio *big = request_ok(32, 4, &owner_a);
	struct snap before, after;

	before = take_snap(offs, 3);
	/* a larger extent would contain the active page 4 */
	ck_assert_int_eq(pgmap_request_folio(pgmap, 0, 3, &owner_b, &g), -EINVAL);
	ck_assert_int_eq(pgmap_request_folio(pgmap, 0, 5, &owner_b, &g), -EINVAL);
	/* same head, other order */
	ck_assert_int_eq(pgmap_request_folio(pgmap, 32, 3, &owner_b, &g), -EINVAL);
	ck_assert_int_eq(pgmap_request_folio(pgmap, 32, 5, &owner_b, &g), -EINVAL);
	ck_assert_int_eq(pgmap_get_folio(pgmap, 32, 3, &owner_b, &g), -EINVAL);
	ck_assert_ptr_null(g);
	after = take_snap(offs, 3);
	assert_same(&before, &after, 3);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 32), 1);
	folio_put(small);
	folio_put(big);
}
END_TEST

START_TEST(test_extents_split_and_merge_while_idle)
{
	struct pgdax_folio *f = request_ok(0, 2, &owner_a), *a, *b;

	folio_put(f);
	a = request_ok(0, 1, &owner_a);
	b = request_ok(2, 0, &owner_b);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1 + 2 + 1);
	folio_put(a);
	folio_put(b);
	f = request_ok(0, 2, &owner_a);
	ck_assert_uint_eq(folio_order(f), 2);
	folio_put(f);
	ck_assert_int_eq(atomic_load(&frees.n), 4);
}
END_TEST

START_TEST(test_request_for_whole_pgmap_extent_works_at_the_largest_order)
{
	struct pgdax_folio *f = request_ok(0, 10, &owner_a), *g = NULL;

	ck_assert_int_eq(pgmap_live_count(pgmap), 1 + NPAGES);
	ck_assert_int_eq(pgmap_request_folio(pgmap, NPAGES - 1, 0, &owner_b, &g), -EINVAL);
	folio_put(f);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
}
END_TEST

/* ---- further references --------------------------------------------------- */

START_TEST(test_only_the_last_of_several_references_frees_the_extent)
{
	struct pgdax_folio *f = request_ok(5, 0, &owner_a);

	folio_get(f);
	ck_assert(folio_try_get(f));
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 5), 3);
	folio_put(f);
	folio_put(f);
	ck_assert_int_eq(atomic_load(&frees.n), 0);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 5), 1);
	folio_put(f);
	ck_assert_int_eq(atomic_load(&frees.n), 1);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 5), 0);
}
END_TEST

START_TEST(test_try_get_on_idle_extent_fails_and_changes_nothing)
{
	struct pgdax_folio *f = request_ok(6, 0, &owner_a);

	folio_put(f);
	ck_assert(!folio_try_get(f));
	ck_assert_uint_eq(pgmap_folio_word(pgmap, 6), 0);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
}
END_TEST

START_TEST(test_get_folio_activates_idle_extent_then_shares_it)
{
	struct pgdax_folio *f = NULL, *g = NULL;

	ck_assert_int_eq(pgmap_get_folio(pgmap, 40, 3, &owner_a, &f), 0);
	ck_assert_int_eq(pgmap_get_folio(pgmap, 40, 3, &owner_b, &g), 0);
	ck_assert_ptr_eq(f, g);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 40), 2);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1 + 8);
	folio_put(g);
	folio_put(f);
	ck_assert_int_eq(atomic_load(&frees.n), 1);
	ck_assert_ptr_eq(frees.owner, &owner_a);	/* the activator's owner */
}
END_TEST

/* ---- the 1 -> 0 ------------------------------------------------------------ */

START_TEST(test_page_free_runs_once_per_successful_request_with_its_extent)
{
	struct pgdax_folio *f;
	int i;

	for (i = 0; i < 100; i++) {
		f = request_ok(256, 4, &owner_b);
		folio_put(f);
		ck_assert_int_eq(atomic_load(&frees.n), i + 1);
	}
	ck_assert_uint_eq(frees.pgoff, 256);
	ck_assert_uint_eq(frees.order, 4);
	ck_assert_ptr_eq(frees.owner, &owner_b);
}
END_TEST

START_TEST(test_freed_extent_state_is_reset)
{
	struct pgdax_folio *f = request_ok(96, 5, &owner_a);

	ck_assert(!pgmap_folio_state_is_reset(pgmap, 96));
	folio_put(f);
	ck_assert(pgmap_folio_state_is_reset(pgmap, 96));
	ck_assert_uint_eq(pgmap_folio_word(pgmap, 96), 0);	/* order 0, no flags */
	ck_assert_uint_eq(pgmap_active_folios(pgmap), 0);
	/* reusable at another order, with another owner */
	f = request_ok(96, 0, &owner_b);
	ck_assert_uint_eq(folio_order(f), 0);
	folio_put(f);
	ck_assert_ptr_eq(frees.owner, &owner_b);
	ck_assert_uint_eq(frees.order, 0);
}
END_TEST

START_TEST(test_freeing_extent_is_busy_and_live_units_drop_after_page_free)
{
	struct pgdax_folio *f = request_ok(128, 2, &owner_a);

	probe_in_free = true;
	frees.folio = f;
	folio_put(f);
	ck_assert_int_eq(atomic_load(&frees.n), 1);
	/* inside page_free: still holding the extent's 4 units */
	ck_assert_int_eq(frees.live_during_free, 1 + 4);
	ck_assert_uint_eq(frees.refcount_during_free, 0);
	ck_assert_int_eq(frees.request_during_free, -EBUSY);
	ck_assert(!frees.try_get_during_free);
	/* a count of 0 is not idle: FREEING is busy, head and tail pages */
	ck_assert(!frees.idle_during_free);
	ck_assert(!frees.tail_idle_during_free);
	ck_assert(pgmap_folio_idle(pgmap, 128) && pgmap_folio_idle(pgmap, 129));
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
}
END_TEST

START_TEST(test_put_at_zero_aborts)
{
	struct pgdax_folio *f = request_ok(7, 0, &owner_a);

	folio_put(f);
	folio_put(f);	/* aborts */
}
END_TEST

START_TEST(test_get_at_zero_aborts)
{
	struct pgdax_folio *f = request_ok(7, 0, &owner_a);

	folio_put(f);
	folio_get(f);	/* aborts */
}
END_TEST

/* ---- overflow ---------------------------------------------------------------- */

static struct pgdax_folio *saturate(uint64_t pgoff)
{
	struct pgdax_folio *f = request_ok(pgoff, 0, &owner_a);
	uint32_t i, max = pgmap_folio_count_max();

	for (i = 1; i < max; i++)
		folio_get(f);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, pgoff), max);
	return f;
}

START_TEST(test_try_get_and_get_folio_refuse_before_the_count_overflows)
{
	struct pgdax_folio *f = saturate(9), *g = NULL;
	uint32_t i, max = pgmap_folio_count_max();

	ck_assert(!folio_try_get(f));
	ck_assert_int_eq(pgmap_get_folio(pgmap, 9, 0, &owner_a, &g), -EOVERFLOW);
	ck_assert_ptr_null(g);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 9), max);
	ck_assert_uint_eq(folio_order(f), 0);
	for (i = 0; i < max; i++)
		folio_put(f);
	ck_assert_int_eq(atomic_load(&frees.n), 1);
}
END_TEST

START_TEST(test_folio_get_aborts_before_the_count_overflows)
{
	struct pgdax_folio *f = saturate(9);

	folio_get(f);	/* aborts */
}
END_TEST

/* ---- kill --------------------------------------------------------------------- */

START_TEST(test_after_kill_every_request_returns_enxio)
{
	struct pgdax_folio *f = NULL;
	uint64_t off;

	pgmap_kill(pgmap);
	for (off = 0; off < NPAGES; off += 8) {
		ck_assert_int_eq(pgmap_request_folio(pgmap, off, 0, &owner_a, &f), -ENXIO);
		ck_assert_int_eq(pgmap_request_folio(pgmap, off, 3, &owner_a, &f), -ENXIO);
		ck_assert_int_eq(pgmap_get_folio(pgmap, off, 3, &owner_a, &f), -ENXIO);
	}
	ck_assert_ptr_null(f);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
	ck_assert_int_eq(atomic_load(&frees.n), 0);
}
END_TEST

START_TEST(test_try_get_on_active_extent_fails_after_kill_and_old_references_drain)
{
	struct pgdax_folio *f = request_ok(24, 3, &owner_a), *g = NULL;

	folio_get(f);
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_DYING);
	/* a new holder of an active extent is refused */
	ck_assert(!folio_try_get(f));
	ck_assert_int_eq(pgmap_get_folio(pgmap, 24, 3, &owner_a, &g), -ENXIO);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 24), 2);
	ck_assert_int_eq(pgmap_live_count(pgmap), 8);
	/* old work keeps being served: a holder may still duplicate its ref */
	folio_get(f);
	folio_put(f);
	folio_put(f);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), -ETIMEDOUT);
	folio_put(f);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_DRAINED);
	ck_assert_int_eq(pgmap_live_count(pgmap), 0);
	ck_assert_int_eq(atomic_load(&frees.n), 1);
	ck_assert_int_eq(pgmap_release(&pgmap), 0);
}
END_TEST

/* ---- waiting for idle -------------------------------------------------------- */

struct waiter {
	uint64_t pgoff;
	int timeout_ms;
	int ret;
	_Atomic bool started;
	_Atomic bool returned;
	_Atomic bool interrupt;
	bool use_interrupt;
};

static bool check_interrupt(void *arg)
{
	struct waiter *w = arg;

	return atomic_load(&w->interrupt);
}

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->started, true);
	w->ret = pgmap_wait_idle(pgmap, w->pgoff, w->timeout_ms,
				 w->use_interrupt ? check_interrupt : NULL, w);
	atomic_store(&w->returned, true);
	return NULL;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

START_TEST(test_wait_idle_returns_at_once_on_idle_extent)
{
	ck_assert_int_eq(pgmap_wait_idle(pgmap, 3, 0, NULL, NULL), 0);
	ck_assert_int_eq(pgmap_wait_idle(pgmap, 3, -1, NULL, NULL), 0);
	ck_assert_int_eq(pgmap_wait_idle(pgmap, NPAGES, 0, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_wait_idle_times_out_with_etimedout)
{
	struct pgdax_folio *f = request_ok(3, 0, &owner_a);
	struct timespec a, b;
	long ms;

	ck_assert_int_eq(pgmap_wait_idle(pgmap, 3, 0, NULL, NULL), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(pgmap_wait_idle(pgmap, 3, 150, NULL, NULL), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 140);
	ck_assert_int_lt(ms, 5000);
	folio_put(f);
}
END_TEST

static void wait_for_sleeper(struct waiter *w, uint64_t head)
{
	int i;

	while (!atomic_load(&w->started))
		msleep(1);
	/* the waiter announces itself with the WAITERS bit before sleeping */
	for (i = 0; i < 5000 && !(pgmap_folio_word(pgmap, head) & (1u << 31)); i++)
		msleep(1);
	ck_assert(pgmap_folio_word(pgmap, head) & (1u << 31));
}

START_TEST(test_wait_idle_wakes_on_the_last_put)
{
	struct pgdax_folio *f = request_ok(10, 1, &owner_a);
	/* bounded: a lost wake-up fails with -ETIMEDOUT instead of hanging */
	struct waiter w = { .pgoff = 10, .timeout_ms = 10000 };
	pthread_t t;

	folio_get(f);
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	wait_for_sleeper(&w, 10);
	folio_put(f);	/* 2 -> 1: not idle, keeps sleeping */
	msleep(50);
	ck_assert(!atomic_load(&w.returned));
	folio_put(f);	/* 1 -> 0 wakes it */
	pthread_join(t, NULL);
	ck_assert_int_eq(w.ret, 0);
	ck_assert_uint_eq(pgmap_folio_word(pgmap, 10), 0);	/* WAITERS cleared */
}
END_TEST

START_TEST(test_wait_idle_on_a_tail_page_waits_for_the_containing_extent)
{
	struct pgdax_folio *f = request_ok(192, 6, &owner_a);
	struct waiter w = { .pgoff = 200, .timeout_ms = 10000 };
	pthread_t t;

	ck_assert_int_eq(pgmap_wait_idle(pgmap, 255, 0, NULL, NULL), -ETIMEDOUT);
	ck_assert_int_eq(pgmap_wait_idle(pgmap, 256, 0, NULL, NULL), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	wait_for_sleeper(&w, 192);
	ck_assert(!atomic_load(&w.returned));
	folio_put(f);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.ret, 0);
}
END_TEST

START_TEST(test_wait_idle_returns_eintr_when_interrupted)
{
	struct pgdax_folio *f = request_ok(11, 0, &owner_a);
	struct waiter w = { .pgoff = 11, .timeout_ms = -1, .use_interrupt = true };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	wait_for_sleeper(&w, 11);
	atomic_store(&w.interrupt, true);	/* polled within 100 ms */
	pthread_join(t, NULL);
	ck_assert_int_eq(w.ret, -EINTR);
	ck_assert_uint_eq(pgmap_folio_refcount(pgmap, 11), 1);
	folio_put(f);
}
END_TEST

START_TEST(test_get_folio_waits_out_a_freeing_extent_instead_of_failing)
{
	/* covered under contention by the stress test; here: the idle path */
	struct pgdax_folio *f = request_ok(12, 0, &owner_a), *g = NULL;

	folio_put(f);
	ck_assert_int_eq(pgmap_get_folio(pgmap, 12, 0, &owner_b, &g), 0);
	ck_assert_ptr_eq(f, g);
	folio_put(g);
	ck_assert_int_eq(atomic_load(&frees.n), 2);
}
END_TEST

/* ---- memory --------------------------------------------------------------------- */

START_TEST(test_folio_table_of_a_1tib_pgmap_stays_small)
{
	const uint64_t npages = UINT64_C(1) << 28;	/* 1 TiB of 4 KiB pages */
	struct pgdax_pgmap *big = NULL;
	struct pgdax_folio *f[4];
	struct mallinfo2 m0, m1;
	uint64_t offs[4] = { 0, npages / 3 & ~UINT64_C(511), npages / 2, npages - 512 };
	int i;

	m0 = mallinfo2();
	ck_assert_int_eq(pgmap_new(NULL, 12, npages, NULL, NULL, &big), 0);
	ck_assert_uint_le(pgmap_table_bytes(big), 512 * 1024);
	ck_assert_uint_eq(pgmap_table_chunks(big), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pgmap_request_folio(big, offs[i], 9, NULL, &f[i]), 0);
	ck_assert_uint_eq(pgmap_table_chunks(big), 4);
	ck_assert_int_eq(pgmap_live_count(big), 1 + 4 * 512);
	/* first level + 4 chunks of 8192 16-byte entries */
	ck_assert_uint_le(pgmap_table_bytes(big), 512 * 1024 + 4 * (128 * 1024 + 128));
	m1 = mallinfo2();
	ck_assert_uint_lt((m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd),
			  4 * 1024 * 1024);
	for (i = 0; i < 4; i++)
		folio_put(f[i]);
	pgmap_kill(big);
	ck_assert_int_eq(pgmap_drain(big, 0), 0);
	ck_assert_int_eq(pgmap_release(&big), 0);
}
END_TEST

START_TEST(test_active_folios_counts_active_extents_not_references)
{
	struct pgdax_folio *f[10];
	int i;

	for (i = 0; i < 10; i++)
		f[i] = request_ok((uint64_t)i * 16, 2, &owner_a);
	folio_get(f[0]);
	ck_assert_uint_eq(pgmap_active_folios(pgmap), 10);
	for (i = 0; i < 10; i++)
		folio_put(f[i]);
	ck_assert_uint_eq(pgmap_active_folios(pgmap), 1);
	folio_put(f[0]);
	ck_assert_uint_eq(pgmap_active_folios(pgmap), 0);
}
END_TEST

static Suite *folio_suite(void)
{
	Suite *s = suite_create("folio");
	TCase *tc;

	tc = tcase_create("request");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_request_activates_idle_extent_with_one_reference_and_two_pow_order_live_units);
	tcase_add_test(tc, test_request_on_busy_extent_returns_ebusy_and_changes_nothing);
	tcase_add_test(tc, test_bad_offset_order_or_alignment_returns_einval_and_changes_nothing);
	tcase_add_test(tc, test_tail_offset_of_active_extent_returns_einval_and_changes_nothing);
	tcase_add_test(tc, test_overlap_with_active_extent_of_another_order_returns_einval);
	tcase_add_test(tc, test_extents_split_and_merge_while_idle);
	tcase_add_test(tc, test_request_for_whole_pgmap_extent_works_at_the_largest_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("references");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_only_the_last_of_several_references_frees_the_extent);
	tcase_add_test(tc, test_try_get_on_idle_extent_fails_and_changes_nothing);
	tcase_add_test(tc, test_get_folio_activates_idle_extent_then_shares_it);
	tcase_add_test(tc, test_get_folio_waits_out_a_freeing_extent_instead_of_failing);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_page_free_runs_once_per_successful_request_with_its_extent);
	tcase_add_test(tc, test_freed_extent_state_is_reset);
	tcase_add_test(tc, test_freeing_extent_is_busy_and_live_units_drop_after_page_free);
	tcase_add_test_raise_signal(tc, test_put_at_zero_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_get_at_zero_aborts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("overflow");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_try_get_and_get_folio_refuse_before_the_count_overflows);
	tcase_add_test_raise_signal(tc, test_folio_get_aborts_before_the_count_overflows, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("kill");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_after_kill_every_request_returns_enxio);
	tcase_add_test(tc, test_try_get_on_active_extent_fails_after_kill_and_old_references_drain);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait_idle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_wait_idle_returns_at_once_on_idle_extent);
	tcase_add_test(tc, test_wait_idle_times_out_with_etimedout);
	tcase_add_test(tc, test_wait_idle_wakes_on_the_last_put);
	tcase_add_test(tc, test_wait_idle_on_a_tail_page_waits_for_the_containing_extent);
	tcase_add_test(tc, test_wait_idle_returns_eintr_when_interrupted);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_folio_table_of_a_1tib_pgmap_stays_small);
	tcase_add_test(tc, test_active_folios_counts_active_extents_not_references);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(folio_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
