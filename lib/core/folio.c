/* SPDX-License-Identifier: MIT */
/*
 * The folio table and every reference count transition of pgdaxfs.
 * (DESIGN.md section 3; the seeds are Dan Williams' pgmap_request_folio()
 * and Jason Gunthorpe's "0 when free, 1 on request, page_free on 1 -> 0".)
 * This comment is the one place that states the rules and why they hold.
 *
 * == Objects ==
 * A pgmap covers pages [0, npages). An *extent* (folio) is 2^order pages at
 * a page offset aligned to 2^order. The folio table has one 16-byte entry
 * per page, but only an extent's head entry is ever non-zero. Its state is
 * one 32-bit word (also the futex word waiters sleep on):
 *
 *     bits  0..23  count        references (0 = idle)
 *     bits 24..28  order        of the extent headed here (0 when idle)
 *     bit  29      CLAIMING     a request is activating it (count 0)
 *     bit  30      FREEING      the last put is freeing it (count 0)
 *     bit  31      WAITERS      someone sleeps on the word
 *
 * plus the owner cookie (written while CLAIMING, read by holders and by the
 * freeing thread, reset while FREEING). Entries live in chunks of 2^13,
 * allocated on the first request that lands in them and published with one
 * compare-and-swap of the chunk pointer; chunks are freed only at release,
 * so a folio pointer stays valid memory for the life of the pgmap. A 1 TiB
 * device of 4 KiB pages costs a 256 KiB first level plus 128 KiB per chunk
 * actually used (pgmap_table_bytes()).
 *
 * == Rules ==
 * R1 Idle is 0. While the word is 0 nobody reads the entry's owner/order:
 *    they are reset (owner NULL, order 0; owner poisoned in debug builds)
 *    and a request checks the poison before reusing it (invariant 9).
 * R2 pgmap_request_folio() is the only 0 -> non-zero transition:
 *      a. range/order/alignment checks (-EINVAL, nothing touched);
 *      b. tryget_live(2^order) (-ENXIO once dying);
 *      c. CAS 0 -> CLAIMING|order. On failure the live units go straight
 *         back with pgmap_put_live(): no page_free, no waiter wake-up, no
 *         state touched (-EBUSY, or -EINVAL if the head is active with
 *         another order; invariant 4: "free callback for a reference
 *         never taken" cannot happen);
 *      d. overlap check: no active extent of another order covers the head
 *         (ancestors) and none starts inside the range (descendants);
 *         otherwise undo c. and b. the same direct way (-EINVAL, or
 *         -EBUSY if the other extent is itself CLAIMING/FREEING);
 *      e. write owner, then publish count 1 with a release store.
 *    CLAIMING makes c..e atomic for everyone else: request and try_get see
 *    "busy", waiters see "not idle", and only the claimer writes the word.
 * R3 folio_try_get() increments unless the count is 0 (idle, CLAIMING or
 *    FREEING), and does so *inside a read-side section of the live
 *    reference* that first checks "not dying" (see below). So after
 *    pgmap_kill() returns no new reference of any kind appears, even on an
 *    extent that is already active, and drain cannot be starved.
 *    folio_get() is for a caller that already holds one: a plain increment
 *    that aborts on a count of 0 (a get at zero is a use-after-free).
 *    pgmap_get_folio() = try_get, else request, retrying while the head is
 *    CLAIMING (yield) or FREEING (sleep on the word): two users of an idle
 *    extent never see a spurious -EBUSY.
 * R4 folio_put() 1 -> 0 is the only release: CAS 1 -> FREEING|order (so a
 *    racing request/try_get sees busy, never a half-freed extent), call
 *    page_free(pgoff, order, owner), reset the state, publish 0 with an
 *    exchange (which also clears WAITERS), wake waiters if WAITERS was set,
 *    and only then drop the 2^order live units. Dropping them last means the
 *    pgmap (and this table) outlives every access the freeing thread makes:
 *    release needs the drained event, which needs those units.
 *    A put at count 0 aborts. page_free runs with no lock of ours held;
 *    it must not wait for its own extent (pgmap_get_folio/wait_idle on it
 *    would sleep on FREEING forever) nor drain the pgmap (the extent's
 *    units are still held).
 * R5 Counts saturate: folio_try_get/pgmap_get_folio refuse (-EOVERFLOW) and
 *    folio_get aborts at 2^24 - 1, before the count could carry into the
 *    order bits.
 *
 * Memory ordering: publish (R2e) is a release store; every increment that
 * creates a holder is an acquire RMW (it reads from the release sequence
 * headed by that store, so owner is visible to it); every decrement is a
 * release RMW and the 1 -> FREEING CAS is acq_rel, so page_free
 * happens-after every holder's last access, and the exchange to 0 (release)
 * happens-before the next claimer's acquiring CAS (which then sees the
 * reset state).
 *
 * Overlap check (R2d), and why it needs no lock: extents are aligned powers
 * of two, so two overlap iff one's head lies inside the other. A claimer of
 * (p, k) first raises pgmap->max_order to >= k, CASes its own head, then
 * loads (seq_cst) each possible ancestor head p & ~(2^j - 1), k < j <=
 * max_order, and, for k > 0, every entry inside (p, p + 2^k) (chunks never
 * allocated hold nothing and are skipped). Two overlapping claimers each
 * store (CAS) then load the other's head, all seq_cst: at least one sees the
 * other and backs off (both may: overlapping requests are a caller bug, and
 * the answer is a clean -EBUSY, never two active overlapping extents).
 * Reading max_order after the CAS is what makes skipping higher levels
 * safe: a claimer that missed a new larger order had its CAS ordered before
 * that order was raised, so the larger claimer's scan sees it. Cost: nothing
 * beyond one load while every extent has order 0; up to max_order loads per
 * request otherwise, plus 2^k loads (16 bytes apart) to activate an extent
 * of order k > 0.
 *
 * == The live reference (lib/core/pgmap.c) ==
 * The kernel's percpu_ref. It starts at 1 (the initial unit). Each active
 * extent holds 2^order units from request (R2b) to the end of its last put
 * (R4), so "all extents idle" is one counter reaching 0 (invariant 2), with
 * no scan of the table (Dan Williams' reason for this design).
 * Live mode: counts go to a per-(thread, pgmap) shard on its own cache line,
 * written with plain stores (no lock prefix, no shared line). A get or put
 * runs as a read-side section:
 *        in_sec = 1; barrier; if (dying) { in_sec = 0; slow } ;
 *        shard += n; in_sec = 0 (release)
 * Kill: dying = 1; membarrier(PRIVATE_EXPEDITED) (a full barrier on every
 * running thread); wait until every shard's in_sec reads 0 (acquire); fold
 * the shards into the atomic count; drop the initial unit.
 * Why it is safe (asymmetric Dekker): the reader's "store in_sec; load
 * dying" is ordered by the membarrier the killer issues between "store
 * dying" and "load in_sec". So for every section either the killer sees
 * in_sec == 1 and waits for its end (and then sees its shard update, by the
 * release/acquire pair), or the section sees dying and takes the slow path.
 * Hence after kill no section that saw "alive" is running or can start:
 * tryget_live and folio_try_get fail from then on (invariant 6, R3). Without
 * membarrier (old kernels; TSan builds) the reader's store and both sides'
 * loads are seq_cst: the plain C11 form of the same Dekker argument.
 * Atomic mode: after dying, puts go to the atomic count. It started at
 * LIVE_BIAS + 1 and the fold adds (sum of shards - LIVE_BIAS), so puts that
 * arrive between "dying" and the fold cannot reach 0 early (the kernel's
 * PERCPU_COUNT_BIAS). The atomic RMW that takes it to exactly 0 is unique,
 * and it fires the one-shot drained event (invariant 7); going below 0
 * aborts. A thread that exits folds its shards into the atomic count under
 * the shard lock; release orphans the shards of threads still alive, so
 * neither order of "thread exit" and "pgmap release" touches freed memory.
 * A request whose tryget_live ran before kill may still publish its count
 * after kill returns: its units were taken while live, so drain waits for
 * it; nothing that *starts* after kill returns gets a reference.
 * Limits: a read-side section must not be re-entered from a signal handler
 * on the same thread, and a child of fork() may only kill a pgmap if no
 * other thread of the parent was inside a section at the fork.
 * Waiting (drain, wait_idle) sleeps on futex words with a re-check of the
 * condition against the value slept on: no sleep loops, no lost wake-ups.
 * "Idle" has one definition, asked by pgmap_folio_idle() and waited for by
 * pgmap_wait_idle(): the word of the extent's head (and of any active
 * extent covering it) is 0. A count of 0 is not enough: while page_free
 * runs the extent is FREEING with count 0, and its blocks must not reach
 * the allocator before page_free returns (invariant 11).
 * Every transition to 0 of a folio word clears WAITERS and wakes its
 * sleepers (invariant 13); waiters set WAITERS only on a non-zero word that
 * is not CLAIMING (CLAIMING lasts a few loads: they yield instead), which is
 * why the publish of R2e may be a plain store.
 *
 * == Invariant checks (DESIGN.md section 3) ==
 * In checking mode (lib/util/util.h pgdax_invariants(): PGDAX_INVARIANTS=1,
 * read once when a pgmap, an allocator or a pin table is created; every
 * test runs with it) these invariants are asserted on every transition
 * that could break them, while threads race, and a break aborts through
 * pgdax_invariant_fail() with a message naming the invariant. Off, each
 * costs one predictable branch on a flag already in cache (pgmap->check
 * sits beside pgmap->dying, which every hot path reads).
 *   1  refcount > 0 implies allocated to an owner, pgmap not released:
 *      check_new_ref() below, after every request (0 -> 1), get, try_get
 *      and folio_get, with the new reference held: the pgmap's owned()
 *      callback says the extent is allocated (lib/vol/vol.c
 *      vol_page_owned(): no page of it free in lib/core/alloc.c), and the
 *      pgmap has not drained (a held reference keeps its units; release
 *      needs the drained event). At the release, lib/core/pgmap.c
 *      check_unmap() calls folio_table_assert_idle() below: no extent is
 *      referenced. After it nothing gets a reference (released implies
 *      dying, R3; a get or put at 0 aborts, R3/R4); the pgmap is freed, so
 *      a late access is a use-after-free, which check-asan's runs catch.
 *   8  the device is unmapped only after the drained event:
 *      lib/core/pgmap.c check_unmap(), in pgmap_release() before it
 *      unmaps: the event fired once, after kill, the count is exactly 0
 *      and no shard holds a unit.
 *   11 truncate/punch only over idle extents, blocks reach the allocator
 *      only then. Idle is pgmap_folio_idle(): the state word of the extent
 *      holding the page is 0 (CLAIMING and FREEING are busy), checked by
 *      pgmap_assert_idle() below:
 *      (a) lib/vol/data.c free_range(): each extent it frees blocks of;
 *      (b) lib/core/alloc.c, before any page goes back to the free pool
 *          (put, put_range, add_free: a commit's frees through
 *          lib/vol/quarantine.c, a relayout's old blocks, an aborted
 *          transaction, the quarantine's returns), through the volume's
 *          free check, lib/vol/vol.c vol_check_freed().
 *   12 while a layout is broken no new pin appears in the range, and
 *      every wait is followed by a re-check:
 *      (a) lib/pin/pin.c check_no_break_locked(), in pin_commit(), as the
 *          pin enters the books (table lock held): no recorded break
 *          overlaps it;
 *      (b) by structure, and checked where it matters: pgmap_wait_idle()
 *          returns 0 only from the busy_head() test at the top of its loop,
 *          which follows every sleep; the volume's waiters (data.c
 *          wait_range_idle, inode.c reclaim_wait_idle) go round a full pass
 *          after any wait and return only from a pass that found nothing
 *          busy; and where a break's wait ends with success (data.c
 *          wait_range) lib/vol/extmap.c extmap_assert_idle() re-checks the
 *          whole range itself, so a waiter that skipped or botched its
 *          re-check aborts there.
 *   14 free + allocated == device space, no extent handed out twice:
 *      lib/core/alloc.c (the top of that file): a record of free pages
 *      kept apart from the trees, checked by every get and reserve (each
 *      page free) and put, put_range, add_free (none free), and
 *      audit_locked() after every change.
 * tests/check_invariants.c races them all and, for each check, plants the
 * bug it exists for and expects the abort.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/util.h"
#include "pgmap_internal.h"

#define F_COUNT_MASK	0x00ffffffu
#define F_ORDER_SHIFT	24
#define F_ORDER_MASK	(0x1fu << F_ORDER_SHIFT)
#define F_CLAIMING	(1u << 29)
#define F_FREEING	(1u << 30)
#define F_WAITERS	(1u << 31)
#define F_COUNT_MAX	F_COUNT_MASK

_Static_assert(PGMAP_MAX_ORDER <= (F_ORDER_MASK >> F_ORDER_SHIFT),
	       "order must fit the state word");

#ifdef NDEBUG
#define IDLE_OWNER	NULL
#else
/* non-canonical: dereferencing an idle extent's owner faults at once */
#define IDLE_OWNER	((void *)(uintptr_t)0x6b6b6b6b6b6b6b6bull)
#endif

