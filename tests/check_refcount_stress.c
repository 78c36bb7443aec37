/* SPDX-License-Identifier: MIT */
/*
 * Refcount races (DESIGN.md section 3, "Hazards the stress tests must
 * race"), each bounded in time, with the seed printed so a failure can be
 * replayed (PGDAX_STRESS_SEED=N). PGDAX_STRESS_MS sets the time per test;
 * under ThreadSanitizer the default is smaller.
 *
 * Every test ends by proving the counters balance: every extent idle, no
 * active folio, live count 0 after kill, the drained event fired once,
 * page_free count == successful activations, and page_free never ran while
 * a holder the test knows of still held the extent (shadow counts).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "core/pgmap.h"
#include "core/pgmap_internal.h"
#include "stress_run.h"

#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif
#ifdef STRESS_TSAN
#define DEFAULT_MS 800
#define NTHREADS 3
#else
#define DEFAULT_MS 3000
#define NTHREADS 4
#endif

#define NPAGES		4096
#define NSHARED		8	/* extents requested by every thread */
#define SHARED_BASE	0	/* order 1: pages 0..15 */
#define NGET		8	/* extents taken with pgmap_get_folio */
#define GET_BASE	64	/* order 2: pages 64..95 */
#define PRIV_BASE	1024	/* per thread: 64 pages, order 0..3 */

static uint64_t seed;
static int run_ms;
static _Atomic int failures;

static void stress_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "stress (seed %llu): ", (unsigned long long)seed);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	atomic_fetch_add(&failures, 1);
}

#define CHECK(cond, ...) do { if (!(cond)) stress_fail(__VA_ARGS__); } while (0)

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void spin_us(uint64_t us)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((uint64_t)((b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec)) < us * 1000);
}

/* ---- shared state: shadow counts and page_free accounting ----------------- */

struct world {
	struct pgdax_pgmap *pgmap;
	_Atomic int shadow[NPAGES];	/* holders the test knows of, per head */
	_Atomic int in_free[NPAGES];	/* page_free running for this head */
	_Atomic uint64_t frees;		/* of extents activated by request */
	_Atomic uint64_t get_frees;	/* of extents activated by get_folio */
	_Atomic uint64_t activations;	/* successful pgmap_request_folio() */
	_Atomic bool slow_free;		/* widen the FREEING window */
	_Atomic bool stop;
	_Atomic bool killed;		/* set after pgmap_kill() returned */
	_Atomic uint64_t after_kill_successes;
	struct pgdax_folio *shared_folio[NSHARED];
};

static struct world *W;
/* owner cookies: who activated the extent being freed */
static int REQ, GET;

static void stress_page_free(struct pgdax_pgmap *pm, uint64_t pgoff, unsigned order,
			     void *owner, void *arg)
{
	struct world *w = arg;

	CHECK(atomic_load(&w->shadow[pgoff]) == 0,
	      "page_free(%llu) while %d holders remain", (unsigned long long)pgoff,
	      atomic_load(&w->shadow[pgoff]));
	CHECK(atomic_exchange(&w->in_free[pgoff], 1) == 0,
	      "page_free(%llu) ran twice at once", (unsigned long long)pgoff);
	CHECK(pgmap_folio_refcount(pm, pgoff) == 0, "page_free on a referenced extent");
	CHECK(owner == &REQ || owner == &GET, "page_free with a foreign owner %p", owner);
	if (atomic_load_explicit(&w->slow_free, memory_order_relaxed))
		spin_us(2);
	atomic_store(&w->in_free[pgoff], 0);
	atomic_fetch_add(owner == &GET ? &w->get_frees : &w->frees, 1);
}

static const struct pgmap_ops stress_ops = { .page_free = stress_page_free };

static void world_new(void)
{
	W = calloc(1, sizeof(*W));
	ck_assert_ptr_nonnull(W);
	ck_assert_int_eq(pgmap_new(NULL, 12, NPAGES, &stress_ops, W, &W->pgmap), 0);
}

/* Counters balance: all idle, nothing active, frees == activations. */
static void world_check_quiescent(void)
{
	uint64_t p;

	for (p = 0; p < NPAGES; p++) {
		if (pgmap_folio_word(W->pgmap, p) != 0) {
			stress_fail("extent %llu not idle at the end: word %#x",
			     (unsigned long long)p, pgmap_folio_word(W->pgmap, p));
			break;
		}
		if (atomic_load(&W->shadow[p]) != 0) {
			stress_fail("shadow count of %llu is %d", (unsigned long long)p,
			     atomic_load(&W->shadow[p]));
			break;
		}
	}
	ck_assert_uint_eq(pgmap_active_folios(W->pgmap), 0);
	ck_assert_uint_eq(atomic_load(&W->frees), atomic_load(&W->activations));
}

