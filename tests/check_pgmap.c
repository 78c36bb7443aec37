/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the pgmap (lib/core/pgmap.c): the live reference's percpu_ref
 * life cycle (init at 1 -> kill -> drained), the per-thread shards and
 * their fold, drain and release, and the device it owns.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "core/pgmap.h"
#include "core/pgmap_internal.h"

static struct pgdax_pgmap *pgmap;

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void setup(void)
{
	ck_assert_int_eq(pgmap_new(NULL, 12, 4096, NULL, NULL, &pgmap), 0);
}

static void teardown(void)
{
	if (!pgmap)
		return;
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_drain(pgmap, 1000), 0);
	/* invariant 7: the event fired exactly once, whatever the test did */
	ck_assert_uint_eq(pgmap_drained_events(pgmap), 1);
	ck_assert_int_eq(pgmap_release(&pgmap), 0);
}

/* ---- creation ------------------------------------------------------------ */

START_TEST(test_new_rejects_bad_geometry_and_leaves_out_null)
{
	struct pgdax_pgmap *p = (struct pgdax_pgmap *)0x1;

	ck_assert_int_eq(pgmap_new(NULL, 8, 16, NULL, NULL, &p), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(pgmap_new(NULL, 31, 16, NULL, NULL, &p), -EINVAL);
	ck_assert_int_eq(pgmap_new(NULL, 12, 0, NULL, NULL, &p), -EINVAL);
	ck_assert_int_eq(pgmap_new(NULL, 12, (UINT64_C(1) << 40) + 1, NULL, NULL, &p), -EINVAL);
	ck_assert_int_eq(pgmap_new(NULL, 12, 16, NULL, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_new_pgmap_is_live_with_one_initial_unit)
{
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_LIVE);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
	ck_assert_uint_eq(pgmap_npages(pgmap), 4096);
	ck_assert_uint_eq(pgmap_page_shift(pgmap), 12);
	ck_assert_ptr_null(pgmap_dev(pgmap));
	ck_assert_ptr_null(pgmap_page_addr(pgmap, 0));
	ck_assert_uint_eq(pgmap_active_folios(pgmap), 0);
}
END_TEST

/* ---- live reference ------------------------------------------------------ */

START_TEST(test_tryget_and_put_live_move_the_count)
{
	ck_assert(pgmap_tryget_live(pgmap, 10));
	ck_assert(pgmap_tryget_live(pgmap, 5));
	ck_assert_int_eq(pgmap_live_count(pgmap), 16);
	pgmap_put_live(pgmap, 7);
	ck_assert_int_eq(pgmap_live_count(pgmap), 9);
	pgmap_put_live(pgmap, 8);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
}
END_TEST

START_TEST(test_tryget_live_fails_once_killed)
{
	ck_assert(pgmap_tryget_live(pgmap, 1));
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_DYING);
	ck_assert(!pgmap_tryget_live(pgmap, 1));
	ck_assert(!pgmap_tryget_live(pgmap, 1));
	/* exact after kill: the initial unit is gone, ours remains */
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
	pgmap_put_live(pgmap, 1);
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_DRAINED);
}
END_TEST

START_TEST(test_kill_with_nothing_held_drains_at_once)
{
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_DRAINED);
	ck_assert_int_eq(pgmap_live_count(pgmap), 0);
}
END_TEST

START_TEST(test_drained_fires_only_after_kill_and_the_last_put)
{
	ck_assert(pgmap_tryget_live(pgmap, 3));
	/* no kill yet: not drained even with every unit but the initial gone */
	pgmap_put_live(pgmap, 3);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), -ETIMEDOUT);
	ck_assert(pgmap_tryget_live(pgmap, 2));
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_drain(pgmap, 20), -ETIMEDOUT);
	ck_assert_uint_eq(pgmap_drained_events(pgmap), 0);
	pgmap_put_live(pgmap, 1);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), -ETIMEDOUT);
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_DYING);
	pgmap_put_live(pgmap, 1);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
	ck_assert_int_eq(pgmap_drain(pgmap, -1), 0);	/* one-shot: stays fired */
	ck_assert_uint_eq(pgmap_drained_events(pgmap), 1);
}
END_TEST

START_TEST(test_kill_is_idempotent_and_drops_the_initial_unit_once)
{
	ck_assert(pgmap_tryget_live(pgmap, 1));
	pgmap_kill(pgmap);
	pgmap_kill(pgmap);
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_live_count(pgmap), 1);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), -ETIMEDOUT);
	pgmap_put_live(pgmap, 1);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
}
END_TEST

START_TEST(test_put_live_below_zero_aborts)
{
	pgmap_kill(pgmap);
	pgmap_put_live(pgmap, 1);	/* aborts: nothing was held */
}
END_TEST