struct pgdax_folio {
	_Atomic uint32_t word;	/* the state word above */
	uint32_t idx;		/* const: index in its chunk */
	void *owner;		/* written CLAIMING, reset FREEING (R1, R2e, R4) */
};
_Static_assert(sizeof(struct pgdax_folio) <= 32, "per-folio state must stay small");

struct folio_chunk {
	struct pgdax_pgmap *pgmap;	/* const */
	uint64_t base;			/* const: pgoff of e[0] */
	uint64_t nr;			/* const: entries */
	struct pgdax_folio e[] __attribute__((aligned(PGDAX_CACHELINE)));
};

static inline unsigned w_count(uint32_t w) { return w & F_COUNT_MASK; }
static inline unsigned w_order(uint32_t w) { return (w & F_ORDER_MASK) >> F_ORDER_SHIFT; }

static inline struct folio_chunk *chunk_of(const struct pgdax_folio *f)
{
	return (struct folio_chunk *)((char *)(f - f->idx) -
				      offsetof(struct folio_chunk, e));
}

/* ---------------------------------------------------------------------- */
/* Table                                                                   */

int folio_table_init(struct pgdax_pgmap *pgmap)
{
	pgmap->nchunks = (pgmap->npages + FOLIO_CHUNK_PAGES - 1) >> FOLIO_CHUNK_SHIFT;
	pgmap->chunks = calloc(pgmap->nchunks, sizeof(*pgmap->chunks));
	if (!pgmap->chunks)
		return -ENOMEM;
	atomic_store(&pgmap->table_bytes, pgmap->nchunks * sizeof(*pgmap->chunks));
	return 0;
}