static void world_kill_drain_release(void)
{
	pgmap_kill(W->pgmap);
	ck_assert_int_eq(pgmap_drain(W->pgmap, 10000), 0);
	ck_assert_int_eq(pgmap_live_count(W->pgmap), 0);
	ck_assert_int_eq(pgmap_state(W->pgmap), PGMAP_DRAINED);
	ck_assert_uint_eq(pgmap_drained_events(W->pgmap), 1);
	ck_assert_int_eq(pgmap_release(&W->pgmap), 0);
	free(W);
	W = NULL;
	{
		int nfail = atomic_load(&failures);

		ck_assert_msg(nfail == 0, "%d failed checks (seed %llu)", nfail,
			      (unsigned long long)seed);
	}
}

/* Take/drop with the shadow kept in step (shadow++ after a get, -- before a put). */
static void hold(struct pgdax_folio *f) { atomic_fetch_add(&W->shadow[folio_pgoff(f)], 1); }
static void drop(struct pgdax_folio *f)
{
	atomic_fetch_sub(&W->shadow[folio_pgoff(f)], 1);
	folio_put(f);
}

static void run_threads(void *(*fn)(void *), int n)
{
	pthread_t t[16];
	uint64_t ids[16];
	int i;

	for (i = 0; i < n; i++) {
		ids[i] = (uint64_t)i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, fn, &ids[i]), 0);
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/*
 * One random operation. @dying_ok: -ENXIO/false are acceptable (a kill is
 * racing); after W->killed was seen *before* the operation started, any
 * success is an error (invariant 6, R3).
 */
static int one_op(uint64_t id, uint64_t *rs, bool dying_ok)
{
	struct pgdax_pgmap *pm = W->pgmap;
	bool killed_before = atomic_load(&W->killed);
	struct pgdax_folio *f = NULL;
	uint64_t r = rnd(rs), pgoff;
	unsigned order;
	int ret, i;

	switch (r % 6) {
	case 0:	/* private extent: never busy */
		order = (unsigned)(r >> 8) % 4;
		pgoff = PRIV_BASE + id * 64 + (((r >> 16) % (64 >> order)) << order);
		ret = pgmap_request_folio(pm, pgoff, order, &REQ, &f);
		if (ret == -ENXIO && dying_ok)
			return ret;
		if (ret == -EINVAL)	/* overlaps our own active one: none held */
			stress_fail("private request (%llu,%u): %d", (unsigned long long)pgoff, order, ret);
		CHECK(ret == 0, "private request (%llu,%u) = %d",
		      (unsigned long long)pgoff, order, ret);
		if (ret)
			return ret;
		CHECK(!killed_before, "request succeeded after kill returned");
		atomic_fetch_add(&W->activations, 1);
		hold(f);
		drop(f);
		return 0;
	case 1:	/* two requests racing on one offset */
		i = (int)((r >> 8) % NSHARED);
		ret = pgmap_request_folio(pm, SHARED_BASE + 2 * (uint64_t)i, 1, &REQ, &f);
		/* -EINVAL: a larger overlapping extent (case 5) is active */
		CHECK(ret == 0 || ret == -EBUSY || ret == -EINVAL ||
		      (dying_ok && ret == -ENXIO), "shared request = %d", ret);
		if (ret)
			return ret;
		CHECK(!killed_before, "request succeeded after kill returned");
		atomic_fetch_add(&W->activations, 1);
		hold(f);
		if (r & 0x100000) {
			folio_get(f);
			hold(f);
			sched_yield();
			drop(f);
		}
		drop(f);
		return 0;
	case 2:	/* try_get racing 1 -> 0 and FREEING */
		f = W->shared_folio[(r >> 8) % NSHARED];
		if (!folio_try_get(f))
			return -EBUSY;
		CHECK(!killed_before, "try_get succeeded after kill returned");
		hold(f);
		CHECK(pgmap_folio_refcount(pm, folio_pgoff(f)) >= 1, "try_get on idle");
		if (r & 0x200000)
			sched_yield();
		drop(f);
		return 0;
	case 3:	/* get_folio: try_get else request; never a spurious -EBUSY */
		pgoff = GET_BASE + 4 * ((r >> 8) % NGET);
		ret = pgmap_get_folio(pm, pgoff, 2, &GET, &f);
		CHECK(ret == 0 || (dying_ok && ret == -ENXIO), "get_folio = %d", ret);
		if (ret)
			return ret;
		CHECK(!killed_before, "get_folio succeeded after kill returned");
		hold(f);
		CHECK(folio_order(f) == 2 && folio_pgoff(f) == pgoff, "get_folio: wrong extent");
		if (r & 0x400000) {
			if (folio_try_get(f)) {
				hold(f);
				drop(f);
			} else {
				CHECK(dying_ok, "try_get on a held extent failed while live");
			}
		}
		drop(f);
		return 0;
	case 4:	/* waiters racing wake-ups */
		pgoff = GET_BASE + 4 * ((r >> 8) % NGET) + ((r >> 16) & 3);
		ret = pgmap_wait_idle(pm, pgoff, 1, NULL, NULL);
		CHECK(ret == 0 || ret == -ETIMEDOUT, "wait_idle = %d", ret);
		return 0;
	default: /* overlapping orders on the shared area: -EINVAL/-EBUSY, never a double activation */
		order = (unsigned)(r >> 8) % 3 + 2;	/* 4..16 pages over order-1 extents */
		pgoff = SHARED_BASE + (((r >> 16) % (16 >> order)) << order);
		ret = pgmap_request_folio(pm, pgoff, order, &REQ, &f);
		CHECK(ret == 0 || ret == -EBUSY || ret == -EINVAL || (dying_ok && ret == -ENXIO),
		      "overlapping request = %d", ret);
		if (ret)
			return ret;
		CHECK(!killed_before, "request succeeded after kill returned");
		atomic_fetch_add(&W->activations, 1);
		hold(f);
		drop(f);
		return 0;
	}
}

