/* SPDX-License-Identifier: MIT */
/*
 * The pgmap: the device map and its live reference (the kernel's
 * dev_pagemap + percpu_ref). Why the scheme is safe is written once, at the
 * top of lib/core/folio.c ("The live reference"); this file implements it.
 *
 * Locks (lock order: kill_lock -> shard_lock):
 *   kill_lock   per pgmap: serializes pgmap_kill() so a second caller returns
 *               only once the first one's grace period and fold are done.
 *   shard_lock  process-wide: every shard list (each pgmap's list and the
 *               shard <-> pgmap link), the fold at kill, thread exit and
 *               release. Never taken on the hot path (only when a thread
 *               uses a pgmap for the first time, exits, or for counters).
 *               pgmap_kill() holds it across its grace period (so no shard
 *               is freed under it); that wait is bounded because a
 *               read-side section is a few instructions and never blocks.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "util/log.h"
#include "util/util.h"
#include "pgmap_internal.h"

__thread struct live_tls live_tls __attribute__((tls_model("initial-exec")));
bool pgmap_use_membarrier;	/* set once (global_once) before any pgmap exists */

static pthread_mutex_t shard_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static bool thread_key_ok;
static _Atomic uint64_t next_pgmap_id = 1;	/* 0 never matches the TLS cache */
_Atomic bool pgmap_test_no_shards;	/* tests: act as if shards cannot be allocated */

static long sys_membarrier(int cmd, unsigned flags)
{
	return syscall(__NR_membarrier, cmd, flags, 0);
}

