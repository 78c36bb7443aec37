/* SPDX-License-Identifier: MIT */
/*
 * The extent allocator: a buddy allocator over page offsets [0, npages).
 *
 * Representation. Only *free* blocks are stored, one node per free block
 * (a 2^order run of pages at an offset aligned to 2^order). Each node sits
 * in two AVL trees at once, both keyed by offset:
 *   - by_off: every free block of every order. Free blocks never overlap,
 *     so this one ordered set answers "which free block covers page p"
 *     (floor), "is anything free inside [s, e)" (ceil) and "is my buddy
 *     free, and of which order" in O(log n): double-free detection,
 *     reserve and coalescing all go through it.
 *   - by_order[k]: the free blocks of order k. Allocation takes the lowest
 *     block of the smallest sufficient order, or the lowest at/after a
 *     `near` hint (ceil), so files grow contiguously when they can.
 * A bit mask of non-empty orders finds the smallest sufficient order in
 * one instruction. Memory is one ~64-byte node per free fragment plus a
 * small cache of spare nodes; it does not depend on the device size (a
 * fully free 2^40-page device is 1024 order-30 blocks).
 *
 * Invariants (checked by tests/check_alloc.c through
 * pgdax_alloc_for_each_free):
 *   1. free blocks are aligned, inside [0, npages), pairwise disjoint;
 *   2. no two free blocks are buddies of the same order (coalescing is
 *      complete), so the representation of a free set is unique;
 *   3. free_pages == the sum of 2^order over free blocks, and
 *      free + allocated == npages: an extent is never handed out twice.
 *
 * Costs. get and put are O(MAX_ORDER * log n) in the worst case (a split
 * or a merge across all orders), O(log n) typically. Every entry point
 * validates its arguments before it changes anything and reserves the
 * tree nodes it may need first, so an error (-EINVAL, -ENOSPC, -EBUSY,
 * -ENOMEM) leaves the allocator exactly as it was. put/put_range return
 * void: freeing a page that is already free, or outside the device, is a
 * bug in the caller and aborts with a message (like a kernel BUG_ON).
 *
 * Checking mode (invariant 14 of DESIGN.md section 3: free + allocated ==
 * device space, never an extent handed out twice). An allocator created
 * while pgdax_invariants() is on keeps `shadow`, one bit per page set while
 * the page is free, maintained by every entry point independently of the
 * trees: get and reserve must find every page they take set (else the
 * page is handed out twice), put, put_range and add_free every page they
 * give clear (else it is freed twice). After every change audit_locked()
 * walks both trees and proves them equal to the shadow: every free block
 * aligned, inside the device and disjoint from the previous one, every
 * page of it free in the shadow, sum of blocks == free_pages == pages set
 * in the shadow (counted as the bits flip, each flip checked: so the trees
 * count no page twice and free + allocated == npages), and by_order[k]
 * holding exactly the order-k blocks of by_off.
 * Cost, checking mode only: the bit per page (npages / 8 bytes; not kept
 * above SHADOW_MAX_PAGES, where the audit checks the trees against
 * free_pages only) and
 * O(free fragments + free pages / 64) per change (the audit runs on every
 * change up to 2^22 pages, every npages / 2^22 changes above, so it stays
 * near 2^16 words per change). Off, it costs one predictable branch per
 * entry point. A failure aborts through pgdax_invariant_fail(14, ...).
 *
 * Locking: one mutex per allocator protects everything below `lock`; no
 * callback or allocation of user memory runs under it except the
 * for_each_free callback and the free_check hook, which must not call back
 * into the allocator.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "util/log.h"
#include "util/util.h"

#define MAX_ORDER PGDAX_ALLOC_MAX_ORDER
/* Offsets stay far from overflow even in bytes with 64 KiB pages. */
#define MAX_NPAGES (1ULL << 48)
/* Spare nodes kept after an operation: enough for one full split chain
 * (get) and the pieces of one reserve, so the hot path never mallocs. */
#define SPARE_KEEP (2 * (MAX_ORDER + 1) + 2)
/* Checking mode keeps its page record up to this size (64 MiB of bits);
 * above, the audit checks the trees against free_pages only. */
#define SHADOW_MAX_PAGES (1ULL << 29)

enum { BY_OFF = 0, BY_ORDER = 1 };

/* A free block. kid[t][0|1] are the left/right children in tree t. */
struct blk {
	uint64_t off;
	unsigned order;
	int height[2];
	struct blk *kid[2][2];
};