static void take_shared_pointers(void)
{
	int i;

	/* folio pointers stay valid memory for the pgmap's life: try_get on them */
	for (i = 0; i < NSHARED; i++) {
		ck_assert_int_eq(pgmap_request_folio(W->pgmap, SHARED_BASE + 2 * (uint64_t)i,
						     1, &REQ, &W->shared_folio[i]), 0);
		atomic_fetch_add(&W->activations, 1);
		folio_put(W->shared_folio[i]);
	}
}

/* ---- 1. mixed operations on shared and private extents ------------------- */

static void *mixed_thread(void *arg)
{
	uint64_t id = *(uint64_t *)arg, rs = seed * 7919 + id + 1, end = now_ms() + (uint64_t)run_ms;
	unsigned n = 0;

	while ((++n & 255) || now_ms() < end)
		one_op(id, &rs, false);
	return NULL;
}

START_TEST(test_concurrent_requests_gets_and_puts_keep_counters_balanced)
{
	world_new();
	take_shared_pointers();
	W->slow_free = true;
	run_threads(mixed_thread, NTHREADS);
	world_check_quiescent();
	ck_assert_int_eq(pgmap_live_count(W->pgmap), 1);
	ck_assert_int_gt(atomic_load(&W->frees), 1000);
	world_kill_drain_release();
}
END_TEST

/* ---- 2. everything racing kill (request, try_get, last put vs kill) ------ */

static void *until_dead_thread(void *arg)
{
	uint64_t id = *(uint64_t *)arg, rs = seed * 104729 + id + 1;

	while (!atomic_load(&W->stop))
		one_op(id, &rs, true);
	return NULL;
}

START_TEST(test_kill_racing_requests_new_holders_and_last_puts_drains_exactly_once)
{
	uint64_t end = now_ms() + (uint64_t)run_ms, rs = seed + 99, rounds = 0;

	while (now_ms() < end || rounds < 3) {
		pthread_t t[NTHREADS];
		uint64_t ids[NTHREADS];
		struct pgdax_folio *base = NULL, *f = NULL;
		int i;

		world_new();
		take_shared_pointers();
		/* an active extent that lives across the kill: new holders must fail */
		ck_assert_int_eq(pgmap_request_folio(W->pgmap, GET_BASE, 2, &REQ, &base), 0);
		atomic_fetch_add(&W->activations, 1);
		hold(base);
		for (i = 0; i < NTHREADS; i++) {
			ids[i] = (uint64_t)i;
			ck_assert_int_eq(pthread_create(&t[i], NULL, until_dead_thread, &ids[i]), 0);
		}
		spin_us(rnd(&rs) % 2000);
		pgmap_kill(W->pgmap);
		atomic_store(&W->killed, true);
		/* after kill: no request, no new holder even on an active extent */
		CHECK(pgmap_request_folio(W->pgmap, PRIV_BASE, 0, NULL, &f) == -ENXIO,
		      "request after kill");
		CHECK(!folio_try_get(base), "try_get on an active extent after kill");
		spin_us(rnd(&rs) % 500);
		atomic_store(&W->stop, true);
		/* the base holder's put races the workers' last puts */
		drop(base);
		ck_assert_int_eq(pgmap_drain(W->pgmap, 10000), 0);
		for (i = 0; i < NTHREADS; i++)
			pthread_join(t[i], NULL);
		world_check_quiescent();
		world_kill_drain_release();
		rounds++;
	}
	fprintf(stderr, "kill race: %llu rounds\n", (unsigned long long)rounds);
}
END_TEST

