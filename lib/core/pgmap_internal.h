/* SPDX-License-Identifier: MIT */
/*
 * Private to lib/core/pgmap.c and lib/core/folio.c (and their tests): the
 * pgmap body, the per-thread shards of the live reference and the read-side
 * section that lib/core/folio.c uses to make "check liveness + take a
 * reference" atomic with respect to pgmap_kill(). The rules and why they are
 * safe are written once, at the top of lib/core/folio.c.
 */
#ifndef PGDAX_PGMAP_INTERNAL_H
#define PGDAX_PGMAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pgmap.h"

#define PGDAX_CACHELINE 64

#ifndef likely
#define likely(x)	__builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif

/*
 * Largest extent order (2^30 pages, as lib/core/alloc.h). It must fit the order
 * field of the folio state word (5 bits, lib/core/folio.c).
 */
#define PGMAP_MAX_ORDER		30
/* Largest npages accepted (keeps the first-level table bounded: 2^27 ptrs). */
#define PGMAP_MAX_NPAGES	(1ull << 40)

/* The folio table: 2^FOLIO_CHUNK_SHIFT per-page entries per chunk. */
#define FOLIO_CHUNK_SHIFT	13
#define FOLIO_CHUNK_PAGES	(1ull << FOLIO_CHUNK_SHIFT)

/*
 * The atomic count starts biased so that puts that reach it between "dying"
 * and the fold of the shards can never make it reach zero early (the
 * kernel's PERCPU_COUNT_BIAS). The fold subtracts the bias.
 */
#define LIVE_BIAS		(INT64_C(1) << 62)

/*
 * One shard of the live reference: per (thread, pgmap). Only the owning
 * thread writes in_sec, live and active (plain load + store of atomics: no
 * lock prefix on the hot path) except for the pgmap's fallback shard
 * (shared == true), which every thread updates with read-modify-writes.
 * The first cache line is the hot one; it is never written by anyone else
 * while the pgmap is live, so two threads never share a written line.
 */
struct live_shard {
	/* hot line: owner thread (see above); killer reads after the grace */
	_Atomic uint32_t in_sec;	/* inside a read-side section (count if shared) */
	bool shared;			/* const: the pgmap's fallback shard */
	_Atomic int64_t live;		/* this thread's delta of the live count */
	_Atomic int64_t active;		/* this thread's delta of active folios */
	uint64_t pgmap_id;		/* const: pgmap this shard counts for */

	/* cold line: list links */
	struct pgdax_pgmap *pgmap __attribute__((aligned(PGDAX_CACHELINE)));
					/* shard_lock; NULL once orphaned */
	struct live_shard *pgmap_next;	/* shard_lock: the pgmap's list */
	struct live_shard *thread_next;	/* owner thread only: its list */
	_Atomic bool orphan;		/* set under shard_lock at release */
} __attribute__((aligned(PGDAX_CACHELINE)));

struct folio_chunk;

struct pgdax_pgmap {
	/* read-mostly line: read by every hot-path call */
	uint64_t id;			/* const, unique per process: keys the TLS shard cache */
	uint64_t npages;		/* const */
	unsigned page_shift;		/* const */
	_Atomic uint32_t dying;		/* 0 -> 1 once, in pgmap_kill() */
	_Atomic uint32_t max_order;	/* largest order ever requested (monotonic) */
	bool check;			/* const: checking mode (pgdax_invariants()) */
	struct pgmap_ops ops;		/* const */
	void *arg;			/* const */
	_Atomic(struct folio_chunk *) *chunks;	/* const array; entries published once */
	uint64_t nchunks;		/* const */
	struct pgdax_dev *dev;		/* const until release */

	/* written only in the slow paths */
	_Atomic int64_t central __attribute__((aligned(PGDAX_CACHELINE)));
					/* LIVE_BIAS + initial unit + folded/retired counts */
	_Atomic int64_t retired_active;	/* active deltas of threads that exited */
	_Atomic uint32_t drained;	/* futex word: 0, 1 = firing, 2 = fired */
	_Atomic uint32_t drained_events; /* times the event fired (tests: 1) */
	_Atomic bool folded;		/* shards folded into central (shard_lock) */
	_Atomic uint64_t table_bytes;	/* bytes of folio table allocated */
	pthread_mutex_t kill_lock;	/* serializes pgmap_kill() */
	struct live_shard *shards;	/* shard_lock: per-thread shards */
	struct live_shard fallback;	/* used when a shard cannot be allocated */
};

/* --- lib/core/pgmap.c, for lib/core/folio.c ---------------------------------------- */

/* The calling thread's shard for @pgmap (registered on first use). */
struct live_shard *live_shard_slow(struct pgdax_pgmap *pgmap);
extern bool pgmap_use_membarrier;

struct live_tls {
	uint64_t cache_id;
	struct live_shard *cache;
	struct live_shard *list;
	bool key_set;
};
extern __thread struct live_tls live_tls __attribute__((tls_model("initial-exec")));