struct pgdax_alloc {
	uint64_t npages;		/* constant after new */
	bool check;			/* constant after new: checking mode */
	uint64_t audit_period;		/* constant after new: changes per full audit */
	pthread_mutex_t lock;
	/* Everything below is protected by lock. */
	void (*free_check)(void *arg, uint64_t pgoff, uint64_t npages);
	void *free_check_arg;
	unsigned unit_order;		/* pgdax_alloc_set_unit_order; 0 = off */
	uint64_t *shadow;		/* checking mode: bit set = page free */
	uint64_t shadow_free;		/* checking mode: bits set in shadow */
	uint64_t changes;		/* checking mode: changes since the last audit */
	struct blk *by_off;
	struct blk *by_order[MAX_ORDER + 1];
	uint32_t nonempty;		/* bit k set iff by_order[k] != NULL */
	uint64_t free_pages;
	struct blk *spare;		/* spare nodes, linked through kid[0][0] */
	unsigned nspare;
};

/* A caller bug (double free, bad extent): say what and where, then abort,
 * like a kernel BUG_ON. LOG_CRIT passes every log level and reaches the
 * daemon's syslog sink. */
static void __attribute__((noreturn, format(printf, 1, 2))) bug(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pgdax_log(LOG_CRIT, "alloc", "allocator BUG: %s", msg);
	abort();
}

static inline uint64_t pages(unsigned order)
{
	return 1ULL << order;
}

/* ---- AVL tree keyed by offset, on link set t ---------------------------- */

static inline int height(const struct blk *n, int t)
{
	return n ? n->height[t] : 0;
}

static inline void fix_height(struct blk *n, int t)
{
	int l = height(n->kid[t][0], t), r = height(n->kid[t][1], t);

	n->height[t] = 1 + (l > r ? l : r);
}

/* d = 0 rotates left (the right child comes up), d = 1 rotates right. */
static struct blk *rotate(struct blk *n, int t, int d)
{
	struct blk *c = n->kid[t][!d];

	n->kid[t][!d] = c->kid[t][d];
	c->kid[t][d] = n;
	fix_height(n, t);
	fix_height(c, t);
	return c;
}

static struct blk *rebalance(struct blk *n, int t)
{
	int hl = height(n->kid[t][0], t), hr = height(n->kid[t][1], t);

	if (hl > hr + 1) {
		struct blk *l = n->kid[t][0];

		if (height(l->kid[t][0], t) < height(l->kid[t][1], t))
			n->kid[t][0] = rotate(l, t, 0);
		return rotate(n, t, 1);
	}
	if (hr > hl + 1) {
		struct blk *r = n->kid[t][1];

		if (height(r->kid[t][1], t) < height(r->kid[t][0], t))
			n->kid[t][1] = rotate(r, t, 1);
		return rotate(n, t, 0);
	}
	n->height[t] = 1 + (hl > hr ? hl : hr);
	return n;
}

/*
 * The recursive insert/remove below retrace only while something changed:
 * when a child subtree comes back with the same root and the same height,
 * nothing above it can need a new height or a rotation, so the unwinding
 * skips rebalance (as an iterative AVL stops retracing). That makes the
 * retracing amortized O(1) instead of a rebalance on every level.
 */
static inline bool unchanged(const struct blk *before, int h_before, const struct blk *after,
			     int t)
{
	return before == after && height(after, t) == h_before;
}

static struct blk *tree_insert(struct blk *n, int t, struct blk *x)
{
	struct blk *c, *nc;
	int d, h;

	if (!n) {
		x->kid[t][0] = x->kid[t][1] = NULL;
		x->height[t] = 1;
		return x;
	}
	d = x->off > n->off;
	c = n->kid[t][d];
	h = height(c, t);
	nc = tree_insert(c, t, x);
	n->kid[t][d] = nc;
	return unchanged(c, h, nc, t) ? n : rebalance(n, t);
}

static struct blk *tree_remove_min(struct blk *n, int t, struct blk **min)
{
	struct blk *c, *nc;
	int h;

	if (!n->kid[t][0]) {
		*min = n;
		return n->kid[t][1];
	}
	c = n->kid[t][0];
	h = height(c, t);
	nc = tree_remove_min(c, t, min);
	n->kid[t][0] = nc;
	return unchanged(c, h, nc, t) ? n : rebalance(n, t);
}

/* Unlinks the node with this key, which must be in the tree. */
static struct blk *tree_remove(struct blk *n, int t, uint64_t key)
{
	if (!n)
		bug("tree_remove: offset %#llx not in tree %d", (unsigned long long)key, t);
	if (key != n->off) {
		int d = key > n->off, h;
		struct blk *c = n->kid[t][d], *nc;

		h = height(c, t);
		nc = tree_remove(c, t, key);
		n->kid[t][d] = nc;
		return unchanged(c, h, nc, t) ? n : rebalance(n, t);
	} else {
		struct blk *l = n->kid[t][0], *r = n->kid[t][1], *m;

		if (!r)
			return l;
		r = tree_remove_min(r, t, &m);
		m->kid[t][0] = l;
		m->kid[t][1] = r;
		return rebalance(m, t);
	}
}