/* ---- 3. try_get and get_folio against 1 -> 0 and FREEING ----------------- */

static void *cycler_thread(void *arg)
{
	uint64_t id = *(uint64_t *)arg, rs = seed * 31 + id, end = now_ms() + (uint64_t)run_ms;
	struct pgdax_folio *f;
	int ret;

	if (id == 0) {	/* activates and frees extent GET_BASE over and over */
		while (now_ms() < end) {
			ret = pgmap_request_folio(W->pgmap, GET_BASE, 2, &REQ, &f);
			CHECK(ret == 0 || ret == -EBUSY, "cycler request = %d", ret);
			if (ret)
				continue;
			atomic_fetch_add(&W->activations, 1);
			hold(f);
			drop(f);
		}
		return NULL;
	}
	while (now_ms() < end) {
		if (rnd(&rs) & 1) {
			f = W->shared_folio[0];
			if (folio_try_get(f)) {
				hold(f);
				CHECK(pgmap_folio_refcount(W->pgmap, GET_BASE) >= 1,
				      "try_get returned an idle extent");
				drop(f);
			}
		} else {
			ret = pgmap_get_folio(W->pgmap, GET_BASE, 2, &GET, &f);
			CHECK(ret == 0, "get_folio during FREEING = %d (spurious)", ret);
			if (ret == 0) {
				hold(f);
				drop(f);
			}
		}
	}
	return NULL;
}

START_TEST(test_try_get_and_get_folio_racing_the_last_put_and_freeing)
{
	struct pgdax_folio *f;

	world_new();
	W->slow_free = true;
	ck_assert_int_eq(pgmap_request_folio(W->pgmap, GET_BASE, 2, &REQ, &f), 0);
	atomic_fetch_add(&W->activations, 1);
	folio_put(f);
	W->shared_folio[0] = f;
	run_threads(cycler_thread, NTHREADS);
	world_check_quiescent();
	/* request's frees balance exactly; get_folio's are proven by the shadows */
	world_kill_drain_release();
}
END_TEST

/* ---- 4. waiters racing the wake-up of the last put ------------------------ */

#define NWAITERS (NTHREADS - 1)
static _Atomic int round_no, waiters_ready, waiters_done;

static void *waiter_thread(void *arg)
{
	int seen = 0, r, ret;

	(void)arg;
	while (!atomic_load(&W->stop)) {
		r = atomic_load(&round_no);
		if (r == seen) {
			sched_yield();
			continue;
		}
		seen = r;
		atomic_fetch_add(&waiters_ready, 1);
		/* the put may land before, during or after we go to sleep */
		ret = pgmap_wait_idle(W->pgmap, GET_BASE + 1, 5000, NULL, NULL);
		CHECK(ret == 0, "waiter lost its wake-up: %d", ret);
		atomic_fetch_add(&waiters_done, 1);
	}
	return NULL;
}

START_TEST(test_waiters_racing_the_last_put_are_always_woken)
{
	pthread_t t[NWAITERS];
	uint64_t end = now_ms() + (uint64_t)run_ms, rs = seed + 5, rounds = 0;
	struct pgdax_folio *f;
	int i;

	world_new();
	for (i = 0; i < NWAITERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, waiter_thread, NULL), 0);
	while (now_ms() < end) {
		ck_assert_int_eq(pgmap_request_folio(W->pgmap, GET_BASE, 2, &REQ, &f), 0);
		atomic_fetch_add(&W->activations, 1);
		atomic_store(&waiters_ready, 0);
		atomic_store(&waiters_done, 0);
		atomic_fetch_add(&round_no, 1);
		while (atomic_load(&waiters_ready) < NWAITERS)
			sched_yield();
		spin_us(rnd(&rs) % 40);
		folio_put(f);
		while (atomic_load(&waiters_done) < NWAITERS && !atomic_load(&failures))
			sched_yield();
		rounds++;
	}
	atomic_store(&W->stop, true);
	for (i = 0; i < NWAITERS; i++)
		pthread_join(t[i], NULL);
	fprintf(stderr, "waiters: %llu rounds\n", (unsigned long long)rounds);
	world_check_quiescent();
	world_kill_drain_release();
}
END_TEST