void folio_table_free(struct pgdax_pgmap *pgmap)
{
	uint64_t i;

	for (i = 0; i < pgmap->nchunks; i++)
		free(atomic_load_explicit(&pgmap->chunks[i], memory_order_acquire));
	free(pgmap->chunks);
	pgmap->chunks = NULL;
}

static inline struct pgdax_folio *entry_lookup(struct pgdax_pgmap *pgmap,
					       uint64_t pgoff)
{
	struct folio_chunk *c = atomic_load_explicit(
		&pgmap->chunks[pgoff >> FOLIO_CHUNK_SHIFT], memory_order_acquire);

	return c ? &c->e[pgoff & (FOLIO_CHUNK_PAGES - 1)] : NULL;
}

/* The entry for @pgoff, allocating its chunk on first use; NULL = ENOMEM. */
static struct pgdax_folio *entry_get(struct pgdax_pgmap *pgmap, uint64_t pgoff)
{
	uint64_t ci = pgoff >> FOLIO_CHUNK_SHIFT, base, nr, i, bytes;
	struct pgdax_folio *f = entry_lookup(pgmap, pgoff);
	struct folio_chunk *c, *old = NULL;

	if (likely(f))
		return f;
	base = ci << FOLIO_CHUNK_SHIFT;
	nr = pgmap->npages - base < FOLIO_CHUNK_PAGES ?
	     pgmap->npages - base : FOLIO_CHUNK_PAGES;
	bytes = sizeof(*c) + nr * sizeof(c->e[0]);
	bytes = (bytes + PGDAX_CACHELINE - 1) & ~(uint64_t)(PGDAX_CACHELINE - 1);
	c = aligned_alloc(PGDAX_CACHELINE, bytes);
	if (!c) {
		pgdax_err("no memory for %llu bytes of folio table",
			  (unsigned long long)bytes);
		return NULL;
	}
	c->pgmap = pgmap;
	c->base = base;
	c->nr = nr;
	for (i = 0; i < nr; i++) {
		atomic_init(&c->e[i].word, 0);
		c->e[i].idx = (uint32_t)i;
		c->e[i].owner = NULL;
	}
	/* release: a thread that loads the pointer sees the initialized chunk */
	if (!atomic_compare_exchange_strong_explicit(&pgmap->chunks[ci], &old, c,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		free(c);	/* lost the race: use the published one */
		c = old;
	} else {
		atomic_fetch_add(&pgmap->table_bytes, bytes);
	}
	return &c->e[pgoff & (FOLIO_CHUNK_PAGES - 1)];
}

/* Word at @pgoff, seq_cst (overlap check); 0 if the chunk was never made. */
static inline uint32_t word_at(struct pgdax_pgmap *pgmap, uint64_t pgoff)
{
	struct pgdax_folio *f = entry_lookup(pgmap, pgoff);

	return f ? atomic_load(&f->word) : 0;
}

static int check_extent(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order)
{
	if (order > PGMAP_MAX_ORDER || pgoff >= pgmap->npages ||
	    (pgoff & ((UINT64_C(1) << order) - 1)) ||
	    (UINT64_C(1) << order) > pgmap->npages - pgoff) {
		pgdax_err("bad extent: page %llu order %u (pgmap of %llu pages): "
			  "out of range or not aligned to its order",
			  (unsigned long long)pgoff, order,
			  (unsigned long long)pgmap->npages);
		return -EINVAL;
	}
	return 0;
}


/* ---------------------------------------------------------------------- */
/* Invariant checks (checking mode; the list is at the top of this file)   */

/*
 * Invariant 1, with the new reference held: the extent is allocated to an
 * owner (the pgmap's owned() callback asks the allocator), and the pgmap
 * has not drained (a held reference keeps its units, so a drained event
 * now fired early; release needs it, so a pgmap can be released under a
 * reference only through this).
 */
static void __attribute__((noinline, cold))
check_new_ref(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order, const char *how)
{
	if (atomic_load(&pgmap->drained))
		pgdax_invariant_fail(1, "%s of the extent at page %llu order %u succeeded on a "
				     "drained pgmap: it may be released under this reference",
				     how, (unsigned long long)pgoff, order);
	if (pgmap->ops.owned && !pgmap->ops.owned(pgmap, pgoff, order, pgmap->arg))
		pgdax_invariant_fail(1, "%s of the extent at page %llu order %u: referenced, but "
				     "its pages are free in the allocator (no owner)", how,
				     (unsigned long long)pgoff, order);
}

/* ---------------------------------------------------------------------- */
/* Overlap (R2d)                                                           */

static int overlap_error(struct pgdax_pgmap *pgmap, uint64_t pgoff,
			 unsigned order, uint64_t other, uint32_t w)
{
	if (w & (F_CLAIMING | F_FREEING))
		return -EBUSY;	/* the other extent is changing: try later */
	pgdax_err("extent at page %llu order %u overlaps the active extent at "
		  "page %llu order %u", (unsigned long long)pgoff, order,
		  (unsigned long long)other, w_order(w));
	return -EINVAL;
}

static int overlap_check(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order)
{
	unsigned max = atomic_load(&pgmap->max_order), j;
	uint64_t end, p, a;
	uint32_t w;

	/* ancestors: an active extent of order >= j headed below us */
	for (j = order + 1; j <= max; j++) {
		a = pgoff & ~((UINT64_C(1) << j) - 1);
		if (a == pgoff)
			continue;	/* our own head: we hold it */
		w = word_at(pgmap, a);
		if (w && w_order(w) >= j)
			return overlap_error(pgmap, pgoff, order, a, w);
	}
	if (!order)
		return 0;
	/* descendants: any head inside (pgoff, pgoff + 2^order) */
	end = pgoff + (UINT64_C(1) << order);
	for (p = pgoff + 1; p < end;) {
		struct pgdax_folio *f = entry_lookup(pgmap, p);
		uint64_t stop = ((p >> FOLIO_CHUNK_SHIFT) + 1) << FOLIO_CHUNK_SHIFT;

		if (stop > end)
			stop = end;
		if (!f) {
			p = stop;	/* never allocated: nothing active */
			continue;
		}
		for (; p < stop; p++, f++) {
			w = atomic_load(&f->word);
			if (w)
				return overlap_error(pgmap, pgoff, order, p, w);
		}
	}
	return 0;
}

static void raise_max_order(struct pgdax_pgmap *pgmap, unsigned order)
{
	/*
	 * seq_cst even when nothing is written: if another claimer raised it,
	 * our CAS must come after that raise in the single total order, or a
	 * small claimer that read the old value could be missed by our scan.
	 */
	unsigned cur = atomic_load(&pgmap->max_order);

	while (cur < order &&
	       !atomic_compare_exchange_weak(&pgmap->max_order, &cur, order))
		;
}

/* ---------------------------------------------------------------------- */
/* 0 -> 1 (R2)                                                             */

/* -EBUSY with *head_busy = true when our own head was not idle. */
static int folio_activate(struct pgdax_pgmap *pgmap, struct pgdax_folio *f,
			  uint64_t pgoff, unsigned order, void *owner,
			  bool *head_busy)
{
	uint64_t nr = UINT64_C(1) << order;
	struct live_shard *s;
	uint32_t expect = 0;
	int ret;

	*head_busy = false;
	if (!pgmap_tryget_live(pgmap, nr))
		return -ENXIO;
	if (order > 0)
		raise_max_order(pgmap, order);
	if (!atomic_compare_exchange_strong_explicit(&f->word, &expect,
			F_CLAIMING | (order << F_ORDER_SHIFT),
			memory_order_seq_cst, memory_order_relaxed)) {
		/* not idle: give the units back directly, no free path */
		pgmap_put_live(pgmap, nr);
		*head_busy = true;
		if (w_order(expect) != order &&
		    !(expect & (F_CLAIMING | F_FREEING))) {
			pgdax_err("extent at page %llu order %u: active with "
				  "order %u", (unsigned long long)pgoff, order,
				  w_order(expect));
			return -EINVAL;
		}
		return -EBUSY;
	}
	ret = overlap_check(pgmap, pgoff, order);
	if (unlikely(ret)) {
		/* CLAIMING has no waiters (they yield): a plain store undoes it */
		atomic_store_explicit(&f->word, 0, memory_order_release);
		pgmap_put_live(pgmap, nr);
		return ret;
	}
	if (unlikely(f->owner != NULL && f->owner != IDLE_OWNER)) {
		pgdax_err("idle extent at page %llu carries owner %p: its state "
			  "was written while idle", (unsigned long long)pgoff,
			  f->owner);
		abort();
	}
	f->owner = owner;
	s = live_shard(pgmap);
	shard_add(s, &s->active, 1);
	atomic_store_explicit(&f->word, (order << F_ORDER_SHIFT) | 1,
			      memory_order_release);
	return 0;
}

int pgmap_request_folio(struct pgdax_pgmap *pgmap, uint64_t pgoff,
			unsigned order, void *owner, struct pgdax_folio **out)
{
	struct pgdax_folio *f;
	bool head_busy;
	int ret;

	if (unlikely(!out))
		return -EINVAL;
	ret = check_extent(pgmap, pgoff, order);
	if (ret)
		return ret;
	f = entry_get(pgmap, pgoff);
	if (!f)
		return -ENOMEM;
	ret = folio_activate(pgmap, f, pgoff, order, owner, &head_busy);
	if (ret)
		return ret;
	*out = f;
	if (unlikely(pgmap->check))
		check_new_ref(pgmap, pgoff, order, "request (0 -> 1)");
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Further references (R3)                                                 */

/*
 * Increment unless the count is 0. 0, -ENOENT (idle), -EAGAIN (CLAIMING or
 * FREEING), -EINVAL (active with another order, when want_order >= 0),
 * -EOVERFLOW. Call inside a live section.
 */
static int tryget_word(struct pgdax_folio *f, int want_order)
{
	uint32_t w = atomic_load_explicit(&f->word, memory_order_relaxed);

	do {
		if (w_count(w) == 0)
			return (w & (F_CLAIMING | F_FREEING)) ? -EAGAIN : -ENOENT;
		if (want_order >= 0 && w_order(w) != (unsigned)want_order)
			return -EINVAL;
		if (unlikely(w_count(w) == F_COUNT_MAX))
			return -EOVERFLOW;
	} while (!atomic_compare_exchange_weak_explicit(&f->word, &w, w + 1,
			memory_order_acquire, memory_order_relaxed));
	return 0;
}

/* tryget_word() inside a live section: -ENXIO once dying. */
static int tryget_live_folio(struct pgdax_pgmap *pgmap, struct pgdax_folio *f,
			     int want_order)
{
	struct live_shard *s = live_shard(pgmap);
	int ret;

	if (!live_enter(pgmap, s))
		return -ENXIO;
	ret = tryget_word(f, want_order);
	live_exit(s);
	return ret;
}

bool folio_try_get(struct pgdax_folio *folio)
{
	struct pgdax_pgmap *pgmap = chunk_of(folio)->pgmap;
	int ret = tryget_live_folio(pgmap, folio, -1);

	if (unlikely(ret == -EOVERFLOW))
		pgdax_err("extent at page %llu: reference count saturated",
			  (unsigned long long)folio_pgoff(folio));
	if (unlikely(pgmap->check) && ret == 0)
		check_new_ref(pgmap, folio_pgoff(folio), folio_order(folio), "try_get");
	return ret == 0;
}

/* Sleep until the word of a FREEING head changes; yield if CLAIMING. */
static void wait_transient(struct pgdax_folio *f)
{
	uint32_t w = atomic_load_explicit(&f->word, memory_order_relaxed);

	if (!(w & F_FREEING)) {
		sched_yield();
		return;
	}
	if (!(w & F_WAITERS) &&
	    !atomic_compare_exchange_strong(&f->word, &w, w | F_WAITERS))
		return;		/* changed: the caller re-checks */
	pgdax_futex_wait(&f->word, w | F_WAITERS, NULL);
}

int pgmap_get_folio(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order,
		    void *owner, struct pgdax_folio **out)
{
	struct pgdax_folio *f;
	bool head_busy;
	int ret;

	if (!out)
		return -EINVAL;
	ret = check_extent(pgmap, pgoff, order);
	if (ret)
		return ret;
	f = entry_get(pgmap, pgoff);
	if (!f)
		return -ENOMEM;
	for (;;) {
		ret = tryget_live_folio(pgmap, f, (int)order);
		if (ret == 0)
			break;
		if (ret == -EAGAIN) {
			wait_transient(f);
			continue;
		}
		if (ret != -ENOENT) {
			if (ret == -EINVAL)
				pgdax_err("extent at page %llu is active with "
					  "another order than %u",
					  (unsigned long long)pgoff, order);
			return ret;
		}
		/* idle: become the one who activates it */
		ret = folio_activate(pgmap, f, pgoff, order, owner, &head_busy);
		if (ret == 0)
			break;
		if (ret != -EBUSY || !head_busy)
			return ret;
		/* someone else activated it first: take a reference on theirs */
	}
	*out = f;
	if (unlikely(pgmap->check))
		check_new_ref(pgmap, pgoff, order, "get");
	return 0;
}

void folio_get(struct pgdax_folio *folio)
{
	uint32_t w = atomic_load_explicit(&folio->word, memory_order_relaxed);

	do {
		if (unlikely(w_count(w) == 0)) {
			pgdax_err("folio_get on the idle extent at page %llu "
				  "(state %#x): the caller holds no reference",
				  (unsigned long long)folio_pgoff(folio), w);
			abort();
		}
		if (unlikely(w_count(w) == F_COUNT_MAX)) {
			pgdax_err("folio_get: reference count of the extent at "
				  "page %llu would overflow",
				  (unsigned long long)folio_pgoff(folio));
			abort();
		}
	} while (!atomic_compare_exchange_weak_explicit(&folio->word, &w, w + 1,
			memory_order_relaxed, memory_order_relaxed));
	if (unlikely(chunk_of(folio)->pgmap->check))
		check_new_ref(chunk_of(folio)->pgmap, folio_pgoff(folio), w_order(w),
			      "folio_get");
}

/* ---------------------------------------------------------------------- */
/* 1 -> 0 (R4)                                                             */

static void folio_free(struct pgdax_folio *f, uint32_t w)
{
	struct folio_chunk *c = chunk_of(f);
	struct pgdax_pgmap *pgmap = c->pgmap;
	uint64_t pgoff = c->base + f->idx;
	unsigned order = w_order(w);
	struct live_shard *s;
	uint32_t old;

	if (pgmap->ops.page_free)
		pgmap->ops.page_free(pgmap, pgoff, order, f->owner, pgmap->arg);
	f->owner = IDLE_OWNER;
	s = live_shard(pgmap);
	shard_add(s, &s->active, -1);
	/* publish idle; the exchange also collects WAITERS set while FREEING */
	old = atomic_exchange_explicit(&f->word, 0, memory_order_release);
	if (old & F_WAITERS)
		pgdax_futex_wake_all(&f->word);
	/* last: after this the pgmap may be drained and released */
	pgmap_put_live(pgmap, UINT64_C(1) << order);
}

void folio_put(struct pgdax_folio *folio)
{
	uint32_t w = atomic_load_explicit(&folio->word, memory_order_relaxed);

	for (;;) {
		if (unlikely(w_count(w) == 0)) {
			pgdax_err("folio_put on the idle extent at page %llu "
				  "(state %#x): more puts than gets",
				  (unsigned long long)folio_pgoff(folio), w);
			abort();
		}
		if (w_count(w) == 1) {
			uint32_t nw = (w & (F_WAITERS | F_ORDER_MASK)) | F_FREEING;

			if (atomic_compare_exchange_weak_explicit(&folio->word,
					&w, nw, memory_order_acq_rel,
					memory_order_relaxed)) {
				folio_free(folio, nw);
				return;
			}
		} else if (atomic_compare_exchange_weak_explicit(&folio->word,
				&w, w - 1, memory_order_release,
				memory_order_relaxed)) {
			return;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Accessors                                                               */

uint64_t folio_pgoff(const struct pgdax_folio *folio)
{
	return chunk_of(folio)->base + folio->idx;
}

unsigned folio_order(const struct pgdax_folio *folio)
{
	return w_order(atomic_load_explicit(
		&((struct pgdax_folio *)folio)->word, memory_order_relaxed));
}

void *folio_addr(const struct pgdax_folio *folio)
{
	return pgmap_page_addr(chunk_of(folio)->pgmap, folio_pgoff(folio));
}

uint32_t pgmap_folio_refcount(struct pgdax_pgmap *pgmap, uint64_t pgoff)
{
	struct pgdax_folio *f;

	if (pgoff >= pgmap->npages)
		return 0;
	f = entry_lookup(pgmap, pgoff);
	return f ? w_count(atomic_load(&f->word)) : 0;
}

/* ---------------------------------------------------------------------- */
/* Waiting for idle (invariant 13)                                         */

/* The head of the extent containing @pgoff if it is not idle, else NULL. */
static struct pgdax_folio *busy_head(struct pgdax_pgmap *pgmap, uint64_t pgoff,
				     uint32_t *wp)
{
	unsigned max = atomic_load(&pgmap->max_order), j;
	struct pgdax_folio *f = entry_lookup(pgmap, pgoff);
	uint32_t w;

	if (f && (w = atomic_load(&f->word))) {
		*wp = w;
		return f;
	}
	for (j = 1; j <= max; j++) {
		uint64_t a = pgoff & ~((UINT64_C(1) << j) - 1);

		if (a == pgoff)
			continue;
		f = entry_lookup(pgmap, a);
		if (f && (w = atomic_load(&f->word)) && w_order(w) >= j) {
			*wp = w;
			return f;
		}
	}
	return NULL;
}

bool pgmap_folio_idle(struct pgdax_pgmap *pgmap, uint64_t pgoff)
{
	uint32_t w;

	if (pgoff >= pgmap->npages)
		return true;	/* nothing there can be active */
	return busy_head(pgmap, pgoff, &w) == NULL;
}

static void __attribute__((noreturn, cold))
idle_fail(int n, const char *what, uint64_t page, uint64_t head, uint32_t w)
{
	pgdax_invariant_fail(n, "%s: page %llu is not idle: the extent at page %llu order %u "
			     "has state %#x (count %u%s%s)", what, (unsigned long long)page,
			     (unsigned long long)head, w_order(w), w, w_count(w),
			     (w & F_CLAIMING) ? ", CLAIMING" : "",
			     (w & F_FREEING) ? ", FREEING: its last put is not done" : "");
}

/*
 * Invariants 11 and 12 (checking mode): every page of the range is idle.
 * An extent covering the first page from below is found as pgmap_wait_idle
 * finds it (busy_head); any other overlapping extent has its head inside
 * the range, so every entry there must read 0 (chunks never made hold
 * nothing). Cost: O(npages) loads, checking mode only.
 */
void pgmap_assert_idle(struct pgdax_pgmap *pgmap, uint64_t pgoff, uint64_t npages,
		       int n, const char *what)
{
	struct pgdax_folio *f;
	uint64_t end, p;
	uint32_t w;

	if (likely(!pgmap->check) || !npages)
		return;
	if (pgoff >= pgmap->npages || npages > pgmap->npages - pgoff)
		pgdax_invariant_fail(n, "%s: pages [%llu, +%llu) outside the pgmap (%llu pages)",
				     what, (unsigned long long)pgoff,
				     (unsigned long long)npages,
				     (unsigned long long)pgmap->npages);
	f = busy_head(pgmap, pgoff, &w);
	if (f)
		idle_fail(n, what, pgoff, folio_pgoff(f), w);
	end = pgoff + npages;
	for (p = pgoff + 1; p < end;) {
		uint64_t stop = ((p >> FOLIO_CHUNK_SHIFT) + 1) << FOLIO_CHUNK_SHIFT;

		if (stop > end)
			stop = end;
		f = entry_lookup(pgmap, p);
		if (!f) {
			p = stop;
			continue;
		}
		for (; p < stop; p++, f++)
			if ((w = atomic_load(&f->word)))
				idle_fail(n, what, p, p, w);
	}
}

void folio_table_assert_idle(struct pgdax_pgmap *pgmap)
{
	for (uint64_t ci = 0; ci < pgmap->nchunks; ci++) {
		struct folio_chunk *c = atomic_load(&pgmap->chunks[ci]);
		uint32_t w;

		for (uint64_t i = 0; c && i < c->nr; i++)
			if ((w = atomic_load(&c->e[i].word)))
				pgdax_invariant_fail(1, "the extent at page %llu order %u (state "
						     "%#x, count %u) is still referenced as its "
						     "pgmap is released",
						     (unsigned long long)(c->base + i), w_order(w),
						     w, w_count(w));
	}
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int pgmap_wait_idle(struct pgdax_pgmap *pgmap, uint64_t pgoff, int timeout_ms,
		    bool (*interrupted)(void *arg), void *arg)
{
	struct timespec deadline, now, slice;
	struct pgdax_folio *f;
	uint32_t w;

	if (pgoff >= pgmap->npages) {
		pgdax_err("page %llu beyond the pgmap (%llu pages)",
			  (unsigned long long)pgoff,
			  (unsigned long long)pgmap->npages);
		return -EINVAL;
	}
	if (timeout_ms >= 0)
		deadline_after(&deadline, timeout_ms);
	for (;;) {
		f = busy_head(pgmap, pgoff, &w);
		if (!f)
			return 0;
		if (interrupted && interrupted(arg))
			return -EINTR;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_ms >= 0 && !ts_before(&now, &deadline))
			return -ETIMEDOUT;
		if (w & F_CLAIMING) {
			sched_yield();	/* a few loads away from 1 or 0 */
			continue;
		}
		/* announce ourselves; any change of the word makes us re-check */
		if (!(w & F_WAITERS) &&
		    !atomic_compare_exchange_strong(&f->word, &w, w | F_WAITERS))
			continue;
		if (interrupted)
			deadline_after(&slice, 100);	/* poll interrupted() */
		if (timeout_ms >= 0 && (!interrupted || ts_before(&deadline, &slice)))
			slice = deadline;
		pgdax_futex_wait(&f->word, w | F_WAITERS,
				 (timeout_ms >= 0 || interrupted) ? &slice : NULL);
	}
}

/* ---------------------------------------------------------------------- */
/* For tests                                                               */

uint64_t pgmap_table_bytes(struct pgdax_pgmap *pgmap)
{
	return atomic_load(&pgmap->table_bytes);
}

uint64_t pgmap_table_chunks(struct pgdax_pgmap *pgmap)
{
	uint64_t i, n = 0;

	for (i = 0; i < pgmap->nchunks; i++)
		n += atomic_load(&pgmap->chunks[i]) != NULL;
	return n;
}

bool pgmap_folio_state_is_reset(struct pgdax_pgmap *pgmap, uint64_t pgoff)
{
	struct pgdax_folio *f;

	if (pgoff >= pgmap->npages)
		return false;
	f = entry_lookup(pgmap, pgoff);
	if (!f)
		return true;	/* never used */
	return atomic_load(&f->word) == 0 &&
	       (f->owner == NULL || f->owner == IDLE_OWNER);
}

uint32_t pgmap_folio_word(struct pgdax_pgmap *pgmap, uint64_t pgoff)
{
	return pgoff < pgmap->npages ? word_at(pgmap, pgoff) : 0;
}

uint32_t pgmap_folio_count_max(void)
{
	return F_COUNT_MAX;
}