static long sys_futex(_Atomic uint32_t *uaddr, int op, uint32_t val,
		      const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

/* Wake every waiter on @word; harmless when there are none. */
void pgdax_futex_wake_all(_Atomic uint32_t *word)
{
	sys_futex(word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, 0);
}

/*
 * Sleep while *word == val, at most until @deadline (CLOCK_MONOTONIC,
 * NULL = forever). Returns 0 when woken or the value differs (the caller
 * re-checks its condition: spurious returns are allowed), -ETIMEDOUT.
 */
int pgdax_futex_wait(_Atomic uint32_t *word, uint32_t val,
		     const struct timespec *deadline)
{
	if (sys_futex(word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, deadline,
		      FUTEX_BITSET_MATCH_ANY) < 0 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Shards                                                                  */

/* Fold @s into its pgmap and unlink it. shard_lock held. */
static void shard_retire_locked(struct live_shard *s)
{
	struct pgdax_pgmap *pgmap = s->pgmap;
	struct live_shard **pp;

	for (pp = &pgmap->shards; *pp; pp = &(*pp)->pgmap_next) {
		if (*pp == s) {
			*pp = s->pgmap_next;
			break;
		}
	}
	/*
	 * The thread is exiting: no section of it is open. Its deltas move to
	 * the atomic count; while live the bias keeps that count far from 0,
	 * after the fold the shard is already 0.
	 */
	atomic_fetch_add(&pgmap->central, atomic_load(&s->live));
	atomic_fetch_add(&pgmap->retired_active, atomic_load(&s->active));
	atomic_store(&s->live, 0);
	atomic_store(&s->active, 0);
}

/* pthread key destructor: the thread exits; retire or free its shards. */
static void thread_exit(void *arg)
{
	struct live_tls *t = arg;
	struct live_shard *s, *next;

	pthread_mutex_lock(&shard_lock);
	for (s = t->list; s; s = next) {
		next = s->thread_next;
		if (!atomic_load(&s->orphan))
			shard_retire_locked(s);
		free(s);
	}
	pthread_mutex_unlock(&shard_lock);
	t->list = NULL;
	t->cache = NULL;
	t->cache_id = 0;
	t->key_set = false;
}

#if defined(__SANITIZE_THREAD__)
#define PGDAX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PGDAX_TSAN 1
#endif
#endif

static void global_init(void)
{
	long cmds = sys_membarrier(MEMBARRIER_CMD_QUERY, 0);

#ifdef PGDAX_TSAN
	cmds = -1;	/* TSan cannot see membarrier: check the C11 protocol */
#endif
	if (cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0)
		pgmap_use_membarrier = true;
	else
		pgdax_info("membarrier unavailable: the live reference uses seq_cst Dekker");
	thread_key_ok = pthread_key_create(&thread_key, thread_exit) == 0;
}

/* Free the shards of released pgmaps on this thread's list. */
static void prune_orphans_locked(struct live_tls *t)
{
	struct live_shard **pp = &t->list, *s;

	while ((s = *pp)) {
		if (atomic_load(&s->orphan)) {
			*pp = s->thread_next;
			if (t->cache == s) {
				t->cache = NULL;
				t->cache_id = 0;
			}
			free(s);
		} else {
			pp = &s->thread_next;
		}
	}
}

/*
 * Slow path of live_shard(): find this thread's shard for @pgmap, or
 * register a new one. If the thread cannot get one (no memory, or no
 * pthread key to fold it at exit) it uses the pgmap's shared fallback
 * shard: correct, only slower.
 */
struct live_shard *live_shard_slow(struct pgdax_pgmap *pgmap)
{
	struct live_tls *t = &live_tls;
	struct live_shard *s;

	for (s = t->list; s; s = s->thread_next)
		if (s->pgmap_id == pgmap->id)
			goto found;

	if (!thread_key_ok || atomic_load_explicit(&pgmap_test_no_shards,
						   memory_order_relaxed))
		return &pgmap->fallback;
	if (!t->key_set) {
		if (pthread_setspecific(thread_key, t))
			return &pgmap->fallback;
		t->key_set = true;
	}
	s = aligned_alloc(PGDAX_CACHELINE, sizeof(*s));
	if (!s)
		return &pgmap->fallback;
	memset(s, 0, sizeof(*s));
	s->pgmap_id = pgmap->id;
	s->pgmap = pgmap;

	pthread_mutex_lock(&shard_lock);
	prune_orphans_locked(t);
	s->pgmap_next = pgmap->shards;
	pgmap->shards = s;
	pthread_mutex_unlock(&shard_lock);
	s->thread_next = t->list;
	t->list = s;
found:
	t->cache_id = pgmap->id;
	t->cache = s;
	return s;
}

/* ---------------------------------------------------------------------- */
/* Live reference                                                          */

static void fire_drained(struct pgdax_pgmap *pgmap)
{
	/*
	 * 1 = fired, waking; 2 = done. pgmap_release() waits for 2, so this
	 * thread's futex_wake never runs on freed memory; the store of 2 is
	 * its last access to the pgmap.
	 */
	atomic_fetch_add(&pgmap->drained_events, 1);
	atomic_store_explicit(&pgmap->drained, 1, memory_order_release);
	pgdax_futex_wake_all(&pgmap->drained);
	atomic_store_explicit(&pgmap->drained, 2, memory_order_release);
}

void live_put_central(struct pgdax_pgmap *pgmap, uint64_t nr)
{
	int64_t v = atomic_fetch_sub_explicit(&pgmap->central, (int64_t)nr,
					      memory_order_acq_rel) - (int64_t)nr;

	if (likely(v > 0))
		return;
	if (v < 0) {
		pgdax_err("pgmap %p: live reference dropped below zero (%lld): "
			  "a put without a matching get", (void *)pgmap,
			  (long long)v);
		abort();
	}
	fire_drained(pgmap);
}

bool pgmap_tryget_live(struct pgdax_pgmap *pgmap, uint64_t nr)
{
	struct live_shard *s = live_shard(pgmap);

	if (unlikely(nr > INT64_MAX / 4))
		return false;
	if (!live_enter(pgmap, s))
		return false;
	shard_add(s, &s->live, (int64_t)nr);
	live_exit(s);
	return true;
}

void pgmap_put_live(struct pgdax_pgmap *pgmap, uint64_t nr)
{
	struct live_shard *s = live_shard(pgmap);

	if (likely(live_enter(pgmap, s))) {
		shard_add(s, &s->live, -(int64_t)nr);
		live_exit(s);
		return;
	}
	/* dying: the bias keeps central above 0 until the fold */
	live_put_central(pgmap, nr);
}

/* Wait until no thread is inside a section of @s. */
static void wait_section_clear(struct live_shard *s)
{
	unsigned spins = 0;

	/* sections are a few instructions and never block: yield, no sleep */
	while (atomic_load_explicit(&s->in_sec, memory_order_seq_cst)) {
		if (++spins > 64)
			sched_yield();
	}
}

void pgmap_kill(struct pgdax_pgmap *pgmap)
{
	struct live_shard *s;
	int64_t sum = 0;

	pthread_mutex_lock(&pgmap->kill_lock);
	if (atomic_load(&pgmap->dying)) {
		pthread_mutex_unlock(&pgmap->kill_lock);
		return;
	}
	atomic_store_explicit(&pgmap->dying, 1, memory_order_seq_cst);
	/*
	 * Grace period, part 1: after this, every thread either has its
	 * in_sec store visible to us or will see dying == 1.
	 */
	if (pgmap_use_membarrier) {
		/*
		 * Registered at init; a child of fork() may need to register
		 * again (EPERM). Readers rely on it: no way to go on without.
		 */
		if (sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) < 0 &&
		    (errno != EPERM ||
		     sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) < 0 ||
		     sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) < 0)) {
			pgdax_err("membarrier(PRIVATE_EXPEDITED): %s: cannot "
				  "complete the grace period of pgmap_kill()",
				  strerror(errno));
			abort();
		}
	}
	/* without membarrier: seq_cst store of dying, seq_cst loads of in_sec */

	pthread_mutex_lock(&shard_lock);
	/* part 2: wait out every section that may have seen "alive" */
	for (s = pgmap->shards; s; s = s->pgmap_next)
		wait_section_clear(s);
	wait_section_clear(&pgmap->fallback);
	/* fold: from now on every put goes to central */
	for (s = pgmap->shards; s; s = s->pgmap_next) {
		sum += atomic_load_explicit(&s->live, memory_order_relaxed);
		atomic_store_explicit(&s->live, 0, memory_order_relaxed);
	}
	sum += atomic_load_explicit(&pgmap->fallback.live, memory_order_relaxed);
	atomic_store_explicit(&pgmap->fallback.live, 0, memory_order_relaxed);
	/* initial unit still held: the result is >= 1, no event here */
	atomic_fetch_add(&pgmap->central, sum - LIVE_BIAS);
	atomic_store(&pgmap->folded, true);
	pthread_mutex_unlock(&shard_lock);
	/*
	 * Unlock before dropping the initial unit: if it is the last one, the
	 * drained event lets another thread release (free) the pgmap at once.
	 * A concurrent second kill returns after the fold, which is all that
	 * "after kill returns nothing new gets a reference" needs.
	 */
	pthread_mutex_unlock(&pgmap->kill_lock);
	live_put_central(pgmap, 1);
}