static struct blk *tree_find(struct blk *n, int t, uint64_t key)
{
	while (n && n->off != key)
		n = n->kid[t][key > n->off];
	return n;
}

/* Lowest node with off >= key. */
static struct blk *tree_ceil(struct blk *n, int t, uint64_t key)
{
	struct blk *best = NULL;

	while (n) {
		if (n->off == key)
			return n;
		if (n->off > key) {
			best = n;
			n = n->kid[t][0];
		} else {
			n = n->kid[t][1];
		}
	}
	return best;
}

/* Highest node with off <= key. */
static struct blk *tree_floor(struct blk *n, int t, uint64_t key)
{
	struct blk *best = NULL;

	while (n) {
		if (n->off == key)
			return n;
		if (n->off < key) {
			best = n;
			n = n->kid[t][1];
		} else {
			n = n->kid[t][0];
		}
	}
	return best;
}

static struct blk *tree_min(struct blk *n, int t)
{
	while (n && n->kid[t][0])
		n = n->kid[t][0];
	return n;
}

/* One descent: *pred = highest node with off <= key, *succ = lowest with
 * off > key. A free extent's buddy, if free, is one of its two neighbours. */
static void tree_neighbours(struct blk *n, int t, uint64_t key, struct blk **pred,
			    struct blk **succ)
{
	*pred = *succ = NULL;
	while (n) {
		if (n->off <= key) {
			*pred = n;
			n = n->kid[t][1];
		} else {
			*succ = n;
			n = n->kid[t][0];
		}
	}
}

/* ---- node cache -------------------------------------------------------- */

/* Makes sure n nodes can be taken without malloc failing midway. */
static int reserve_nodes(struct pgdax_alloc *a, uint64_t n)
{
	while (a->nspare < n) {
		struct blk *b = malloc(sizeof(*b));

		if (!b)
			return -ENOMEM;
		b->kid[0][0] = a->spare;
		a->spare = b;
		a->nspare++;
	}
	return 0;
}

static struct blk *node_get(struct pgdax_alloc *a)
{
	struct blk *b = a->spare;

	if (!b)
		bug("node cache empty (caller did not reserve nodes)");
	a->spare = b->kid[0][0];
	a->nspare--;
	return b;
}

static void node_put(struct pgdax_alloc *a, struct blk *b)
{
	if (a->nspare >= SPARE_KEEP) {
		free(b);
		return;
	}
	b->kid[0][0] = a->spare;
	a->spare = b;
	a->nspare++;
}

/* For paths that cannot fail (put): out of memory is fatal there. */
static void reserve_nodes_or_die(struct pgdax_alloc *a, uint64_t n)
{
	if (reserve_nodes(a, n))
		bug("out of memory for %llu free-block nodes", (unsigned long long)n);
}

/* ---- free-set primitives (lock held) ----------------------------------- */

static void link_block(struct pgdax_alloc *a, uint64_t off, unsigned order)
{
	struct blk *b = node_get(a);

	b->off = off;
	b->order = order;
	a->by_off = tree_insert(a->by_off, BY_OFF, b);
	a->by_order[order] = tree_insert(a->by_order[order], BY_ORDER, b);
	a->nonempty |= 1U << order;
}

static void unlink_block(struct pgdax_alloc *a, struct blk *b)
{
	unsigned order = b->order;

	a->by_off = tree_remove(a->by_off, BY_OFF, b->off);
	a->by_order[order] = tree_remove(a->by_order[order], BY_ORDER, b->off);
	if (!a->by_order[order])
		a->nonempty &= ~(1U << order);
	node_put(a, b);
}

/* Frees one aligned block, merging it with free buddies. Needs at most one
 * node from the cache (fewer when it merges). pred/succ, when known (put
 * found them checking for double frees), are the block's free neighbours
 * and save the first buddy lookup. */
static void free_block_nb(struct pgdax_alloc *a, uint64_t off, unsigned order,
			  struct blk *pred, struct blk *succ, bool have_nb)
{
	a->free_pages += pages(order);
	while (order < MAX_ORDER) {
		uint64_t boff = off ^ pages(order);
		struct blk *buddy;

		if (have_nb) {
			buddy = boff < off ? pred : succ;
			if (buddy && buddy->off != boff)
				buddy = NULL;
			have_nb = false;
		} else {
			buddy = tree_find(a->by_off, BY_OFF, boff);
		}

		if (!buddy || buddy->order != order)
			break;
		unlink_block(a, buddy);
		off &= ~pages(order);
		order++;
	}
	link_block(a, off, order);
}

