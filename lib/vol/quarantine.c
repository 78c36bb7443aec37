/* SPDX-License-Identifier: MIT */
/*
 * Quarantine (lib/vol/quarantine.h): device ranges locked by clients of an
 * earlier daemon stay out of the allocator.
 *
 * Probing. F_OFD_GETLK with F_WRLCK over [lo, hi) reports one lock that
 * conflicts (any client's read lock does), or F_UNLCK. The kernel does not
 * promise the lowest one, so the walk splits: record the reported range,
 * then probe what is left on each side. k locks cost at most 2k+1 calls; a
 * device nobody maps costs one. The daemon itself holds no OFD lock on the
 * device (its exclusive flock(2) does not interact with record locks).
 *
 * Reserving. Only pages that are free can be reserved; a locked page that
 * belongs to a file (its bit set in the on-media bitmap) is the file's, and
 * its owner's data stays where the old client maps it. Free pages of locked
 * ranges are reserved with pgdax_alloc_reserve() (whole runs, split on
 * -EBUSY), before the daemon serves anything, so no file can be given them.
 *
 * Releasing. Every PGDAX_QUARANTINE_PERIOD_MS the thread re-probes each
 * reserved range and returns the unlocked parts with
 * pgdax_alloc_put_range(); it also reserves locked pages that became free
 * since by a path other than a transaction (none today; kept as a net).
 *
 * Freeing. Pages a file gives back after mount (truncate, punch, unlink of
 * a file an old client still maps) must not reach the allocator even for
 * the one period until the next re-probe: jtx_commit returns freed blocks
 * through pgdax_quarantine_put_freed(), which probes the freed range and
 * quarantines the locked part at once. Cost: while no probe ever found a
 * lock (vol->quarantine_armed false) it is the plain allocator call; the
 * flag is set by a probe that finds a lock and cleared by a whole-device
 * probe that finds none with nothing held. Clearing is final in practice:
 * only clients of an OLD daemon matter (a client of this one cannot map
 * without a pin, and a pinned extent is never freed), and they cannot take
 * new locks, since taking one needs a pin from a daemon that is gone.
 *
 * Locks: q->lock protects the reserved list and every probe (so no probe
 * runs once stop has returned: the device descriptor may be closed next);
 * it nests inside the journal lock (put_freed runs in jtx_commit) and takes
 * only the allocator's leaf lock inside it.
 *
 * Lifetime: the quarantine state belongs to the volume (vol->quarantine),
 * from the first pgdax_quarantine_start() until the volume itself is freed
 * (pgdax_quarantine_free() from vol_free). pgdax_quarantine_stop() only
 * stops the thread and the probing; the state stays readable. So a stats
 * call (pgdax_vol_get_stats), a commit freeing pages or a re-probe that
 * runs on another thread while unmount stops the quarantine reads live
 * memory; none of them is ever handed a pointer that stop frees (a
 * registry looked up by vol and freed by stop did exactly that). Start and
 * stop are called by one thread at a time (mount, unmount; tests).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quarantine.h"
#include "vol_internal.h"

struct qrange {
	uint64_t pg, n;			/* pages */
};

struct quarantine {
	struct pgdax_vol *vol;
	int fd;				/* the daemon's device descriptor */
	pthread_mutex_t lock;
	struct qrange *v;		/* reserved ranges; lock */
	size_t n, cap;
	uint64_t pages;			/* lock */
	bool stopped;			/* lock: no more probes (stop was called) */
	pthread_t thread;		/* start/stop's caller only */
	bool running;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stop;			/* stop_lock */
};

/* The volume's quarantine, or NULL before the first start (never freed
 * while the volume exists: see "Lifetime" above). */
static struct quarantine *q_of(struct pgdax_vol *vol)
{
	return atomic_load_explicit(&vol->quarantine, memory_order_acquire);
}

/* Byte ranges locked by others within [lo, hi); -errno on a failed probe. */
struct brange {
	uint64_t s, e;
};