/*
 * Sleeps on the drained futex word; it may be called before kill (another
 * thread kills later), so with timeout_ms < 0 it waits as long as it takes.
 */
int pgmap_drain(struct pgdax_pgmap *pgmap, int timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	while (!atomic_load_explicit(&pgmap->drained, memory_order_acquire)) {
		if (pgdax_futex_wait(&pgmap->drained, 0,
				     timeout_ms >= 0 ? &deadline : NULL) == -ETIMEDOUT &&
		    !atomic_load_explicit(&pgmap->drained, memory_order_acquire))
			return -ETIMEDOUT;
	}
	return 0;
}

enum pgmap_state pgmap_state(const struct pgdax_pgmap *pgmap)
{
	struct pgdax_pgmap *p = (struct pgdax_pgmap *)pgmap;

	if (atomic_load(&p->drained))
		return PGMAP_DRAINED;
	if (atomic_load(&p->dying))
		return PGMAP_DYING;
	return PGMAP_LIVE;
}

int64_t pgmap_live_count(struct pgdax_pgmap *pgmap)
{
	struct live_shard *s;
	int64_t v;

	pthread_mutex_lock(&shard_lock);
	v = atomic_load(&pgmap->central);
	for (s = pgmap->shards; s; s = s->pgmap_next)
		v += atomic_load_explicit(&s->live, memory_order_relaxed);
	v += atomic_load_explicit(&pgmap->fallback.live, memory_order_relaxed);
	if (!atomic_load(&pgmap->folded))
		v -= LIVE_BIAS;
	pthread_mutex_unlock(&shard_lock);
	return v;
}