/* ---- 5. threads exiting while others kill and release -------------------- */

static void *short_lived_thread(void *arg)
{
	uint64_t id = *(uint64_t *)arg, rs = seed * 13 + id, i;

	for (i = 0; i < 200; i++)
		if (one_op(id, &rs, true) == -ENXIO)
			break;
	return NULL;
}

START_TEST(test_thread_exit_racing_kill_and_release_loses_no_count)
{
	uint64_t end = now_ms() + (uint64_t)run_ms / 2, rounds = 0;

	while (now_ms() < end || rounds < 3) {
		world_new();
		take_shared_pointers();
		run_threads(short_lived_thread, NTHREADS);	/* exit: shards fold */
		ck_assert_int_eq(pgmap_live_count(W->pgmap), 1);
		world_check_quiescent();
		world_kill_drain_release();
		rounds++;
	}
}
END_TEST

/* ---- 6. first requests racing to publish a chunk of the table ------------ */

#define RACE_CHUNKS 64
static struct pgdax_pgmap *race_pm;
static pthread_barrier_t race_barrier;

static void *chunk_racer(void *arg)
{
	uint64_t id = *(uint64_t *)arg, c;
	struct pgdax_folio *f;
	int ret;

	pthread_barrier_wait(&race_barrier);
	for (c = 0; c < RACE_CHUNKS; c++) {
		ret = pgmap_request_folio(race_pm, c * FOLIO_CHUNK_PAGES + id * 8, 3, &REQ, &f);
		CHECK(ret == 0, "first request in chunk %llu = %d", (unsigned long long)c, ret);
		if (ret == 0)
			folio_put(f);
	}
	return NULL;
}

START_TEST(test_first_requests_racing_on_a_new_chunk_publish_it_once)
{
	uint64_t end = now_ms() + (uint64_t)run_ms / 2, rounds = 0, one_chunk;

	while (now_ms() < end || rounds < 3) {
		ck_assert_int_eq(pgmap_new(NULL, 12, RACE_CHUNKS * FOLIO_CHUNK_PAGES, NULL,
					   NULL, &race_pm), 0);
		pthread_barrier_init(&race_barrier, NULL, NTHREADS);
		run_threads(chunk_racer, NTHREADS);
		pthread_barrier_destroy(&race_barrier);
		ck_assert_uint_eq(pgmap_table_chunks(race_pm), RACE_CHUNKS);
		/*
		 * each chunk counted once (a 64-byte header + 16-byte entries):
		 * the losers of the publish freed theirs and counted nothing
		 */
		one_chunk = 64 + FOLIO_CHUNK_PAGES * 16;
		ck_assert_uint_eq(pgmap_table_bytes(race_pm),
				  RACE_CHUNKS * sizeof(void *) + RACE_CHUNKS * one_chunk);
		ck_assert_uint_eq(pgmap_active_folios(race_pm), 0);
		ck_assert_int_eq(pgmap_live_count(race_pm), 1);
		pgmap_kill(race_pm);
		ck_assert_int_eq(pgmap_drain(race_pm, 0), 0);
		ck_assert_int_eq(pgmap_release(&race_pm), 0);
		rounds++;
	}
	ck_assert_int_eq(atomic_load(&failures), 0);
}
END_TEST

static Suite *stress_suite(void)
{
	Suite *s = suite_create("refcount_stress");
	TCase *tc = tcase_create("races");

	/* each test runs ~run_ms; a hang (lost wake-up) fails well before 600 s */
	tcase_set_timeout(tc, 30 + 10 * (double)run_ms / 1000);
	tcase_add_test(tc, test_concurrent_requests_gets_and_puts_keep_counters_balanced);
	tcase_add_test(tc, test_kill_racing_requests_new_holders_and_last_puts_drains_exactly_once);
	tcase_add_test(tc, test_try_get_and_get_folio_racing_the_last_put_and_freeing);
	tcase_add_test(tc, test_waiters_racing_the_last_put_are_always_woken);
	tcase_add_test(tc, test_thread_exit_racing_kill_and_release_loses_no_count);
	tcase_add_test(tc, test_first_requests_racing_on_a_new_chunk_publish_it_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	stress_config("refcount stress", "threads", NTHREADS, DEFAULT_MS, &seed, &run_ms);
	/* overlapping requests are logged as caller bugs: expected here */
	pgdax_log_set_level(LOG_CRIT);
	return stress_run_suite(stress_suite());
}