struct drainer {
	int ret;
	_Atomic bool done;
};

static void *drain_thread(void *arg)
{
	struct drainer *d = arg;

	d->ret = pgmap_drain(pgmap, -1);
	atomic_store(&d->done, true);
	return NULL;
}

START_TEST(test_drain_sleeps_until_the_last_put_on_another_thread)
{
	struct drainer d = { 0 };
	pthread_t t;

	ck_assert(pgmap_tryget_live(pgmap, 4));
	pgmap_kill(pgmap);
	ck_assert_int_eq(pthread_create(&t, NULL, drain_thread, &d), 0);
	msleep(50);
	ck_assert(!atomic_load(&d.done));
	pgmap_put_live(pgmap, 3);
	msleep(20);
	ck_assert(!atomic_load(&d.done));
	pgmap_put_live(pgmap, 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(d.ret, 0);
}
END_TEST

/* ---- the grace period ------------------------------------------------------ */

struct killer {
	struct pgdax_pgmap *pm;
	_Atomic bool returned;
};

static void *kill_thread(void *arg)
{
	struct killer *k = arg;

	pgmap_kill(k->pm);
	atomic_store(&k->returned, true);
	return NULL;
}

struct sectioner {
	struct pgdax_pgmap *pm;
	sem_t entered, leave;
	bool saw_alive;
};

/* Open a read-side section (as tryget_live does), take 5 units, and stay. */
static void *section_thread(void *arg)
{
	struct sectioner *x = arg;
	struct live_shard *s = live_shard(x->pm);

	x->saw_alive = live_enter(x->pm, s);
	sem_post(&x->entered);
	sem_wait(&x->leave);
	if (x->saw_alive) {
		shard_add(s, &s->live, 5);
		live_exit(s);
	}
	return NULL;
}

START_TEST(test_kill_waits_for_a_tryget_that_saw_alive_and_folds_its_units)
{
	struct sectioner x = { .pm = pgmap };
	struct killer k = { .pm = pgmap };
	pthread_t ts, tk;

	/*
	 * Register this thread's shard first: kill holds the shard lock over
	 * its grace period, and this test keeps a section open on purpose.
	 */
	ck_assert(pgmap_tryget_live(pgmap, 1));
	pgmap_put_live(pgmap, 1);
	sem_init(&x.entered, 0, 0);
	sem_init(&x.leave, 0, 0);
	ck_assert_int_eq(pthread_create(&ts, NULL, section_thread, &x), 0);
	sem_wait(&x.entered);
	ck_assert(x.saw_alive);
	ck_assert_int_eq(pthread_create(&tk, NULL, kill_thread, &k), 0);
	msleep(100);
	/* the section is still open: kill cannot finish its grace period */
	ck_assert(!atomic_load(&k.returned));
	ck_assert_int_eq(pgmap_state(pgmap), PGMAP_DYING);
	ck_assert(!pgmap_tryget_live(pgmap, 1));	/* new trygets already fail */
	sem_post(&x.leave);
	pthread_join(tk, NULL);
	pthread_join(ts, NULL);
	/* the 5 units taken inside the section were folded, not lost */
	ck_assert_int_eq(pgmap_live_count(pgmap), 5);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), -ETIMEDOUT);
	pgmap_put_live(pgmap, 5);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
}
END_TEST

/* ---- shards -------------------------------------------------------------- */

struct shard_job {
	struct pgdax_pgmap *pm;
	uint64_t get, put;
	sem_t *go_exit;			/* wait on it before exiting (NULL: don't) */
	sem_t *used;			/* posted once the pgmap was used */
};

static void *shard_thread(void *arg)
{
	struct shard_job *j = arg;

	if (j->get && !pgmap_tryget_live(j->pm, j->get))
		abort();
	if (j->put)
		pgmap_put_live(j->pm, j->put);
	if (j->used)
		sem_post(j->used);
	if (j->go_exit)
		sem_wait(j->go_exit);
	return NULL;
}

START_TEST(test_an_exiting_thread_folds_its_shard_into_the_count)
{
	struct shard_job j = { .pm = pgmap, .get = 5 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, shard_thread, &j), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(pgmap_live_count(pgmap), 6);
	/* puts on another thread than the gets */
	pgmap_put_live(pgmap, 2);
	pgmap_kill(pgmap);
	ck_assert_int_eq(pgmap_live_count(pgmap), 3);
	pgmap_put_live(pgmap, 3);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
}
END_TEST

