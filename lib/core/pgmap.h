/* SPDX-License-Identifier: MIT */
/*
 * The pgmap and its folios: the userspace analogue of the kernel's
 * dev_pagemap and pgmap_request_folio() (DESIGN.md section 3). The rules and
 * why they are safe are written once, at the top of lib/core/folio.c; the
 * live reference (percpu_ref analogue) is in lib/core/pgmap.c. Nothing else
 * in the project changes a reference count.
 *
 * Names keep their kernel spelling so a reader can map them onto the seeds.
 */
#ifndef PGDAX_PGMAP_H
#define PGDAX_PGMAP_H

#include <stdbool.h>
#include <stdint.h>

struct pgdax_dev;
struct pgdax_pgmap;
struct pgdax_folio;

enum pgmap_state {
	PGMAP_LIVE = 0,		/* requests succeed */
	PGMAP_DYING = 1,	/* killed: new references fail with -ENXIO */
	PGMAP_DRAINED = 2,	/* killed and every reference gone */
	PGMAP_RELEASED = 3,	/* device unmapped */
};

struct pgmap_ops {
	/*
	 * Called once per successful request, on the 1 -> 0 transition, while
	 * the extent is FREEING (nobody can re-activate it). Must not take
	 * locks that a holder of a folio reference may hold while calling
	 * folio_put(), and must do no allocator or journal work inline: hand
	 * such work to a worker. May be NULL.
	 */
	void (*page_free)(struct pgdax_pgmap *pgmap, uint64_t pgoff,
			  unsigned order, void *owner, void *arg);
	/*
	 * Checking mode only (pgmap_checking()): true if pages [pgoff,
	 * pgoff + 2^order) are allocated to an owner (invariant 1). Asked
	 * after every 0 -> 1 and every new reference, with that reference
	 * held; must take no lock a caller of pgmap_get_folio() may hold (the
	 * volume asks its allocator, whose lock is a leaf). May be NULL.
	 */
	bool (*owned)(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order,
		      void *arg);
};

/*
 * A pgmap over @dev covering pages [0, npages) of (1 << page_shift) bytes.
 * The pgmap takes ownership of @dev: pgmap_release() closes it, and only
 * after the drained event. Returns 0 or a negative errno.
 */
int pgmap_new(struct pgdax_dev *dev, unsigned page_shift, uint64_t npages,
	      const struct pgmap_ops *ops, void *arg, struct pgdax_pgmap **out);

/* Live reference: percpu_ref life cycle (init at 1 -> kill -> drained). */
bool pgmap_tryget_live(struct pgdax_pgmap *pgmap, uint64_t nr);
void pgmap_put_live(struct pgdax_pgmap *pgmap, uint64_t nr);
/*
 * Mark dying, wait a grace period so no thread is still inside a tryget
 * that saw "alive", fold the per-thread shards into one count and drop the
 * initial unit. Idempotent. After it returns every request fails -ENXIO.
 */
void pgmap_kill(struct pgdax_pgmap *pgmap);
/* Wait for the drained event; timeout_ms < 0 waits forever. 0 or -ETIMEDOUT. */
int pgmap_drain(struct pgdax_pgmap *pgmap, int timeout_ms);
/* Unmap and close the device; -EBUSY (and nothing done) unless drained. */
int pgmap_release(struct pgdax_pgmap **pgmap);
enum pgmap_state pgmap_state(const struct pgdax_pgmap *pgmap);
/* Exact after kill; a racy snapshot (sum of shards) before. */
int64_t pgmap_live_count(struct pgdax_pgmap *pgmap);
struct pgdax_dev *pgmap_dev(const struct pgdax_pgmap *pgmap);
unsigned pgmap_page_shift(const struct pgdax_pgmap *pgmap);
uint64_t pgmap_npages(const struct pgdax_pgmap *pgmap);
/* Address of page @pgoff in the device mapping. */
void *pgmap_page_addr(const struct pgdax_pgmap *pgmap, uint64_t pgoff);

