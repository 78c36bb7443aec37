/* SPDX-License-Identifier: MIT */
/*
 * What the kernel holds: lookup counts (one per LOOKUP/CREATE/MKNOD/...
 * reply and readdirplus entry, returned by FORGET) and open files (returned
 * by RELEASE). The volume counts the same references; the daemon keeps its
 * own tally only so that, when the kernel drops the connection without
 * returning them (umount -l, then the last user goes; or a signal-driven
 * exit while files are open), teardown can give every one back
 * (fs_handles_drop_all) before the volume is released.
 *
 * The open-handle count is also what teardown phase 1 waits for (fs/teardown.c):
 * once closing, no reservation succeeds, so the count only goes down, and
 * the RELEASE that takes it to 0 signals idle_cond. Reserving under the same
 * lock as the closing flag is what makes "closing, and no handle" final: an
 * open that raced the flag either reserved before it (and is waited for) or
 * fails with ENXIO.
 *
 * Counting never fails after the fact. A lookup granted to the kernel but
 * not counted here would make its FORGET look like a protocol bug (abort),
 * and one refused after the volume operation succeeded would answer ENOMEM
 * to a mkdir that happened. So the room is set aside first:
 * fs_icount_reserve() before the operation that grants lookups (on -ENOMEM
 * the handler refuses the request before doing anything), fs_icount_add()
 * then only consumes a reservation. Reserved entries wait in a spare list
 * (invariant: nspare >= reserved); entries freed by FORGET refill it, up to
 * SPARE_KEEP beyond what is reserved.
 *
 * Cost: two short holds of one mutex and a hash probe per lookup, one per
 * forget, negligible next to the FUSE round trip. A negative count is a
 * protocol bug and aborts, as passthrough_ll's forget_one does.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "pin/pgdax_ioctl.h"
#include "util/log.h"
#include "util/util.h"

struct icount_ent {
	uint64_t ino;
	uint64_t n;
	struct icount_ent *next;
};

/* All fields under fs.lock. */
struct fs_icount {
	size_t nbuckets;		/* power of two */
	size_t nents;
	struct icount_ent **b;
	struct icount_ent *spare;	/* allocated, unused entries */
	uint64_t nspare, reserved;	/* nspare >= reserved */
};

/* Spare entries kept beyond the reserved ones (the rest are freed). */
#define SPARE_KEEP	64

static size_t bucket(const struct fs_icount *t, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 17) & (t->nbuckets - 1);
}