START_TEST(test_kill_folds_the_shards_of_running_threads)
{
	sem_t go, used;
	struct shard_job j = { .pm = pgmap, .get = 7, .go_exit = &go, .used = &used };
	pthread_t t;

	sem_init(&go, 0, 0);
	sem_init(&used, 0, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, shard_thread, &j), 0);
	sem_wait(&used);
	pgmap_kill(pgmap);		/* the thread's shard holds 7 */
	ck_assert_int_eq(pgmap_live_count(pgmap), 7);
	pgmap_put_live(pgmap, 7);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
	sem_post(&go);
	pthread_join(t, NULL);		/* exits after the fold: folds 0 */
	ck_assert_int_eq(pgmap_live_count(pgmap), 0);
}
END_TEST

START_TEST(test_a_thread_exiting_after_its_pgmap_was_released_touches_nothing)
{
	struct pgdax_pgmap *other = NULL;
	sem_t go, used;
	struct shard_job j = { .get = 2, .put = 2, .go_exit = &go, .used = &used };
	pthread_t t;

	sem_init(&go, 0, 0);
	sem_init(&used, 0, 0);
	ck_assert_int_eq(pgmap_new(NULL, 12, 64, NULL, NULL, &other), 0);
	j.pm = other;
	ck_assert_int_eq(pthread_create(&t, NULL, shard_thread, &j), 0);
	sem_wait(&used);
	pgmap_kill(other);
	ck_assert_int_eq(pgmap_drain(other, 0), 0);
	ck_assert_int_eq(pgmap_release(&other), 0);
	ck_assert_ptr_null(other);
	sem_post(&go);
	pthread_join(t, NULL);	/* frees its orphaned shard (ASan: no UAF) */
}
END_TEST

START_TEST(test_several_pgmaps_count_separately_on_one_thread)
{
	struct pgdax_pgmap *pm[5];
	int i;

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(pgmap_new(NULL, 12, 64, NULL, NULL, &pm[i]), 0);
		ck_assert(pgmap_tryget_live(pm[i], (uint64_t)i + 1));
	}
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(pgmap_live_count(pm[i]), i + 2);
	for (i = 0; i < 5; i++) {
		pgmap_kill(pm[i]);
		pgmap_put_live(pm[i], (uint64_t)i + 1);
		ck_assert_int_eq(pgmap_drain(pm[i], 0), 0);
		ck_assert_int_eq(pgmap_release(&pm[i]), 0);
	}
	/* new pgmaps after releases: fresh counts, orphans pruned */
	for (i = 0; i < 100; i++) {
		struct pgdax_pgmap *p = NULL;

		ck_assert_int_eq(pgmap_new(NULL, 12, 64, NULL, NULL, &p), 0);
		ck_assert(pgmap_tryget_live(p, 1));
		ck_assert_int_eq(pgmap_live_count(p), 2);
		pgmap_put_live(p, 1);
		pgmap_kill(p);
		ck_assert_int_eq(pgmap_drain(p, 0), 0);
		ck_assert_int_eq(pgmap_release(&p), 0);
	}
}
END_TEST

struct fallback_job {
	struct pgdax_pgmap *pm;
	bool ok;
};

static void *fallback_thread(void *arg)
{
	struct fallback_job *j = arg;
	int i;

	j->ok = true;
	for (i = 0; i < 1000; i++)
		j->ok &= pgmap_tryget_live(j->pm, 2);
	for (i = 0; i < 500; i++)
		pgmap_put_live(j->pm, 2);
	return NULL;
}

START_TEST(test_threads_without_a_shard_share_the_fallback_and_still_count_exactly)
{
	struct fallback_job j[3] = { { .pm = pgmap }, { .pm = pgmap }, { .pm = pgmap } };
	pthread_t t[3];
	int i;

	atomic_store(&pgmap_test_no_shards, true);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, fallback_thread, &j[i]), 0);
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		ck_assert(j[i].ok);
	}
	/* each thread kept 500 * 2 units in the shared shard */
	ck_assert_int_eq(pgmap_live_count(pgmap), 1 + 3 * 1000);
	pgmap_kill(pgmap);
	ck_assert(!pgmap_tryget_live(pgmap, 1));
	ck_assert_int_eq(pgmap_live_count(pgmap), 3 * 1000);
	pgmap_put_live(pgmap, 3 * 1000);
	ck_assert_int_eq(pgmap_drain(pgmap, 0), 0);
	atomic_store(&pgmap_test_no_shards, false);
}
END_TEST

/* ---- release and the device --------------------------------------------- */

static char devpath[64];

static void dev_setup(void)
{
	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdaxfs-ref-pgmap-%d", getpid());
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, 16 << 20, 4096), 0);
}

static void dev_teardown(void)
{
	unlink(devpath);
}