static void free_block(struct pgdax_alloc *a, uint64_t off, unsigned order)
{
	free_block_nb(a, off, order, NULL, NULL, false);
}

/* Largest aligned piece that starts at x and ends at or before end. */
static unsigned piece_order(uint64_t x, uint64_t end)
{
	unsigned o = x ? (unsigned)__builtin_ctzll(x) : 63;
	unsigned fit = 63 - (unsigned)__builtin_clzll(end - x);

	if (o > fit)
		o = fit;
	return o > MAX_ORDER ? MAX_ORDER : o;
}

static uint64_t count_pieces(uint64_t start, uint64_t end)
{
	uint64_t n = 0;

	for (uint64_t x = start; x < end; x += pages(piece_order(x, end)))
		n++;
	return n;
}

/* Frees an arbitrary range as maximal aligned pieces (coalescing each). */
static void free_range(struct pgdax_alloc *a, uint64_t start, uint64_t end)
{
	while (start < end) {
		unsigned o = piece_order(start, end);

		free_block(a, start, o);
		start += pages(o);
	}
}

/* The free block overlapping [start, end) with the lowest offset, or NULL. */
static struct blk *first_free_overlap(struct pgdax_alloc *a, uint64_t start, uint64_t end)
{
	struct blk *b = tree_floor(a->by_off, BY_OFF, start);

	if (b && b->off + pages(b->order) > start)
		return b;
	b = tree_ceil(a->by_off, BY_OFF, start);
	return b && b->off < end ? b : NULL;
}

static bool range_ok(const struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages)
{
	return pgoff <= a->npages && npages <= a->npages - pgoff;
}

/* ---- checking mode: invariant 14 (lock held) --------------------------- */

/*
 * Visit the shadow bits of [off, off + n) a word at a time: want_free
 * says what every bit must be before; flip changes them. Returns the first
 * page that was not as wanted, or UINT64_MAX.
 */
static uint64_t shadow_scan(struct pgdax_alloc *a, uint64_t off, uint64_t n,
			    bool want_free, bool flip)
{
	uint64_t end = off + n, bad = UINT64_MAX;

	if (!a->shadow)
		return bad;	/* too large to keep a record: the audit only */
	while (off < end) {
		uint64_t w = off / 64, s = off % 64;
		uint64_t e = end - w * 64 < 64 ? end - w * 64 : 64;
		uint64_t mask = (e - s == 64) ? ~0ULL : (((1ULL << (e - s)) - 1) << s);
		uint64_t have = a->shadow[w] & mask;

		if (bad == UINT64_MAX && have != (want_free ? mask : 0))
			bad = w * 64 + (uint64_t)__builtin_ctzll(want_free ? ~have & mask : have);
		if (flip)
			a->shadow[w] ^= mask;
		off = w * 64 + e;
	}
	return bad;
}

/* Pages [off, +n) leave the free pool (get, reserve): each must be free. */
static void shadow_take(struct pgdax_alloc *a, uint64_t off, uint64_t n, const char *what)
{
	uint64_t bad = shadow_scan(a, off, n, true, false);

	if (bad != UINT64_MAX)
		pgdax_invariant_fail(14, "allocator %s of pages [%#llx, +%#llx): page %#llx is "
				     "not free: it would be handed out twice", what,
				     (unsigned long long)off, (unsigned long long)n,
				     (unsigned long long)bad);
	shadow_scan(a, off, n, true, true);
	a->shadow_free -= n;	/* every bit was checked set: exact */
}

/* Pages [off, +n) join the free pool (put, add_free): none may be free. */
static void shadow_give(struct pgdax_alloc *a, uint64_t off, uint64_t n, const char *what)
{
	uint64_t bad = shadow_scan(a, off, n, false, false);

	if (bad != UINT64_MAX)
		pgdax_invariant_fail(14, "allocator %s of pages [%#llx, +%#llx): page %#llx is "
				     "already free: it would be counted twice", what,
				     (unsigned long long)off, (unsigned long long)n,
				     (unsigned long long)bad);
	shadow_scan(a, off, n, false, true);
	a->shadow_free += n;
}

struct audit {
	struct pgdax_alloc *a;
	uint64_t next;			/* end of the previous free block */
	uint64_t sum;
	uint64_t per_order[MAX_ORDER + 1];
	const char *what;
};