/*
 * Folios. @owner is an opaque cookie (the inode) handed back to page_free.
 *
 * pgmap_request_folio: the only 0 -> 1. -EINVAL for a bad range/alignment
 * or a tail/overlapping offset, -ENXIO once dying, -EBUSY if not idle (and
 * then nothing changed).
 */
int pgmap_request_folio(struct pgdax_pgmap *pgmap, uint64_t pgoff,
			unsigned order, void *owner, struct pgdax_folio **out);
/* A new holder: try_get, else request, retrying; never a spurious -EBUSY. */
int pgmap_get_folio(struct pgdax_pgmap *pgmap, uint64_t pgoff, unsigned order,
		    void *owner, struct pgdax_folio **out);
/* Caller already holds a reference. Aborts on a folio at zero. */
void folio_get(struct pgdax_folio *folio);
/* Increment unless zero or FREEING, and only while the pgmap is live. */
bool folio_try_get(struct pgdax_folio *folio);
/* Drop one; 1 -> 0 runs page_free. Aborts on a folio at zero. */
void folio_put(struct pgdax_folio *folio);

uint64_t folio_pgoff(const struct pgdax_folio *folio);
unsigned folio_order(const struct pgdax_folio *folio);
void *folio_addr(const struct pgdax_folio *folio);
/*
 * Current count of the extent at @pgoff; for status and tests. Not an idle
 * test: an extent being claimed or freed has count 0 (pgmap_folio_idle).
 */
uint32_t pgmap_folio_refcount(struct pgdax_pgmap *pgmap, uint64_t pgoff);
/*
 * Whether the extent at or covering @pgoff is idle: its state word is 0 (no
 * reference, not being claimed, not being freed: R1 at the top of
 * lib/core/folio.c), the condition pgmap_wait_idle() waits for. Only an
 * idle extent's blocks may go back to the allocator (invariant 11): while
 * page_free runs the count is already 0 but the extent is FREEING, busy.
 * A snapshot: it stays true only while the caller keeps new holders out
 * (the volume holds the inode lock for writing).
 */
bool pgmap_folio_idle(struct pgdax_pgmap *pgmap, uint64_t pgoff);
/* Number of active (refcount > 0) extents. */
uint64_t pgmap_active_folios(struct pgdax_pgmap *pgmap);

/*
 * True if page @pgoff is idle as the refcount rules define it: the state
 * word of the extent holding it (headed at @pgoff or at an active extent
 * of a larger order covering it) is 0. CLAIMING and FREEING are busy: a
 * count of 0 is not idle yet while the last put is still freeing. What a
 * truncate must see of every extent before it frees blocks (invariant 11).
 */
bool pgmap_folio_idle(struct pgdax_pgmap *pgmap, uint64_t pgoff);

/*
 * Invariant checks (the list of which is checked where is at the top of
 * lib/core/folio.c). pgmap_checking(): the pgmap was created in checking
 * mode (pgdax_invariants() at pgmap_new).
 * pgmap_assert_idle(): in checking mode, abort naming invariant @n (with
 * @what: who frees, or who waited) unless every page of [pgoff, pgoff +
 * npages) is idle (pgmap_folio_idle); otherwise it returns at once.
 */
bool pgmap_checking(const struct pgdax_pgmap *pgmap);
void pgmap_assert_idle(struct pgdax_pgmap *pgmap, uint64_t pgoff, uint64_t npages,
		       int n, const char *what);

/*
 * Sleep until the extent containing/at @pgoff is idle. timeout_ms < 0 waits
 * forever. @interrupted (may be NULL) is polled at least every 100 ms so a
 * FUSE interrupt can end the wait. 0, -ETIMEDOUT or -EINTR.
 */
int pgmap_wait_idle(struct pgdax_pgmap *pgmap, uint64_t pgoff, int timeout_ms,
		    bool (*interrupted)(void *arg), void *arg);

#endif /* PGDAX_PGMAP_H */