uint64_t pgmap_active_folios(struct pgdax_pgmap *pgmap)
{
	struct live_shard *s;
	int64_t v;

	pthread_mutex_lock(&shard_lock);
	v = atomic_load(&pgmap->retired_active);
	for (s = pgmap->shards; s; s = s->pgmap_next)
		v += atomic_load_explicit(&s->active, memory_order_relaxed);
	v += atomic_load_explicit(&pgmap->fallback.active, memory_order_relaxed);
	pthread_mutex_unlock(&shard_lock);
	/* a racy snapshot can be transiently negative; exact when quiescent */
	return v > 0 ? (uint64_t)v : 0;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

/* On failure the caller keeps @dev (it is taken only on success). */
int pgmap_new(struct pgdax_dev *dev, unsigned page_shift, uint64_t npages,
	      const struct pgmap_ops *ops, void *arg, struct pgdax_pgmap **out)
{
	struct pgdax_pgmap *pgmap;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (page_shift < 9 || page_shift > 30) {
		pgdax_err("page shift %u out of range [9, 30]", page_shift);
		return -EINVAL;
	}
	if (npages == 0 || npages > PGMAP_MAX_NPAGES) {
		pgdax_err("page count %llu out of range [1, 2^40]",
			  (unsigned long long)npages);
		return -EINVAL;
	}
	if (dev && npages > pgdax_dev_size(dev) >> page_shift) {
		pgdax_err("%llu pages of %u bytes do not fit the %llu-byte device",
			  (unsigned long long)npages, 1u << page_shift,
			  (unsigned long long)pgdax_dev_size(dev));
		return -EINVAL;
	}
	pthread_once(&global_once, global_init);

	pgmap = aligned_alloc(PGDAX_CACHELINE, sizeof(*pgmap));
	if (!pgmap)
		return -ENOMEM;
	memset(pgmap, 0, sizeof(*pgmap));
	pgmap->id = atomic_fetch_add(&next_pgmap_id, 1);
	pgmap->npages = npages;
	pgmap->page_shift = page_shift;
	if (ops)
		pgmap->ops = *ops;
	pgmap->arg = arg;
	pgmap->dev = dev;
	pgmap->check = pgdax_invariants();
	pgmap->fallback.shared = true;
	pgmap->fallback.pgmap_id = pgmap->id;
	pgmap->fallback.pgmap = pgmap;
	/* the initial unit, plus the bias that the fold at kill removes */
	atomic_init(&pgmap->central, LIVE_BIAS + 1);
	ret = pthread_mutex_init(&pgmap->kill_lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_free;
	}
	ret = folio_table_init(pgmap);
	if (ret)
		goto err_mutex;
	*out = pgmap;
	return 0;

err_mutex:
	pthread_mutex_destroy(&pgmap->kill_lock);
err_free:
	free(pgmap);
	return ret;
}

/*
 * Invariant 8 (checking mode), at the unmap itself: the device goes only
 * after the drained event, which fired once, after kill, with the count at
 * exactly 0 and nothing left in any shard; and (invariant 1) no extent is
 * referenced as the pgmap becomes released. The caller has seen drained
 * == 2 and no other thread uses the pgmap any more, so every counter is
 * final here (a put's last access, the drop of its live units, happened
 * before the event).
 */
static void check_unmap(struct pgdax_pgmap *pgmap)
{
	int64_t shards = 0;
	struct live_shard *s;

	pthread_mutex_lock(&shard_lock);
	for (s = pgmap->shards; s; s = s->pgmap_next)
		shards += atomic_load_explicit(&s->live, memory_order_relaxed);
	shards += atomic_load_explicit(&pgmap->fallback.live, memory_order_relaxed);
	pthread_mutex_unlock(&shard_lock);
	if (atomic_load(&pgmap->drained) != 2 || atomic_load(&pgmap->drained_events) != 1 ||
	    !atomic_load(&pgmap->dying) || !atomic_load(&pgmap->folded) ||
	    atomic_load(&pgmap->central) != 0 || shards != 0)
		pgdax_invariant_fail(8, "unmapping the device of pgmap %p with drained=%u "
				     "(event fired %u times), dying=%u, live count %lld (+%lld "
				     "in shards): the device goes only after the drained event, "
				     "with every reference gone", (void *)pgmap,
				     atomic_load(&pgmap->drained),
				     atomic_load(&pgmap->drained_events),
				     atomic_load(&pgmap->dying),
				     (long long)(atomic_load(&pgmap->central) -
						 (atomic_load(&pgmap->folded) ? 0 : LIVE_BIAS)),
				     (long long)shards);
	folio_table_assert_idle(pgmap);
}

/*
 * Only once drained; the caller guarantees no other thread still uses the
 * pgmap (not even sleeping in pgmap_drain()): release frees it.
 */
int pgmap_release(struct pgdax_pgmap **pp)
{
	struct pgdax_pgmap *pgmap;
	struct live_shard *s;

	if (!pp || !*pp)
		return 0;
	pgmap = *pp;
	if (atomic_load_explicit(&pgmap->drained, memory_order_acquire) == 0) {
		pgdax_err("pgmap %p not drained (%s, %lld live units): "
			  "not releasing the device", (void *)pgmap,
			  atomic_load(&pgmap->dying) ? "dying" : "live",
			  (long long)pgmap_live_count(pgmap));
		return -EBUSY;
	}
	/* the thread that fired the event may still be in futex_wake */
	while (atomic_load_explicit(&pgmap->drained, memory_order_acquire) != 2)
		sched_yield();
	if (pgmap->check)
		check_unmap(pgmap);	/* invariants 8 and 1 */

	/*
	 * Threads that used this pgmap keep their shard on their list; mark
	 * them orphans so they free them (prune or exit) without touching
	 * the pgmap. After this no thread reaches the pgmap through a shard.
	 */
	pthread_mutex_lock(&shard_lock);
	for (s = pgmap->shards; s; s = s->pgmap_next) {
		s->pgmap = NULL;
		atomic_store(&s->orphan, true);
	}
	pgmap->shards = NULL;
	pthread_mutex_unlock(&shard_lock);

	folio_table_free(pgmap);
	if (pgmap->dev)
		pgdax_dev_close(&pgmap->dev);
	pthread_mutex_destroy(&pgmap->kill_lock);
	free(pgmap);
	*pp = NULL;
	return 0;
}

void pgmap_test_fire_drained(struct pgdax_pgmap *pgmap)
{
	fire_drained(pgmap);
}

bool pgmap_checking(const struct pgdax_pgmap *pgmap)
{
	return pgmap->check;
}

uint32_t pgmap_drained_events(struct pgdax_pgmap *pgmap)
{
	return atomic_load(&pgmap->drained_events);
}

struct pgdax_dev *pgmap_dev(const struct pgdax_pgmap *pgmap)
{
	return pgmap->dev;
}

unsigned pgmap_page_shift(const struct pgdax_pgmap *pgmap)
{
	return pgmap->page_shift;
}

uint64_t pgmap_npages(const struct pgdax_pgmap *pgmap)
{
	return pgmap->npages;
}

void *pgmap_page_addr(const struct pgdax_pgmap *pgmap, uint64_t pgoff)
{
	if (!pgmap->dev || pgoff >= pgmap->npages)
		return NULL;
	return (char *)pgdax_dev_base(pgmap->dev) + (pgoff << pgmap->page_shift);
}
