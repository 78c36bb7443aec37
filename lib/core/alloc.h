/* SPDX-License-Identifier: MIT */
/*
 * The extent allocator (gen_pool analogue): a buddy allocator over page
 * offsets [0, npages). It hands out 2^order pages at an offset aligned to
 * 2^order, coalesces buddies on free, and is safe to call from any thread.
 * It lives in DRAM; the on-media format persists which pages are used (its
 * bitmap) and rebuilds the allocator at mount through pgdax_alloc_add_free().
 * Memory grows with the number of free fragments, not with device size.
 */
#ifndef PGDAX_ALLOC_H
#define PGDAX_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

struct pgdax_alloc;

#define PGDAX_ALLOC_MAX_ORDER 30

/* Allocation policy hints for pgdax_alloc_get(). */
struct pgdax_alloc_hint {
	uint64_t near;		/* prefer offsets at/after this page (contiguity) */
	unsigned align_order;	/* prefer results aligned to 2^align_order (device alignment) */
};

/* Starts with nothing free; add ranges with pgdax_alloc_add_free(). */
int pgdax_alloc_new(uint64_t npages, struct pgdax_alloc **out);
void pgdax_alloc_delete(struct pgdax_alloc **alloc);

/* Give [pgoff, pgoff+npages) to the allocator (any alignment). */
int pgdax_alloc_add_free(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages);
/* An aligned 2^order extent; 0 and *pgoff, or -ENOSPC. hint may be NULL. */
int pgdax_alloc_get(struct pgdax_alloc *a, unsigned order,
		    const struct pgdax_alloc_hint *hint, uint64_t *pgoff);
/*
 * The owner's unit: 2^order pages (the volume's mapping alignment; 0, the
 * default, turns this off). An allocation smaller than a unit never takes
 * its goal slot (hint->near) out of a free block of a unit or more: it
 * goes, like an allocation without a hint, to the smallest free block that
 * holds it, so small allocations fill units already broken and a whole
 * unit is broken only when no smaller block is left. Whole units stay whole
 * for the allocations that need one (a DAX-mapped unit).
 */
void pgdax_alloc_set_unit_order(struct pgdax_alloc *a, unsigned order);
/* Take a specific range out of the free pool (bad blocks, quarantine);
 * -EBUSY if any page of it is not free. */
int pgdax_alloc_reserve(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages);
/* Return an extent; aborts if it was not allocated (double free is a bug). */
void pgdax_alloc_put(struct pgdax_alloc *a, uint64_t pgoff, unsigned order);
/* Return an arbitrary range (any alignment), e.g. the tail of an extent. */
void pgdax_alloc_put_range(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages);

/*
 * Invariant checks (DESIGN.md section 3; the list is at the top of
 * lib/core/folio.c). An allocator created in checking mode
 * (pgdax_invariants()) keeps a second, independent record of which pages
 * are free (one bit per page) and after every change audits the free trees
 * against it: free + allocated == npages with no page counted twice, and
 * no extent handed out while free or freed while free (invariant 14); a
 * break aborts naming the invariant.
 */
/* True if no page of [pgoff, pgoff+npages) is free (all handed out, or
 * reserved): invariant 1 asks it of every referenced extent. */
bool pgdax_alloc_range_allocated(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages);
/*
 * @fn(arg, pgoff, npages) runs before pages go back to the free pool
 * (add_free, put, put_range), under the allocator's lock (it must not call
 * back into this allocator): the owner proves there that nothing still
 * uses them (invariant 11, lib/vol/vol.c). NULL unsets it.
 */
void pgdax_alloc_set_free_check(struct pgdax_alloc *a,
				void (*fn)(void *arg, uint64_t pgoff, uint64_t npages),
				void *arg);

uint64_t pgdax_alloc_free_pages(struct pgdax_alloc *a);
uint64_t pgdax_alloc_npages(struct pgdax_alloc *a);
/* Largest order that could be allocated right now (-1 if none). */
int pgdax_alloc_max_free_order(struct pgdax_alloc *a);

/* Calls fn(pgoff, order, arg) for every free block, in offset order, under
 * the allocator's lock (fn must not call back into this allocator); stops
 * at and returns the first non-zero value fn returns, else 0. For fsck,
 * persisting the free map, and tests. Cost: O(free fragments). */
int pgdax_alloc_for_each_free(struct pgdax_alloc *a,
			      int (*fn)(uint64_t pgoff, unsigned order, void *arg), void *arg);

#endif /* PGDAX_ALLOC_H */