static inline struct live_shard *live_shard(struct pgdax_pgmap *pgmap)
{
	if (likely(live_tls.cache_id == pgmap->id))
		return live_tls.cache;
	return live_shard_slow(pgmap);
}

/*
 * Read-side section: between live_enter() returning true and live_exit(),
 * pgmap_kill() cannot complete its grace period, so anything done inside
 * (take live units, increment a folio) is seen by the fold, or never
 * happens. live_enter() returns false (section already left) once dying.
 */
static inline bool live_enter(struct pgdax_pgmap *pgmap, struct live_shard *s)
{
	/*
	 * Store in_sec, then load dying. The killer stores dying, then runs
	 * membarrier(), which issues a full barrier on every running thread:
	 * a compiler barrier suffices here. Without membarrier (and under
	 * TSan, which cannot see it) both sides use seq_cst accesses: plain
	 * C11 Dekker (the store is then an XCHG on x86).
	 */
	if (unlikely(s->shared)) {
		atomic_fetch_add_explicit(&s->in_sec, 1, memory_order_seq_cst);
	} else if (likely(pgmap_use_membarrier)) {
		atomic_store_explicit(&s->in_sec, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store_explicit(&s->in_sec, 1, memory_order_seq_cst);
	}
	if (likely(!atomic_load_explicit(&pgmap->dying, memory_order_seq_cst)))
		return true;
	if (unlikely(s->shared))
		atomic_fetch_sub_explicit(&s->in_sec, 1, memory_order_release);
	else
		atomic_store_explicit(&s->in_sec, 0, memory_order_release);
	return false;
}

static inline void live_exit(struct live_shard *s)
{
	/* release: what the section did is visible to a killer that sees 0 */
	if (unlikely(s->shared))
		atomic_fetch_sub_explicit(&s->in_sec, 1, memory_order_release);
	else
		atomic_store_explicit(&s->in_sec, 0, memory_order_release);
}

/* Add @delta to a shard counter of the calling thread (or the fallback). */
static inline void shard_add(struct live_shard *s, _Atomic int64_t *ctr,
			     int64_t delta)
{
	if (unlikely(s->shared))
		atomic_fetch_add_explicit(ctr, delta, memory_order_relaxed);
	else
		atomic_store_explicit(ctr, atomic_load_explicit(ctr,
				      memory_order_relaxed) + delta,
				      memory_order_relaxed);
}

/* futex helpers (lib/core/pgmap.c): wake all; wait while *word == val. */
void pgdax_futex_wake_all(_Atomic uint32_t *word);
/* @deadline: CLOCK_MONOTONIC, NULL = forever. 0 (re-check) or -ETIMEDOUT. */
int pgdax_futex_wait(_Atomic uint32_t *word, uint32_t val,
		     const struct timespec *deadline);

/* Drop @nr units from the atomic count (after dying); fires drained at 0. */
void live_put_central(struct pgdax_pgmap *pgmap, uint64_t nr);

/* --- lib/core/folio.c, for lib/core/pgmap.c ---------------------------------------- */

/* Allocate/free the folio table of @pgmap (first level only; chunks lazily). */
int folio_table_init(struct pgdax_pgmap *pgmap);
void folio_table_free(struct pgdax_pgmap *pgmap);
/* Checking mode, at the release: abort naming invariant 1 if any extent
 * of the table is not idle (a reference would outlive the device). */
void folio_table_assert_idle(struct pgdax_pgmap *pgmap);

/* --- for tests ------------------------------------------------------------ */

/* Make threads without a shard use the pgmap's shared fallback shard. */
extern _Atomic bool pgmap_test_no_shards;
/*
 * Fire the drained event now, whatever the count: plants the bug that
 * invariant 8's check at the unmap exists to catch (tests/check_invariants.c).
 */
void pgmap_test_fire_drained(struct pgdax_pgmap *pgmap);
/* How many times the drained event fired (invariant 7: at most once). */
uint32_t pgmap_drained_events(struct pgdax_pgmap *pgmap);
/* Bytes of DRAM the folio table holds (first level + allocated chunks). */
uint64_t pgmap_table_bytes(struct pgdax_pgmap *pgmap);
/* Number of chunks of the folio table allocated so far. */
uint64_t pgmap_table_chunks(struct pgdax_pgmap *pgmap);
/*
 * True if the entry at @pgoff is idle and carries the reset state (no
 * owner, order 0, poison in debug builds): invariant 9.
 */
bool pgmap_folio_state_is_reset(struct pgdax_pgmap *pgmap, uint64_t pgoff);
/* Raw state word of the entry at @pgoff (0 if its chunk does not exist). */
uint32_t pgmap_folio_word(struct pgdax_pgmap *pgmap, uint64_t pgoff);
/* Count limit of a folio (folio_get aborts, try_get fails beyond it). */
uint32_t pgmap_folio_count_max(void);

#endif /* PGDAX_PGMAP_INTERNAL_H */