static int probe(int fd, uint64_t lo, uint64_t hi, struct brange **out, size_t *nout)
{
	struct brange *todo = NULL, *res = NULL;
	size_t nt = 0, ct = 0, nr = 0, cr = 0;
	int rc = 0;

#define PUSH(arr, n, c, a, b) do {						\
		if ((n) == (c)) {						\
			size_t nc_ = (c) ? (c) * 2 : 16;			\
			void *p_ = realloc((arr), nc_ * sizeof(*(arr)));	\
			if (!p_) { rc = -ENOMEM; goto out; }			\
			(arr) = p_; (c) = nc_;					\
		}								\
		(arr)[(n)++] = (struct brange){ (a), (b) };			\
	} while (0)

	PUSH(todo, nt, ct, lo, hi);
	while (nt) {
		struct brange r = todo[--nt];
		struct flock fl = {
			.l_type = F_WRLCK,
			.l_whence = SEEK_SET,
			.l_start = (off_t)r.s,
			.l_len = (off_t)(r.e - r.s),
		};
		uint64_t s, e;

		if (r.s >= r.e)
			continue;
		if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
			rc = -errno;
			goto out;
		}
		if (fl.l_type == F_UNLCK)
			continue;
		s = (uint64_t)fl.l_start;
		e = fl.l_len == 0 ? r.e : (uint64_t)fl.l_start + (uint64_t)fl.l_len;
		if (s < r.s)
			s = r.s;
		if (e > r.e)
			e = r.e;
		if (s >= e) {
			rc = -EIO;	/* the kernel answered outside the range */
			goto out;
		}
		PUSH(res, nr, cr, s, e);
		PUSH(todo, nt, ct, r.s, s);
		PUSH(todo, nt, ct, e, r.e);
	}
#undef PUSH
out:
	free(todo);
	if (rc) {
		free(res);
		return rc;
	}
	*out = res;
	*nout = nr;
	return 0;
}

static int add_reserved_locked(struct quarantine *q, uint64_t pg, uint64_t n)
{
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 16;
		struct qrange *v = realloc(q->v, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = nc;
	}
	q->v[q->n++] = (struct qrange){ pg, n };
	q->pages += n;
	return 0;
}

static bool reserved_locked(struct quarantine *q, uint64_t pg)
{
	for (size_t i = 0; i < q->n; i++)
		if (pg >= q->v[i].pg && pg < q->v[i].pg + q->v[i].n)
			return true;
	return false;
}

/* Reserve what is free of [pg, pg+n): whole run, else halves. */
static void reserve_run_locked(struct quarantine *q, uint64_t pg, uint64_t n)
{
	int rc;

	if (!n)
		return;
	rc = pgdax_alloc_reserve(q->vol->alloc, pg, n);
	if (rc == 0) {
		if (add_reserved_locked(q, pg, n))
			pgdax_alloc_put_range(q->vol->alloc, pg, n);	/* cannot track it */
		return;
	}
	if (rc != -EBUSY || n == 1)
		return;		/* in use (a file's) or outside the allocator */
	reserve_run_locked(q, pg, n / 2);
	reserve_run_locked(q, pg + n / 2, n - n / 2);
}

/* Reserve the free pages of locked page range [a, b). */
static void reserve_locked_pages(struct quarantine *q, uint64_t a, uint64_t b)
{
	struct pgdax_vol *vol = q->vol;
	uint64_t run = 0, start = 0;

	if (b > vol->data_end)
		b = vol->data_end;
	for (uint64_t pg = a; pg <= b; pg++) {
		bool candidate = pg < b && pg >= vol->data_start &&
				 !pgdax_bit_test(vol->bbitmap, pg) && !reserved_locked(q, pg);

		if (candidate) {
			if (!run)
				start = pg;
			run++;
			continue;
		}
		if (run)
			reserve_run_locked(q, start, run);
		run = 0;
	}
}

/* Whole-device probe: reserve free pages under any lock; arm the check of
 * the free path if any lock exists, disarm it when none is left and
 * nothing is held. */
static int scan_device(struct quarantine *q)
{
	struct pgdax_vol *vol = q->vol;
	struct brange *r = NULL;
	size_t n = 0;
	int rc = 0;

	pthread_mutex_lock(&q->lock);
	if (q->stopped)
		goto out;
	rc = probe(q->fd, 0, vol->dev_size, &r, &n);
	if (rc)
		goto out;
	if (n)
		atomic_store(&vol->quarantine_armed, true);
	for (size_t i = 0; i < n; i++)
		reserve_locked_pages(q, r[i].s >> vol->bshift,
				     (r[i].e + vol->bs - 1) >> vol->bshift);
	if (!n && !q->n)
		atomic_store(&vol->quarantine_armed, false);
out:
	pthread_mutex_unlock(&q->lock);
	free(r);
	return rc;
}