int fs_handles_init(struct fs *fs)
{
	struct fs_icount *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->nbuckets = 1024;
	t->b = calloc(t->nbuckets, sizeof(*t->b));
	if (!t->b) {
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&fs->lock, NULL);
	{
		pthread_condattr_t ca;

		/* timed waits on CLOCK_MONOTONIC: immune to clock steps */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&fs->idle_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	fs->files.next = fs->files.prev = &fs->files;
	fs->icount = t;
	return 0;
}

void fs_handles_fini(struct fs *fs)
{
	struct fs_icount *t = fs->icount;

	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct icount_ent *e = t->b[i], *n;

		for (; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	while (t->spare) {
		struct icount_ent *e = t->spare;

		t->spare = e->next;
		free(e);
	}
	free(t->b);
	free(t);
	fs->icount = NULL;
	pthread_cond_destroy(&fs->idle_cond);
	pthread_mutex_destroy(&fs->lock);
}

/* Double the table when it gets dense; failure just keeps chains longer. */
static void grow_locked(struct fs_icount *t)
{
	size_t nb = t->nbuckets * 2;
	struct icount_ent **b = calloc(nb, sizeof(*b));
	struct fs_icount nt = { .nbuckets = nb, .b = b };

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct icount_ent *e = t->b[i], *n;

		for (; e; e = n) {
			size_t k = bucket(&nt, e->ino);

			n = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nbuckets = nb;
}

/* Keep @e as a spare if fewer than SPARE_KEEP are beyond the reserved. */
static void spare_put_locked(struct fs_icount *t, struct icount_ent *e)
{
	if (t->nspare >= t->reserved + SPARE_KEEP) {
		free(e);
		return;
	}
	e->next = t->spare;
	t->spare = e;
	t->nspare++;
}

int fs_icount_reserve(struct fs *fs, uint64_t n)
{
	struct fs_icount *t = fs->icount;
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	while (t->nspare < t->reserved + n) {
		struct icount_ent *e = pgdax_fault("icount_add") ? NULL :
				       malloc(sizeof(*e));

		if (!e) {
			r = -ENOMEM;	/* what was allocated stays spare */
			break;
		}
		e->next = t->spare;
		t->spare = e;
		t->nspare++;
	}
	if (!r)
		t->reserved += n;
	pthread_mutex_unlock(&fs->lock);
	if (r)
		pgdax_warn("out of memory counting lookups: request refused");
	return r;
}

void fs_icount_unreserve(struct fs *fs, uint64_t n)
{
	struct fs_icount *t = fs->icount;

	pthread_mutex_lock(&fs->lock);
	if (t->reserved < n) {
		pgdax_err("lookup reservations underflow");
		abort();
	}
	t->reserved -= n;
	while (t->nspare > t->reserved + SPARE_KEEP) {
		struct icount_ent *e = t->spare;

		t->spare = e->next;
		t->nspare--;
		free(e);
	}
	pthread_mutex_unlock(&fs->lock);
}

void fs_icount_add(struct fs *fs, uint64_t ino)
{
	struct fs_icount *t = fs->icount;
	struct icount_ent *e;

	pthread_mutex_lock(&fs->lock);
	if (t->reserved == 0) {
		pgdax_err("lookup of inode %llu counted without a reservation",
			  (unsigned long long)ino);
		abort();
	}
	t->reserved--;
	for (e = t->b[bucket(t, ino)]; e; e = e->next)
		if (e->ino == ino)
			break;
	if (!e) {
		e = t->spare;	/* there is one: nspare > reserved before */
		t->spare = e->next;
		t->nspare--;
		e->ino = ino;
		e->n = 0;
		e->next = t->b[bucket(t, ino)];
		t->b[bucket(t, ino)] = e;
		if (++t->nents > t->nbuckets * 2)
			grow_locked(t);
	} else if (t->nspare > t->reserved + SPARE_KEEP) {
		struct icount_ent *x = t->spare;	/* one spare not needed */

		t->spare = x->next;
		t->nspare--;
		free(x);
	}
	e->n++;
	pthread_mutex_unlock(&fs->lock);
}

void fs_icount_sub(struct fs *fs, uint64_t ino, uint64_t n)
{
	struct fs_icount *t = fs->icount;
	struct icount_ent **pp, *e;

	pthread_mutex_lock(&fs->lock);
	for (pp = &t->b[bucket(t, ino)]; (e = *pp); pp = &e->next)
		if (e->ino == ino)
			break;
	if (!e || e->n < n) {
		pgdax_err("kernel forgot %llu lookups of inode %llu but held %llu",
			  (unsigned long long)n, (unsigned long long)ino,
			  (unsigned long long)(e ? e->n : 0));
		abort();
	}
	e->n -= n;
	if (e->n == 0) {
		*pp = e->next;
		t->nents--;
		spare_put_locked(t, e);
	}
	pthread_mutex_unlock(&fs->lock);
}

int fs_handle_reserve(struct fs *fs, pid_t pid, const char *what)
{
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	if (atomic_load(&fs->closing))
		r = -ENXIO;
	else
		fs->nhandles++;
	pthread_mutex_unlock(&fs->lock);
	if (r && what)
		fs_handles_refused(fs, pid, what);
	return r;
}

static void put_handle_locked(struct fs *fs)
{
	if (fs->nhandles == 0) {
		pgdax_err("open handle count underflow");
		abort();
	}
	if (--fs->nhandles == 0)
		pthread_cond_broadcast(&fs->idle_cond);
}

void fs_handle_unreserve(struct fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	put_handle_locked(fs);
	pthread_mutex_unlock(&fs->lock);
}

void fs_file_link(struct fs *fs, struct fs_file *f)
{
	pthread_mutex_lock(&fs->lock);
	f->next = &fs->files;
	f->prev = fs->files.prev;
	fs->files.prev->next = f;
	fs->files.prev = f;
	if (f->vf && !f->direct)
		atomic_fetch_add(&fs->nbuffered, 1);
	pthread_mutex_unlock(&fs->lock);
}

void fs_file_unlink(struct fs *fs, struct fs_file *f)
{
	pthread_mutex_lock(&fs->lock);
	f->prev->next = f->next;
	f->next->prev = f->prev;
	f->next = f->prev = f;
	if (f->vf && !f->direct)
		atomic_fetch_sub(&fs->nbuffered, 1);
	put_handle_locked(fs);
	pthread_mutex_unlock(&fs->lock);
}

bool fs_handles_close(struct fs *fs, const char *by)
{
	bool was;

	pthread_mutex_lock(&fs->lock);
	was = atomic_exchange(&fs->closing, true);
	if (!was) {
		clock_gettime(CLOCK_REALTIME, &fs->drain_since);
		snprintf(fs->drain_by, sizeof(fs->drain_by), "%s", by ? by : "teardown");
		fs->cancelled = false;
		fs->refused_quiet = 0;
		fs->refused_logged = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return !was;
}

bool fs_handles_commit(struct fs *fs)
{
	bool ok;

	pthread_mutex_lock(&fs->lock);
	ok = fs->conn_gone || (atomic_load(&fs->closing) && !fs->cancelled);
	if (ok)
		fs->committed = true;
	pthread_mutex_unlock(&fs->lock);
	return ok;
}

int fs_handles_cancel(struct fs *fs)
{
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	if (fs->committed || fs->conn_gone)
		r = -EBUSY;	/* past the point of no return */
	else if (!atomic_load(&fs->closing))
		r = -ENOENT;	/* no unmount in progress */
	else {
		/* Phase 1 touched nothing but the flag: clearing it under the
		 * lock that fs_handle_reserve() takes is the whole way back. */
		atomic_store(&fs->closing, false);
		fs->cancelled = true;
		fs->drain_since = (struct timespec){ 0 };
		pthread_cond_broadcast(&fs->idle_cond);
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

/* Distinct opener pids of the open handles (at most @max). fs.lock held. */
static unsigned holder_pids_locked(struct fs *fs, int32_t *pids, unsigned max,
				   uint32_t *total)
{
	unsigned n = 0, all = 0;

	for (struct fs_file *f = fs->files.next; f != &fs->files; f = f->next) {
		unsigned i;

		for (i = 0; i < n && pids[i] != (int32_t)f->pid; i++)
			;
		if (i < n)
			continue;
		all++;
		if (n < max)
			pids[n++] = (int32_t)f->pid;
	}
	if (total)
		*total = all;
	return n;
}

void fs_handles_drain_info(struct fs *fs, struct pgdax_ioc_drain *d)
{
	pthread_mutex_lock(&fs->lock);
	if (fs->committed || fs->conn_gone)
		d->state = PGDAX_DRAIN_FINAL;
	else if (atomic_load(&fs->closing))
		d->state = PGDAX_DRAIN_DRAINING;
	else
		d->state = PGDAX_DRAIN_NONE;
	if (d->state != PGDAX_DRAIN_NONE) {
		d->since = fs->drain_since.tv_sec;
		d->handles = fs->nhandles;
		holder_pids_locked(fs, d->pids, PGDAX_DRAIN_PIDS, &d->npids);
		snprintf(d->by, sizeof(d->by), "%s", fs->drain_by);
	}
	pthread_mutex_unlock(&fs->lock);
}

/* "pid 12 (cat)" for log lines; best effort (the process may be gone). */
static void pid_str(pid_t pid, char *buf, size_t len)
{
	char p[64], comm[32] = "?";
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	f = fopen(p, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(buf, len, "%d (%s)", (int)pid, comm);
}

/*
 * The line that explains an ENXIO: which drain refused it, since when, who
 * asked, who holds it up and how to end it. At most one a second (a shell
 * loop retrying an open would flood the log), with the count of refusals
 * not logged since.
 */
void fs_handles_refused(struct fs *fs, pid_t pid, const char *what)
{
	int32_t pids[8];
	char by[sizeof(fs->drain_by)], who[64], held[8 * 48] = "", one[48], when[32];
	struct timespec now;
	uint64_t quiet, handles;
	uint32_t npids;
	unsigned n;
	time_t since;
	struct tm tm;
	bool final;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&fs->lock);
	if (fs->refused_logged && now.tv_sec < fs->refused_logged + 1) {
		fs->refused_quiet++;
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	fs->refused_logged = now.tv_sec ? now.tv_sec : 1;
	quiet = fs->refused_quiet;
	fs->refused_quiet = 0;
	since = fs->drain_since.tv_sec;
	handles = fs->nhandles;
	final = fs->committed || fs->conn_gone;
	snprintf(by, sizeof(by), "%s", fs->drain_by);
	n = holder_pids_locked(fs, pids, 8, &npids);
	pthread_mutex_unlock(&fs->lock);

	for (unsigned i = 0; i < n; i++) {
		pid_str(pids[i], one, sizeof(one));
		snprintf(held + strlen(held), sizeof(held) - strlen(held), "%s%s",
			 i ? ", " : "", one);
	}
	if (npids > n)
		snprintf(held + strlen(held), sizeof(held) - strlen(held), ", ...");
	pid_str(pid, who, sizeof(who));
	localtime_r(&since, &tm);
	strftime(when, sizeof(when), "%F %T", &tm);
	if (final)
		pgdax_err("%s by pid %s refused with ENXIO: %s is unmounting (%s at %s) and "
			  "past the point of no return%s", what, who, fs->opts.mountpoint, by,
			  when, quiet ? " (more refusals not logged)" : "");
	else
		pgdax_err("%s by pid %s refused with ENXIO: %s is draining for an unmount "
			  "since %s (%s), held up by %llu open handle(s) of %u process(es): "
			  "pids %s; 'pgdaxctl unmount --cancel %s' serves it again%s",
			  what, who, fs->opts.mountpoint, when, by,
			  (unsigned long long)handles, npids, n ? held : "none",
			  fs->opts.mountpoint, quiet ? " (more refusals not logged)" : "");
}

void fs_handles_conn_gone(struct fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->conn_gone = true;
	pthread_cond_broadcast(&fs->idle_cond);
	pthread_mutex_unlock(&fs->lock);
}

int fs_handles_wait_idle(struct fs *fs, int timeout_ms)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fs->lock);
	while (fs->nhandles && !fs->conn_gone && !fs->cancelled && r == 0)
		r = pthread_cond_timedwait(&fs->idle_cond, &fs->lock, &ts);
	if (fs->conn_gone) {
		r = 1;
	} else if (fs->cancelled) {
		fs->cancelled = false;
		r = 2;
	} else if (fs->nhandles == 0) {
		/* The point of no return: closing, and no handle left, seen
		 * under the lock that every reservation and every cancel
		 * takes. From here on phase 2 kills the pgmap, and a cancel
		 * answers EBUSY. */
		fs->committed = true;
		r = 0;
	} else {
		r = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

void fs_handles_drop_all(struct fs *fs, uint64_t *files, uint64_t *inodes)
{
	struct fs_icount *t = fs->icount;
	uint64_t nf = 0, ni = 0;

	/* No lock held across lib calls: the session loop has stopped. */
	while (fs->files.next != &fs->files) {
		struct fs_file *f = fs->files.next;

		fs_file_unlink(fs, f);
		if (f->vf)
			pgdax_vol_release(fs->vol, &f->vf);
		free(f);
		nf++;
	}
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct icount_ent *e;

		while ((e = t->b[i])) {
			t->b[i] = e->next;
			t->nents--;
			pgdax_vol_iput(fs->vol, e->ino, e->n);
			ni++;
			free(e);
		}
	}
	if (files)
		*files = nf;
	if (inodes)
		*inodes = ni;
}

void fs_handles_report(struct fs *fs)
{
	struct fs_file *f;
	unsigned shown = 0;

	pthread_mutex_lock(&fs->lock);
	pgdax_notice("%llu handle(s) still open", (unsigned long long)fs->nhandles);
	for (f = fs->files.next; f != &fs->files && shown < 32; f = f->next, shown++)
		pgdax_notice("  %s inode %llu opened by pid %d", f->dir ? "directory" : "file",
			     (unsigned long long)f->ino, (int)f->pid);
	pthread_mutex_unlock(&fs->lock);
}

size_t fs_icount_snapshot(struct fs *fs, uint64_t **inos)
{
	struct fs_icount *t = fs->icount;
	size_t n = 0;

	pthread_mutex_lock(&fs->lock);
	*inos = malloc((t->nents ? t->nents : 1) * sizeof(**inos));
	if (*inos)
		for (size_t i = 0; i < t->nbuckets; i++)
			for (struct icount_ent *e = t->b[i]; e; e = e->next)
				(*inos)[n++] = e->ino;
	pthread_mutex_unlock(&fs->lock);
	return n;
}