START_TEST(test_release_before_drain_returns_ebusy_and_keeps_the_device)
{
	struct pgdax_dev *dev = NULL, *second = NULL;
	struct pgdax_pgmap *pm = NULL;
	char *p;

	ck_assert_int_eq(pgdax_dev_open(devpath, PGDAX_DEV_EXCL, 0, &dev), 0);
	ck_assert_int_eq(pgmap_new(dev, 12, 1024, NULL, NULL, &pm), 0);
	ck_assert_ptr_eq(pgmap_dev(pm), dev);
	p = pgmap_page_addr(pm, 3);
	ck_assert_ptr_eq(p, (char *)pgdax_dev_base(dev) + 3 * 4096);
	ck_assert_ptr_null(pgmap_page_addr(pm, 1024));

	/* live: refused */
	ck_assert_int_eq(pgmap_release(&pm), -EBUSY);
	ck_assert_ptr_nonnull(pm);
	ck_assert(pgmap_tryget_live(pm, 1));
	pgmap_kill(pm);
	/* dying, one unit held: refused, device still mapped and locked */
	ck_assert_int_eq(pgmap_release(&pm), -EBUSY);
	ck_assert_ptr_nonnull(pm);
	p[0] = 42;
	ck_assert_int_eq(p[0], 42);
	ck_assert_int_eq(pgdax_dev_open(devpath, PGDAX_DEV_EXCL, 0, &second), -EBUSY);

	pgmap_put_live(pm, 1);
	ck_assert_int_eq(pgmap_drain(pm, 0), 0);
	ck_assert_int_eq(pgmap_release(&pm), 0);
	ck_assert_ptr_null(pm);
	/* the device was closed: its lock is free again */
	ck_assert_int_eq(pgdax_dev_open(devpath, PGDAX_DEV_EXCL, 0, &second), 0);
	pgdax_dev_close(&second);
	ck_assert_int_eq(pgmap_release(&pm), 0);	/* NULL-safe */
}
END_TEST

START_TEST(test_new_rejects_more_pages_than_the_device_holds)
{
	struct pgdax_dev *dev = NULL;
	struct pgdax_pgmap *pm = NULL;

	ck_assert_int_eq(pgdax_dev_open(devpath, 0, 0, &dev), 0);
	ck_assert_int_eq(pgmap_new(dev, 12, 4097, NULL, NULL, &pm), -EINVAL);
	ck_assert_ptr_null(pm);
	ck_assert_int_eq(pgmap_new(dev, 21, 9, NULL, NULL, &pm), -EINVAL);
	ck_assert_int_eq(pgmap_new(dev, 21, 8, NULL, NULL, &pm), 0);
	pgmap_kill(pm);
	ck_assert_int_eq(pgmap_drain(pm, 0), 0);
	ck_assert_int_eq(pgmap_release(&pm), 0);
}
END_TEST

static Suite *pgmap_suite(void)
{
	Suite *s = suite_create("pgmap");
	TCase *tc;

	tc = tcase_create("new");
	tcase_add_test(tc, test_new_rejects_bad_geometry_and_leaves_out_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("live");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_new_pgmap_is_live_with_one_initial_unit);
	tcase_add_test(tc, test_tryget_and_put_live_move_the_count);
	tcase_add_test(tc, test_tryget_live_fails_once_killed);
	tcase_add_test(tc, test_kill_with_nothing_held_drains_at_once);
	tcase_add_test(tc, test_drained_fires_only_after_kill_and_the_last_put);
	tcase_add_test(tc, test_kill_is_idempotent_and_drops_the_initial_unit_once);
	tcase_add_test_raise_signal(tc, test_put_live_below_zero_aborts, SIGABRT);
	tcase_add_test(tc, test_drain_sleeps_until_the_last_put_on_another_thread);
	suite_add_tcase(s, tc);

	tc = tcase_create("grace_period");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kill_waits_for_a_tryget_that_saw_alive_and_folds_its_units);
	suite_add_tcase(s, tc);

	tc = tcase_create("shards");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_an_exiting_thread_folds_its_shard_into_the_count);
	tcase_add_test(tc, test_kill_folds_the_shards_of_running_threads);
	tcase_add_test(tc, test_a_thread_exiting_after_its_pgmap_was_released_touches_nothing);
	tcase_add_test(tc, test_several_pgmaps_count_separately_on_one_thread);
	tcase_add_test(tc, test_threads_without_a_shard_share_the_fallback_and_still_count_exactly);
	suite_add_tcase(s, tc);

	tc = tcase_create("device");
	tcase_add_checked_fixture(tc, dev_setup, dev_teardown);
	tcase_add_test(tc, test_release_before_drain_returns_ebusy_and_keeps_the_device);
	tcase_add_test(tc, test_new_rejects_more_pages_than_the_device_holds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pgmap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