static int audit_block(uint64_t off, unsigned order, void *arg)
{
	struct audit *c = arg;
	struct pgdax_alloc *a = c->a;
	uint64_t bad;

	if (order > MAX_ORDER || (off & (pages(order) - 1)) || off > a->npages ||
	    pages(order) > a->npages - off || off < c->next)
		pgdax_invariant_fail(14, "after %s: free block [%#llx, order %u) is misaligned, "
				     "outside the %#llx pages or overlaps the free block ending "
				     "at %#llx", c->what, (unsigned long long)off, order,
				     (unsigned long long)a->npages, (unsigned long long)c->next);
	bad = shadow_scan(a, off, pages(order), true, false);
	if (bad != UINT64_MAX)
		pgdax_invariant_fail(14, "after %s: free block [%#llx, order %u) holds page %#llx, "
				     "which is handed out", c->what, (unsigned long long)off,
				     order, (unsigned long long)bad);
	c->next = off + pages(order);
	c->sum += pages(order);
	c->per_order[order]++;
	return 0;
}

static uint64_t count_tree(const struct blk *n, int t, unsigned order, bool *wrong)
{
	if (!n)
		return 0;
	if (n->order != order)
		*wrong = true;
	return 1 + count_tree(n->kid[t][0], t, order, wrong) +
	       count_tree(n->kid[t][1], t, order, wrong);
}

static int walk(struct blk *n, int (*fn)(uint64_t, unsigned, void *), void *arg);

/*
 * Free + allocated == npages and no page counted twice (the top of this
 * file, "Checking mode"). Aborts naming invariant 14 on any difference.
 */
static void audit_locked(struct pgdax_alloc *a, const char *what)
{
	struct audit c = { .a = a, .what = what };
	uint64_t set = a->shadow ? a->shadow_free : a->free_pages;

	if (++a->changes < a->audit_period)
		return;
	a->changes = 0;
	walk(a->by_off, audit_block, &c);
	if (c.sum != a->free_pages || set != a->free_pages)
		pgdax_invariant_fail(14, "after %s: free blocks hold %llu pages, the free count "
				     "says %llu, the page record %llu (of %llu): free + "
				     "allocated != device space", what,
				     (unsigned long long)c.sum, (unsigned long long)a->free_pages,
				     (unsigned long long)set, (unsigned long long)a->npages);
	for (unsigned k = 0; k <= MAX_ORDER; k++) {
		bool wrong = false;
		uint64_t n = count_tree(a->by_order[k], BY_ORDER, k, &wrong);

		if (wrong || n != c.per_order[k] || !a->by_order[k] != !(a->nonempty & (1U << k)))
			pgdax_invariant_fail(14, "after %s: the order-%u free list holds %llu "
					     "blocks%s, the offset tree %llu", what, k,
					     (unsigned long long)n, wrong ? " (some of another order)" : "",
					     (unsigned long long)c.per_order[k]);
	}
}

/* Invariant 11 (lib/vol/vol.c): the owner proves the pages are unused. */
static inline void check_free(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages)
{
	if (a->free_check)
		a->free_check(a->free_check_arg, pgoff, npages);
}

/* The planted bug of tests/check_invariants.c (util.h, site alloc_split). */
static inline bool split_fault(const struct pgdax_alloc *a)
{
	return __builtin_expect(a->check, 0) && pgdax_fault("alloc_split");
}

/* ---- public API -------------------------------------------------------- */

int pgdax_alloc_new(uint64_t npages, struct pgdax_alloc **out)
{
	pthread_mutexattr_t attr;
	struct pgdax_alloc *a;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (npages == 0 || npages > MAX_NPAGES)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->npages = npages;
	a->check = pgdax_invariants();
	a->audit_period = npages > (1ULL << 22) ? npages >> 22 : 1;
	if (a->check && npages <= SHADOW_MAX_PAGES) {
		a->shadow = calloc((npages + 63) / 64, sizeof(*a->shadow));
		if (!a->shadow) {
			pgdax_err("invariant checking of a %llu-page allocator needs %llu bytes",
				  (unsigned long long)npages,
				  (unsigned long long)((npages + 63) / 64 * 8));
			free(a);
			return -ENOMEM;
		}
	} else if (a->check) {
		pgdax_notice("allocator of %llu pages: invariant 14 is checked without the "
			     "page record (above %llu pages)", (unsigned long long)npages,
			     (unsigned long long)SHADOW_MAX_PAGES);
	}
	/* Critical sections are a few hundred ns: spin briefly before sleeping
	 * (glibc's adaptive mutex) rather than paying a futex round trip. */
	rc = -pthread_mutexattr_init(&attr);
	if (rc)
		goto err_free;
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	rc = -pthread_mutex_init(&a->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc)
		goto err_free;
	rc = reserve_nodes(a, SPARE_KEEP);
	if (rc)
		goto err_mutex;
	*out = a;
	return 0;

err_mutex:
	pthread_mutex_destroy(&a->lock);
err_free:
	while (a->spare) {
		struct blk *b = a->spare;

		a->spare = b->kid[0][0];
		free(b);
	}
	free(a->shadow);
	free(a);
	return rc;
}

