/* SPDX-License-Identifier: MIT */
/*
 * Extent allocator throughput: alloc+free pairs per second, 1 and 2
 * threads sharing one allocator (one mutex: the second thread measures the
 * cost of contention, not extra capacity).
 *
 *   alloc_free      order-0 get immediately followed by its put;
 *   alloc_free_mix  orders 0..4 (mostly small), each thread keeping a ring
 *                   of 32 live extents and freeing the oldest per get, with
 *                   a near hint half of the time.
 *
 * The allocator covers 2^20 pages and is fragmented first (about half of
 * it held in random small extents) so the figures reflect a used device,
 * not the best case of one huge free block or the worst case of splitting
 * and merging across 20 orders on every call.
 *
 * Usage: bench_alloc [pairs-per-thread]   (default 2000000)
 * Output: one line per run, "alloc_free threads=N mops=X" (million pairs/s).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"

#define NPAGES (1ULL << 20)
#define RING 32
#define MAX_THREADS 2

struct run {
	struct pgdax_alloc *a;
	uint64_t pairs;
	int mix;
	unsigned seed;
	pthread_barrier_t *start;
	int failed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker(void *p)
{
	struct run *r = p;
	uint64_t ring_off[RING];
	unsigned ring_ord[RING], head = 0, live = 0;
	unsigned seed = r->seed;

	pthread_barrier_wait(r->start);
	for (uint64_t i = 0; i < r->pairs; i++) {
		uint64_t off;

		if (!r->mix) {
			if (pgdax_alloc_get(r->a, 0, NULL, &off)) {
				r->failed = 1;
				break;
			}
			pgdax_alloc_put(r->a, off, 0);
			continue;
		}
		/* Orders 0..4, weighted towards small: 0 half of the time. */
		unsigned x = (unsigned)rand_r(&seed), order = 0;
		struct pgdax_alloc_hint h = { .near = live ? ring_off[(head + RING - 1) % RING] + 1 : 0 };

		while (order < 4 && (x & (1U << order)))
			order++;
		if (live == RING) {
			pgdax_alloc_put(r->a, ring_off[head], ring_ord[head]);
			live--;
		}
		if (pgdax_alloc_get(r->a, order, (x & 0x100) ? &h : NULL, &off)) {
			r->failed = 1;
			break;
		}
		ring_off[head] = off;
		ring_ord[head] = order;
		head = (head + 1) % RING;
		live++;
	}
	while (live) {
		head = (head + RING - 1) % RING;
		pgdax_alloc_put(r->a, ring_off[head], ring_ord[head]);
		live--;
	}
	return NULL;
}

/* Holds about half the device in random small extents, freed at the end. */
struct frag {
	uint64_t *off;
	unsigned *ord;
	size_t n;
};

static int fragment(struct pgdax_alloc *a, struct frag *f)
{
	unsigned seed = 12345;
	size_t cap = NPAGES, i, kept = 0;

	f->off = malloc(cap * sizeof(*f->off));
	f->ord = malloc(cap * sizeof(*f->ord));
	if (!f->off || !f->ord)
		return -ENOMEM;
	f->n = 0;
	while (pgdax_alloc_free_pages(a) > 0 && f->n < cap) {
		unsigned o = (unsigned)rand_r(&seed) % 4;

		if (pgdax_alloc_get(a, o, NULL, &f->off[f->n]))
			break;
		f->ord[f->n++] = o;
	}
	/* Free a random half. */
	for (i = 0; i < f->n; i++) {
		if (rand_r(&seed) & 1) {
			pgdax_alloc_put(a, f->off[i], f->ord[i]);
		} else {
			f->off[kept] = f->off[i];
			f->ord[kept++] = f->ord[i];
		}
	}
	f->n = kept;
	return 0;
}

static int run(struct pgdax_alloc *a, unsigned nthreads, int mix, uint64_t pairs)
{
	pthread_t th[MAX_THREADS];
	struct run r[MAX_THREADS];
	pthread_barrier_t start;
	double t0, t1;
	int failed = 0;

	pthread_barrier_init(&start, NULL, nthreads + 1);
	for (unsigned i = 0; i < nthreads; i++) {
		r[i] = (struct run){ a, pairs, mix, 77 + i, &start, 0 };
		if (pthread_create(&th[i], NULL, worker, &r[i])) {
			fprintf(stderr, "bench_alloc: pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	t0 = now();
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		failed |= r[i].failed;
	}
	t1 = now();
	pthread_barrier_destroy(&start);
	if (failed) {
		fprintf(stderr, "bench_alloc: allocation failed during the run\n");
		return -1;
	}
	printf("%s threads=%u mops=%.2f\n", mix ? "alloc_free_mix" : "alloc_free", nthreads,
	       (double)pairs * nthreads / (t1 - t0) / 1e6);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t pairs = 2000000;
	struct pgdax_alloc *a;
	struct frag f;
	uint64_t free_before;
	int rc = 0;

	if (argc > 1) {
		char *end;

		pairs = strtoull(argv[1], &end, 10);
		if (*end || pairs == 0) {
			fprintf(stderr, "usage: %s [pairs-per-thread]\n", argv[0]);
			return 2;
		}
	}
	if (pgdax_alloc_new(NPAGES, &a) || pgdax_alloc_add_free(a, 0, NPAGES) ||
	    fragment(a, &f)) {
		fprintf(stderr, "bench_alloc: setup failed\n");
		return 1;
	}
	free_before = pgdax_alloc_free_pages(a);
	for (int mix = 0; mix <= 1 && !rc; mix++)
		for (unsigned t = 1; t <= MAX_THREADS && !rc; t++)
			rc = run(a, t, mix, pairs);
	/* Every run returns what it took: the free space is back where it was. */
	if (!rc && pgdax_alloc_free_pages(a) != free_before) {
		fprintf(stderr, "bench_alloc: free pages %llu after the runs, %llu before\n",
			(unsigned long long)pgdax_alloc_free_pages(a),
			(unsigned long long)free_before);
		rc = -1;
	}
	for (size_t i = 0; i < f.n; i++)
		pgdax_alloc_put(a, f.off[i], f.ord[i]);
	if (!rc && pgdax_alloc_free_pages(a) != NPAGES)
		rc = -1;
	free(f.off);
	free(f.ord);
	pgdax_alloc_delete(&a);
	return rc ? 1 : 0;
}
