/* SPDX-License-Identifier: MIT */
/*
 * The main() of a stress test (check_refcount_stress, check_invariants):
 * its seed and run time come from the environment so that a failure seen
 * in CI can be replayed exactly, and the line it prints says how.
 *   PGDAX_STRESS_SEED  the seed (default: time and pid)
 *   PGDAX_STRESS_MS    how long each test races (default: the caller's)
 */
#ifndef PGDAX_TESTS_STRESS_RUN_H
#define PGDAX_TESTS_STRESS_RUN_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline void stress_config(const char *what, const char *workers, int nworkers,
				 int default_ms, uint64_t *seed, int *run_ms)
{
	const char *e = getenv("PGDAX_STRESS_SEED");

	*seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (!*seed)
		*seed = 1;
	e = getenv("PGDAX_STRESS_MS");
	*run_ms = e ? atoi(e) : default_ms;
	if (*run_ms <= 0)
		*run_ms = default_ms;
	printf("%s: seed=%llu ms=%d %s=%d (replay: PGDAX_STRESS_SEED=%llu)\n", what,
	       (unsigned long long)*seed, *run_ms, workers, nworkers, (unsigned long long)*seed);
	fflush(stdout);
}

/* Runs @s; the exit status of the test program. */
static inline int stress_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