static void free_tree(struct blk *n)
{
	/* Recursion depth is the AVL height: at most ~1.44 * log2(nodes). */
	if (!n)
		return;
	free_tree(n->kid[BY_OFF][0]);
	free_tree(n->kid[BY_OFF][1]);
	free(n);
}

void pgdax_alloc_delete(struct pgdax_alloc **alloc)
{
	struct pgdax_alloc *a;

	if (!alloc || !*alloc)
		return;
	a = *alloc;
	free_tree(a->by_off);
	while (a->spare) {
		struct blk *b = a->spare;

		a->spare = b->kid[0][0];
		free(b);
	}
	pthread_mutex_destroy(&a->lock);
	free(a->shadow);
	free(a);
	*alloc = NULL;
}

int pgdax_alloc_add_free(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages)
{
	uint64_t end = pgoff + npages;
	struct blk *b;
	int rc;

	if (!a || !range_ok(a, pgoff, npages))
		return -EINVAL;
	if (npages == 0)
		return 0;
	pthread_mutex_lock(&a->lock);
	b = first_free_overlap(a, pgoff, end);
	if (b) {
		/* Some page is already free: the caller's map is inconsistent. */
		pgdax_warn("pages [%#llx, +%#llx) given as free overlap free pages [%#llx, +%#llx)",
			   (unsigned long long)pgoff, (unsigned long long)npages,
			   (unsigned long long)b->off, (unsigned long long)pages(b->order));
		rc = -EEXIST;
		goto out;
	}
	rc = reserve_nodes(a, count_pieces(pgoff, end));
	if (rc)
		goto out;
	check_free(a, pgoff, npages);
	free_range(a, pgoff, end);
	if (__builtin_expect(a->check, 0)) {
		shadow_give(a, pgoff, npages, "add_free");
		audit_locked(a, "add_free");
	}
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/*
 * Picks the free block to allocate from and the offset of the result inside
 * it (*target, aligned to 2^align, with 2^order pages of room), given the
 * smallest usable order kmin (order, or align when the alignment
 * preference can be met).
 *
 * Without a near hint: the lowest block of the smallest sufficient order,
 * its lowest part (address order keeps the free space compact).
 * With one, best-effort contiguity in two cheap steps:
 *   1. goal: if the aligned slot at/after near is free inside a block of
 *      order >= kmin, take exactly that slot (ext4's goal block), so a file
 *      that grows gets the pages right after its last extent even when a
 *      smaller fragment exists elsewhere; but an allocation smaller than a
 *      unit does not take it out of a block of a unit or more (that would
 *      break a whole unit while broken ones have room: unit_order);
 *   2. otherwise the lowest block of the smallest sufficient order that has
 *      room at/after near (first aligned slot in it), else wrap to the
 *      lowest block of that order.
 */
static struct blk *pick(struct pgdax_alloc *a, unsigned kmin, unsigned order,
			unsigned align, const struct pgdax_alloc_hint *hint,
			uint64_t *target)
{
	unsigned k = (unsigned)__builtin_ctz(a->nonempty & ~(uint32_t)(pages(kmin) - 1));
	struct blk *root = a->by_order[k], *b;

	if (hint && hint->near && hint->near < a->npages) {
		uint64_t amask = pages(align) - 1;
		uint64_t want = (hint->near + amask) & ~amask;

		b = tree_floor(a->by_off, BY_OFF, want);
		if (b && b->order >= kmin && want + pages(order) <= b->off + pages(b->order) &&
		    (kmin >= a->unit_order || b->order < a->unit_order)) {
			*target = want;
			return b;
		}
		b = tree_ceil(root, BY_ORDER, hint->near & ~(pages(k) - 1));
		if (b && want > b->off && want + pages(order) > b->off + pages(k))
			b = tree_ceil(root, BY_ORDER, b->off + pages(k)); /* no room after near */
		if (b) {
			*target = want > b->off ? want : b->off;
			return b;
		}
	}
	b = tree_min(root, BY_ORDER);
	*target = b->off;
	return b;
}

int pgdax_alloc_get(struct pgdax_alloc *a, unsigned order,
		    const struct pgdax_alloc_hint *hint, uint64_t *pgoff)
{
	unsigned k, kmin = order, align = order;
	uint32_t mask;
	uint64_t target, off;
	struct blk *b;
	int rc;

	if (!a || !pgoff || order > MAX_ORDER)
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	mask = a->nonempty & ~(uint32_t)(pages(order) - 1);
	if (!mask) {
		rc = -ENOSPC;
		goto out;
	}
	rc = reserve_nodes(a, MAX_ORDER);
	if (rc)
		goto out;
	/* Alignment preference: take the result from a block big enough to
	 * carry the alignment when there is one, else the smallest fit. */
	if (hint && hint->align_order > order && hint->align_order <= MAX_ORDER &&
	    (mask & ~(uint32_t)(pages(hint->align_order) - 1)))
		kmin = align = hint->align_order;
	b = pick(a, kmin, order, align, hint, &target);
	off = b->off;
	k = b->order;
	unlink_block(a, b);
	a->free_pages -= pages(k);
	/* Split down to `order`, keeping the half that holds target and
	 * freeing the other (its buddy is the kept half: no merge possible). */
	while (k > order) {
		uint64_t keep;

		k--;
		keep = off | (target & pages(k));
		link_block(a, split_fault(a) ? keep : keep ^ pages(k), k);
		off = keep;
		a->free_pages += pages(k);
	}
	*pgoff = off;
	if (__builtin_expect(a->check, 0)) {
		shadow_take(a, off, pages(order), "get");
		audit_locked(a, "get");
	}
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* Re-frees the parts of a taken free block [boff, bend) outside
 * [start, end). They are sub-blocks of a maximal free block, so their
 * buddies are either other such parts (never: distinct orders) or inside
 * the reserved range: free_block will not merge them with anything. */
static void give_back_outside(struct pgdax_alloc *a, uint64_t boff, uint64_t bend,
			      uint64_t start, uint64_t end)
{
	if (boff < start)
		free_range(a, boff, start);
	if (bend > end)
		free_range(a, end, bend);
}

int pgdax_alloc_reserve(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages)
{
	uint64_t end = pgoff + npages, pos, first_off = 0, first_end = 0, last_off = 0, last_end = 0;
	struct blk *b;
	int rc = 0;

	if (!a || !range_ok(a, pgoff, npages))
		return -EINVAL;
	if (npages == 0)
		return 0;
	pthread_mutex_lock(&a->lock);
	/* Pass 1: the range must be covered by a run of adjacent free blocks. */
	b = tree_floor(a->by_off, BY_OFF, pgoff);
	if (!b || b->off + pages(b->order) <= pgoff) {
		rc = -EBUSY;
		goto out;
	}
	for (pos = b->off; pos < end; ) {
		if (!b || b->off != pos) {
			rc = -EBUSY;
			goto out;
		}
		pos += pages(b->order);
		if (pos < end)
			b = tree_find(a->by_off, BY_OFF, pos);
	}
	/* The blocks at both ends may stick out of the range: their outside
	 * parts go back, which needs nodes; reserve them before changing
	 * anything so that -ENOMEM leaves the allocator untouched. */
	b = tree_floor(a->by_off, BY_OFF, pgoff);
	first_off = b->off;
	first_end = b->off + pages(b->order);
	b = tree_floor(a->by_off, BY_OFF, end - 1);
	last_off = b->off;
	last_end = b->off + pages(b->order);
	rc = reserve_nodes(a, 2 * (MAX_ORDER + 1));
	if (rc)
		goto out;
	/* Pass 2: take every block of the run out, then give back the parts
	 * of the end blocks outside the range. */
	for (pos = first_off; pos < end; ) {
		b = tree_find(a->by_off, BY_OFF, pos);
		pos += pages(b->order);
		a->free_pages -= pages(b->order);
		unlink_block(a, b);
	}
	give_back_outside(a, first_off, first_end, pgoff, end);
	if (last_off != first_off)
		give_back_outside(a, last_off, last_end, pgoff, end);
	if (__builtin_expect(a->check, 0)) {
		shadow_take(a, pgoff, npages, "reserve");
		audit_locked(a, "reserve");
	}
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* Common checks of put/put_range: inside the device, nothing already free. */
static void check_put_locked(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages,
			     const char *what)
{
	struct blk *b;

	if (!range_ok(a, pgoff, npages))
		bug("%s of pages [%#llx, +%#llx) outside the device (%#llx pages)", what,
		    (unsigned long long)pgoff, (unsigned long long)npages,
		    (unsigned long long)a->npages);
	b = first_free_overlap(a, pgoff, pgoff + npages);
	if (b)
		bug("%s of pages [%#llx, +%#llx): double free, pages [%#llx, +%#llx) are already free",
		    what, (unsigned long long)pgoff, (unsigned long long)npages,
		    (unsigned long long)b->off, (unsigned long long)pages(b->order));
}

void pgdax_alloc_put(struct pgdax_alloc *a, uint64_t pgoff, unsigned order)
{
	struct blk *pred, *succ;

	if (!a)
		bug("put on a NULL allocator");
	if (order > MAX_ORDER || (pgoff & (pages(order) - 1)))
		bug("put of a bad extent: offset %#llx order %u", (unsigned long long)pgoff, order);
	pthread_mutex_lock(&a->lock);
	if (pgoff >= a->npages || pages(order) > a->npages - pgoff)
		check_put_locked(a, pgoff, pages(order), "put");	/* reports, aborts */
	tree_neighbours(a->by_off, BY_OFF, pgoff, &pred, &succ);
	if ((pred && pred->off + pages(pred->order) > pgoff) ||
	    (succ && succ->off < pgoff + pages(order)))
		check_put_locked(a, pgoff, pages(order), "put");	/* reports, aborts */
	reserve_nodes_or_die(a, 1);
	check_free(a, pgoff, pages(order));
	free_block_nb(a, pgoff, order, pred, succ, true);
	if (__builtin_expect(a->check, 0)) {
		shadow_give(a, pgoff, pages(order), "put");
		audit_locked(a, "put");
	}
	pthread_mutex_unlock(&a->lock);
}

void pgdax_alloc_put_range(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages)
{
	if (!a)
		bug("put_range on a NULL allocator");
	if (npages == 0)
		return;
	pthread_mutex_lock(&a->lock);
	check_put_locked(a, pgoff, npages, "put_range");
	reserve_nodes_or_die(a, count_pieces(pgoff, pgoff + npages));
	check_free(a, pgoff, npages);
	free_range(a, pgoff, pgoff + npages);
	if (__builtin_expect(a->check, 0)) {
		shadow_give(a, pgoff, npages, "put_range");
		audit_locked(a, "put_range");
	}
	pthread_mutex_unlock(&a->lock);
}

void pgdax_alloc_set_unit_order(struct pgdax_alloc *a, unsigned order)
{
	pthread_mutex_lock(&a->lock);
	a->unit_order = order > MAX_ORDER ? MAX_ORDER : order;
	pthread_mutex_unlock(&a->lock);
}

bool pgdax_alloc_range_allocated(struct pgdax_alloc *a, uint64_t pgoff, uint64_t npages)
{
	bool yes;

	if (!a || !range_ok(a, pgoff, npages))
		return false;
	pthread_mutex_lock(&a->lock);
	yes = !first_free_overlap(a, pgoff, pgoff + npages);
	pthread_mutex_unlock(&a->lock);
	return yes;
}

void pgdax_alloc_set_free_check(struct pgdax_alloc *a,
				void (*fn)(void *arg, uint64_t pgoff, uint64_t npages),
				void *arg)
{
	pthread_mutex_lock(&a->lock);
	a->free_check = fn;
	a->free_check_arg = arg;
	pthread_mutex_unlock(&a->lock);
}

uint64_t pgdax_alloc_free_pages(struct pgdax_alloc *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->lock);
	n = a->free_pages;
	pthread_mutex_unlock(&a->lock);
	return n;
}

uint64_t pgdax_alloc_npages(struct pgdax_alloc *a)
{
	return a->npages;
}

int pgdax_alloc_max_free_order(struct pgdax_alloc *a)
{
	uint32_t m;

	pthread_mutex_lock(&a->lock);
	m = a->nonempty;
	pthread_mutex_unlock(&a->lock);
	return m ? 31 - __builtin_clz(m) : -1;
}

static int walk(struct blk *n, int (*fn)(uint64_t, unsigned, void *), void *arg)
{
	int rc;

	if (!n)
		return 0;
	rc = walk(n->kid[BY_OFF][0], fn, arg);
	if (rc)
		return rc;
	rc = fn(n->off, n->order, arg);
	if (rc)
		return rc;
	return walk(n->kid[BY_OFF][1], fn, arg);
}

int pgdax_alloc_for_each_free(struct pgdax_alloc *a,
			      int (*fn)(uint64_t pgoff, unsigned order, void *arg), void *arg)
{
	int rc;

	if (!a || !fn)
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	rc = walk(a->by_off, fn, arg);
	pthread_mutex_unlock(&a->lock);
	return rc;
}
