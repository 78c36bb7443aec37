/* SPDX-License-Identifier: MIT */
/*
 * Hot-path cost of the refcount core (lib/core/folio.c, lib/core/pgmap.c): each
 * thread works on its own extents (one chunk each, far apart so no two
 * threads share a cache line of the table), no page_free callback.
 *
 *   request_put  pgmap_request_folio() + folio_put(): 0 -> 1 -> FREEING -> 0,
 *                live units taken and dropped each time
 *   tryget_put   folio_try_get() + folio_put() on an extent held active
 *
 * Prints one line per figure: "NAME threads=N mops=X" (million pairs/s,
 * all threads together), the best of REPEAT runs so that a burst of load
 * from elsewhere on the machine does not decide the figure.
 * Usage: bench_refcount [seconds per run, 0.5]
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/pgmap.h"

#define MAX_THREADS 8
#define EXTENTS_PER_THREAD 16
#define THREAD_STRIDE 65536	/* pages between two threads' extents */

static struct pgdax_pgmap *pgmap;
#define REPEAT 3
static double seconds = 0.5;
static _Atomic int go;

struct job {
	int id;
	int tryget;
	uint64_t ops;
	double elapsed;		/* wall clock */
	double cpu;		/* this thread's CPU time */
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct pgdax_folio *held[EXTENTS_PER_THREAD], *f;
	uint64_t base = (uint64_t)j->id * THREAD_STRIDE, n = 0;
	double t0, t, c0;
	int i;

	for (i = 0; i < EXTENTS_PER_THREAD; i++) {
		if (pgmap_request_folio(pgmap, base + (uint64_t)i * 64, 0, NULL, &held[i])) {
			fprintf(stderr, "bench: request failed\n");
			exit(1);
		}
		if (!j->tryget)
			folio_put(held[i]);
	}
	while (!atomic_load(&go))
		;
	t0 = now();
	c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	do {
		for (i = 0; i < 1024; i++) {
			if (j->tryget) {
				f = held[i % EXTENTS_PER_THREAD];
				if (!folio_try_get(f))
					exit(1);
			} else if (pgmap_request_folio(pgmap, base + (uint64_t)(i % EXTENTS_PER_THREAD) * 64,
						       0, NULL, &f)) {
				exit(1);
			}
			folio_put(f);
		}
		n += 1024;
		t = now();
	} while (t - t0 < seconds);
	j->ops = n;
	j->elapsed = t - t0;
	j->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	if (j->tryget)
		for (i = 0; i < EXTENTS_PER_THREAD; i++)
			folio_put(held[i]);
	return NULL;
}

/* Wall-clock rate; *cpu_mops gets the rate per CPU-second actually received. */
static double run_once(int tryget, int nthreads, double *cpu_mops, double *share)
{
	pthread_t t[MAX_THREADS];
	struct job jobs[MAX_THREADS];
	double mops = 0;
	int i;

	*cpu_mops = 0;
	*share = 1;
	atomic_store(&go, 0);
	for (i = 0; i < nthreads; i++) {
		jobs[i] = (struct job){ .id = i, .tryget = tryget };
		if (pthread_create(&t[i], NULL, worker, &jobs[i]))
			exit(1);
	}
	atomic_store(&go, 1);
	for (i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		mops += (double)jobs[i].ops / jobs[i].elapsed / 1e6;
		*cpu_mops += (double)jobs[i].ops / jobs[i].cpu / 1e6;
		if (jobs[i].cpu / jobs[i].elapsed < *share)
			*share = jobs[i].cpu / jobs[i].elapsed;
	}
	return mops;
}

static void run(const char *name, int tryget, int nthreads)
{
	double best = 0, m, cpu, share, best_cpu = 0, best_share = 0;
	int r;

	for (r = 0; r < REPEAT; r++) {
		m = run_once(tryget, nthreads, &cpu, &share);
		if (m > best) {
			best = m;
			best_cpu = cpu;
			best_share = share;
		}
	}
	printf("%s threads=%d mops=%.1f\n", name, nthreads, best);
	fflush(stdout);
	/* a loaded machine depresses the wall-clock figure: say so */
	if (best_share < 0.9)
		fprintf(stderr, "  note: %s threads=%d got only %.0f%% of a CPU "
			"(machine busy); per CPU-second: %.1f mops\n", name,
			nthreads, best_share * 100, best_cpu);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		seconds = atof(argv[1]);
	if (seconds <= 0)
		seconds = 0.5;
	if (pgmap_new(NULL, 12, (uint64_t)MAX_THREADS * THREAD_STRIDE, NULL, NULL, &pgmap)) {
		fprintf(stderr, "bench: pgmap_new failed\n");
		return 1;
	}
	run("request_put", 0, 1);
	run("request_put", 0, 2);
	run("tryget_put", 1, 1);
	run("tryget_put", 1, 2);
	pgmap_kill(pgmap);
	if (pgmap_drain(pgmap, 1000) || pgmap_release(&pgmap)) {
		fprintf(stderr, "bench: references leaked\n");
		return 1;
	}
	return 0;
}