/* Probe answers come in no particular order. */
static int cmp_brange(const void *a, const void *b)
{
	const struct brange *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

/*
 * Pages [pg, end) are out of the allocator and @r (n byte ranges) are the
 * locks found over them: keep the locked parts (page-rounded) reserved,
 * give the gaps to the allocator. q->lock held.
 */
static void split_locked(struct quarantine *q, uint64_t pg, uint64_t end,
			 struct brange *r, size_t n)
{
	struct pgdax_vol *vol = q->vol;
	uint64_t cur = pg;

	if (n)
		qsort(r, n, sizeof(*r), cmp_brange);
	for (size_t k = 0; k < n; k++) {
		uint64_t s = r[k].s >> vol->bshift;
		uint64_t e = (r[k].e + vol->bs - 1) >> vol->bshift;

		if (s < cur)
			s = cur;
		if (e > end)
			e = end;
		if (s >= e)
			continue;
		if (s > cur)
			pgdax_alloc_put_range(vol->alloc, cur, s - cur);
		if (add_reserved_locked(q, s, e - s))
			pgdax_alloc_put_range(vol->alloc, s, e - s);	/* cannot track it */
		cur = e;
	}
	if (cur < end)
		pgdax_alloc_put_range(vol->alloc, cur, end - cur);
}

/* Return reserved pages whose lock is gone; keep the locked parts. */
static void release_unlocked(struct quarantine *q)
{
	struct pgdax_vol *vol = q->vol;
	struct qrange *old;
	size_t nold;

	pthread_mutex_lock(&q->lock);
	if (q->stopped) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	old = q->v;
	nold = q->n;
	q->v = NULL;
	q->n = q->cap = 0;
	q->pages = 0;
	for (size_t i = 0; i < nold; i++) {
		uint64_t pg = old[i].pg, end = old[i].pg + old[i].n;
		struct brange *r = NULL;
		size_t n = 0;

		if (probe(q->fd, pg << vol->bshift, end << vol->bshift, &r, &n)) {
			add_reserved_locked(q, pg, old[i].n);	/* keep on doubt */
			continue;
		}
		split_locked(q, pg, end, r, n);
		free(r);
	}
	pthread_mutex_unlock(&q->lock);
	free(old);
}

void pgdax_quarantine_put_freed(struct pgdax_vol *vol, uint64_t pg, uint64_t n)
{
	struct quarantine *q;
	struct brange *r = NULL;
	size_t nr = 0;
	uint64_t before;

	if (!n)
		return;
	if (!atomic_load(&vol->quarantine_armed) || !(q = q_of(vol))) {
		pgdax_alloc_put_range(vol->alloc, pg, n);
		return;
	}
	pthread_mutex_lock(&q->lock);
	before = q->pages;
	if (q->stopped) {
		/* unmount: the device may be closed, no probe; hold on doubt */
		if (add_reserved_locked(q, pg, n))
			pgdax_alloc_put_range(vol->alloc, pg, n);
	} else if (probe(q->fd, pg << vol->bshift, (pg + n) << vol->bshift, &r, &nr)) {
		/* keep on doubt; the next re-probe returns what is unlocked */
		if (add_reserved_locked(q, pg, n))
			pgdax_alloc_put_range(vol->alloc, pg, n);
	} else {
		split_locked(q, pg, pg + n, r, nr);
	}
	if (q->pages != before)
		pgdax_notice("%s: quarantine: %llu freed page(s) at %llu are still mapped by "
			     "a client of an earlier daemon: held until it unmaps",
			     vol->devname, (unsigned long long)(q->pages - before),
			     (unsigned long long)pg);
	pthread_mutex_unlock(&q->lock);
	free(r);
}

void pgdax_quarantine_reprobe(struct pgdax_vol *vol)
{
	struct quarantine *q = q_of(vol);
	uint64_t before;

	if (!q)
		return;
	before = pgdax_quarantine_pages(vol);
	release_unlocked(q);
	if (scan_device(q))
		pgdax_warn("%s: probing the device for client locks failed", vol->devname);
	if (pgdax_quarantine_pages(vol) != before)
		pgdax_notice("%s: quarantine: %llu page(s) held for clients of an earlier "
			     "daemon (was %llu)", vol->devname,
			     (unsigned long long)pgdax_quarantine_pages(vol),
			     (unsigned long long)before);
}

static void *q_thread(void *arg)
{
	struct quarantine *q = arg;

	pthread_mutex_lock(&q->stop_lock);
	while (!q->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += PGDAX_QUARANTINE_PERIOD_MS / 1000;
		ts.tv_nsec += (PGDAX_QUARANTINE_PERIOD_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&q->stop_cond, &q->stop_lock, &ts);
		if (q->stop)
			break;
		pthread_mutex_unlock(&q->stop_lock);
		pgdax_quarantine_reprobe(q->vol);
		pthread_mutex_lock(&q->stop_lock);
	}
	pthread_mutex_unlock(&q->stop_lock);
	return NULL;
}

/* Start (or restart) the re-probe thread. */
static void start_thread(struct quarantine *q)
{
	pthread_mutex_lock(&q->stop_lock);
	q->stop = false;
	pthread_mutex_unlock(&q->stop_lock);
	if (pthread_create(&q->thread, NULL, q_thread, q) == 0)
		q->running = true;
	else
		pgdax_warn("%s: no quarantine thread: held pages return at unmount",
			   q->vol->devname);
}

static struct quarantine *q_new(struct pgdax_vol *vol)
{
	struct quarantine *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return NULL;
	q->vol = vol;
	q->fd = pgdax_dev_fd(vol->dev);
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->stop_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

int pgdax_quarantine_start(struct pgdax_vol *vol)
{
	struct quarantine *q;
	int rc;

	if (!vol || vol->rdonly)
		return 0;
	q = q_of(vol);
	if (q && q->running)
		return 0;
	if (q) {
		pthread_mutex_lock(&q->lock);
		q->stopped = false;
		pthread_mutex_unlock(&q->lock);
	} else {
		q = q_new(vol);
		if (!q)
			return -ENOMEM;
		/* published whole; from now on it lives as long as the volume */
		atomic_store_explicit(&vol->quarantine, q, memory_order_release);
	}
	rc = scan_device(q);
	if (rc) {
		/* a device that cannot be probed (no record locks on it) is
		 * mounted anyway: there is nothing to find */
		pgdax_warn("%s: cannot probe for client locks (%d); quarantine off",
			   vol->devname, rc);
	}
	if (pgdax_quarantine_pages(vol))
		pgdax_notice("%s: %llu page(s) are still mapped by clients of an earlier "
			     "daemon: kept out of allocation until they unmap", vol->devname,
			     (unsigned long long)pgdax_quarantine_pages(vol));
	start_thread(q);
	return 0;
}

void pgdax_quarantine_stop(struct pgdax_vol *vol)
{
	struct quarantine *q = q_of(vol);

	if (!q)
		return;
	/* under q->lock: a probe in progress ends first, none starts after */
	pthread_mutex_lock(&q->lock);
	q->stopped = true;
	pthread_mutex_unlock(&q->lock);
	if (q->running) {
		pthread_mutex_lock(&q->stop_lock);
		q->stop = true;
		pthread_cond_signal(&q->stop_cond);
		pthread_mutex_unlock(&q->stop_lock);
		pthread_join(q->thread, NULL);
		q->running = false;
	}
}

void pgdax_quarantine_free(struct pgdax_vol *vol)
{
	struct quarantine *q = q_of(vol);

	if (!q)
		return;
	pgdax_quarantine_stop(vol);
	atomic_store(&vol->quarantine, NULL);
	pthread_cond_destroy(&q->stop_cond);
	pthread_mutex_destroy(&q->stop_lock);
	pthread_mutex_destroy(&q->lock);
	free(q->v);
	free(q);
}

uint64_t pgdax_quarantine_pages(struct pgdax_vol *vol)
{
	struct quarantine *q = q_of(vol);
	uint64_t n;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	n = q->pages;
	pthread_mutex_unlock(&q->lock);
	return n;
}
