/* SPDX-License-Identifier: MIT */
/*
 * Crash injection for tests (see the comment in dev.h).
 *
 * Everything here is behind dev->crash, which pgdax_dev_open() sets only
 * when a PGDAX_CRASH_* variable is present, so the persist fast path pays
 * one predictable branch.
 *
 * Barriers: every pgdax_dev_persist(), pgdax_dev_drain(),
 * pgdax_dev_memcpy_persist(), pgdax_dev_memset_persist() and persisted
 * guarded copy is one barrier. The count is process-wide (all devices
 * opened with the harness on), so "crash at barrier N" means the same thing
 * for a process that opens and closes the device several times.
 * PGDAX_CRASH_AT=N: SIGKILL to ourselves when barrier N starts, before it
 * makes anything durable; barriers 1..N-1 are complete.
 *
 * Shadow (PGDAX_CRASH_SHADOW=PATH): at open the shadow becomes a copy of
 * the device (only data segments, and within them only non-zero 4K blocks,
 * so a sparse 1 GiB device copies in microseconds; its alignment is in the
 * volume, so the shadow opens like the device). After each barrier the
 * bytes it made durable are written to the shadow: a persist copies its
 * range; a flush only records its range in a per-thread list, and the next
 * drain by that thread copies the recorded ranges of that device. Stores
 * that were never persisted never reach the shadow, which is therefore the
 * image a power cut would have left. A device reopened in the same process
 * keeps its shadow (it is not re-copied from the device, whose unpersisted
 * bytes must stay out of it).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev_internal.h"
#include "util/log.h"

#define SHADOW_BLOCK 4096

static uint64_t barriers;		/* atomic */
static uint64_t crash_at;		/* atomic; 0 = never */
static uint64_t next_crash_id;		/* atomic */

static pthread_mutex_t crash_lock = PTHREAD_MUTEX_INITIALIZER;
static char count_path[PATH_MAX];	/* crash_lock */
static dev_t shadow_of_dev;		/* crash_lock: device whose shadow exists */
static ino_t shadow_of_ino;		/* crash_lock */
static char shadow_of_path[PATH_MAX];	/* crash_lock */

/* Per-thread ranges flushed but not yet drained (crash mode only). */
struct pend {
	uint64_t crash_id;
	uint64_t off;
	uint64_t len;
};
struct pendlist {
	int n, cap;
	struct pend p[];
};
static __thread struct pendlist *pending;
static pthread_key_t pending_key;
static pthread_once_t pending_once = PTHREAD_ONCE_INIT;

static void pending_free(void *p)
{
	free(p);
}

static void pending_key_init(void)
{
	pthread_key_create(&pending_key, pending_free);
}

static int write_full(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static bool block_is_zero(const uint8_t *p, size_t len)
{
	static const uint8_t zero[SHADOW_BLOCK];

	return !memcmp(p, zero, len);
}

/* Copy [start, end) of the device into the shadow, skipping zero blocks. */
static int copy_segment(struct pgdax_dev *dev, int sfd, uint64_t start, uint64_t end)
{
	uint64_t off;
	size_t n;
	int rc;

	for (off = start; off < end; off += n) {
		n = (size_t)(end - off < SHADOW_BLOCK ? end - off : SHADOW_BLOCK);
		if (block_is_zero(dev->base + off, n))
			continue;
		rc = write_full(sfd, dev->base + off, n, (off_t)off);
		if (rc)
			return rc;
	}
	return 0;
}

static int shadow_fill(struct pgdax_dev *dev, int sfd)
{
	off_t data, hole;
	int rc;

	if (dev->info.kind == PGDAX_DEV_DEVDAX)
		return copy_segment(dev, sfd, 0, dev->size);
	for (data = 0; (uint64_t)data < dev->size; data = hole) {
		data = lseek(dev->fd, data, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -errno;	/* ENXIO: no data past here */
		hole = lseek(dev->fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((uint64_t)hole > dev->size)
			hole = (off_t)dev->size;
		rc = copy_segment(dev, sfd, (uint64_t)data, (uint64_t)hole);
		if (rc)
			return rc;
	}
	return 0;
}

static int shadow_open(struct pgdax_dev *dev, const char *path)
{
	struct stat dst, sst;
	bool reuse;
	int sfd, rc;

	if (fstat(dev->fd, &dst) < 0)
		return -errno;
	if (!stat(path, &sst) && sst.st_dev == dst.st_dev && sst.st_ino == dst.st_ino) {
		pgdax_err("PGDAX_CRASH_SHADOW=%s is the device itself: choose another path", path);
		return -EINVAL;
	}
	pthread_mutex_lock(&crash_lock);
	reuse = shadow_of_dev == dst.st_dev && shadow_of_ino == dst.st_ino &&
		!strcmp(shadow_of_path, path);
	sfd = open(path, O_RDWR | O_CLOEXEC | (reuse ? 0 : O_CREAT | O_TRUNC), 0600);
	if (sfd < 0) {
		rc = -errno;
		pgdax_err("cannot open crash shadow %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!reuse) {
		rc = ftruncate(sfd, (off_t)dev->size) ? -errno : shadow_fill(dev, sfd);
		if (rc) {
			pgdax_err("cannot copy device %s to crash shadow %s: %s", dev->info.path,
				  path, strerror(-rc));
			close(sfd);
			sfd = rc;
			goto out;
		}
		shadow_of_dev = dst.st_dev;
		shadow_of_ino = dst.st_ino;
		snprintf(shadow_of_path, sizeof(shadow_of_path), "%s", path);
	}
	rc = sfd;
out:
	pthread_mutex_unlock(&crash_lock);
	return rc;
}

int dev_crash_open(struct pgdax_dev *dev)
{
	const char *at = getenv("PGDAX_CRASH_AT");
	const char *shadow = getenv("PGDAX_CRASH_SHADOW");
	const char *count = getenv("PGDAX_CRASH_COUNT");
	unsigned long long n = 0;
	char *end;
	int fd;

	dev->crash = false;
	dev->shadow_fd = -1;
	/* A read-only open makes nothing durable: it must not touch the harness files. */
	if ((dev->flags & PGDAX_DEV_RDONLY) ||
	    (!(at && *at) && !(shadow && *shadow) && !(count && *count)))
		return 0;
	if (at && *at) {
		errno = 0;
		n = strtoull(at, &end, 10);
		if (errno || *end || !n) {
			pgdax_err("PGDAX_CRASH_AT=%s is not a barrier number (1, 2, ...)", at);
			return -EINVAL;
		}
		__atomic_store_n(&crash_at, n, __ATOMIC_RELAXED);
	}
	if (count && *count) {
		pthread_mutex_lock(&crash_lock);
		snprintf(count_path, sizeof(count_path), "%s", count);
		pthread_mutex_unlock(&crash_lock);
	}
	if (shadow && *shadow) {
		fd = shadow_open(dev, shadow);
		if (fd < 0)
			return fd;
		dev->shadow_fd = fd;
	}
	pthread_once(&pending_once, pending_key_init);
	dev->crash_id = __atomic_add_fetch(&next_crash_id, 1, __ATOMIC_RELAXED);
	dev->crash = true;
	pgdax_dbg("crash harness on for %s: crash at %llu, shadow %s, count %s", dev->info.path,
		  n, dev->shadow_fd >= 0 ? shadow : "(none)", count ? count : "(none)");
	return 0;
}

static void pending_drop(struct pgdax_dev *dev, bool write)
{
	int i, k;

	if (!pending)
		return;
	for (i = k = 0; i < pending->n; i++) {
		struct pend *p = &pending->p[i];

		if (p->crash_id != dev->crash_id) {
			pending->p[k++] = *p;
			continue;
		}
		if (write && dev->shadow_fd >= 0 &&
		    write_full(dev->shadow_fd, dev->base + p->off, p->len, (off_t)p->off))
			pgdax_err("crash shadow write failed: %s", strerror(errno));
	}
	pending->n = k;
}

void dev_crash_close(struct pgdax_dev *dev)
{
	char path[PATH_MAX];
	FILE *f;

	if (!dev->crash)
		return;
	pending_drop(dev, false);	/* flushed, never drained: not durable */
	if (dev->shadow_fd >= 0) {
		close(dev->shadow_fd);
		dev->shadow_fd = -1;
	}
	pthread_mutex_lock(&crash_lock);
	snprintf(path, sizeof(path), "%s", count_path);
	pthread_mutex_unlock(&crash_lock);
	if (!*path)
		return;
	f = fopen(path, "we");
	if (!f) {
		pgdax_err("cannot write barrier count to PGDAX_CRASH_COUNT=%s: %s", path,
			  strerror(errno));
		return;
	}
	fprintf(f, "%" PRIu64 "\n", dev_crash_count());
	if (fclose(f))
		pgdax_err("cannot write barrier count to %s: %s", path, strerror(errno));
}

void dev_crash_barrier(struct pgdax_dev *dev)
{
	uint64_t n = __atomic_add_fetch(&barriers, 1, __ATOMIC_SEQ_CST);
	uint64_t at = __atomic_load_n(&crash_at, __ATOMIC_RELAXED);

	if (at && n == at) {
		/* Before this barrier completes: barriers 1..n-1 are what survives. */
		__atomic_sub_fetch(&barriers, 1, __ATOMIC_SEQ_CST);
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	}
}

/* Clamp [addr, addr+len) to the device; false when it lies outside. */
static bool dev_range(struct pgdax_dev *dev, const void *addr, size_t len,
		      uint64_t *off, uint64_t *n)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)dev->base;

	if (a < b || a >= b + dev->size || !len)
		return false;
	*off = a - b;
	*n = len > dev->size - *off ? dev->size - *off : len;
	return true;
}

void dev_crash_persisted(struct pgdax_dev *dev, const void *addr, size_t len)
{
	uint64_t off, n;

	if (dev->shadow_fd < 0 || !dev_range(dev, addr, len, &off, &n))
		return;
	if (write_full(dev->shadow_fd, dev->base + off, n, (off_t)off))
		pgdax_err("crash shadow write failed: %s", strerror(errno));
}

void dev_crash_flushed(struct pgdax_dev *dev, const void *addr, size_t len)
{
	struct pendlist *pl;
	struct pend *last;
	uint64_t off, n;
	int cap;

	if (dev->shadow_fd < 0 || !dev_range(dev, addr, len, &off, &n))
		return;
	if (pending && pending->n) {
		last = &pending->p[pending->n - 1];
		if (last->crash_id == dev->crash_id && last->off + last->len == off) {
			last->len += n;		/* sequential flushes: one range */
			return;
		}
	}
	if (!pending || pending->n == pending->cap) {
		cap = pending ? pending->cap * 2 : 64;
		pl = realloc(pending, sizeof(*pl) + (size_t)cap * sizeof(pl->p[0]));
		if (!pl) {
			/* Cannot remember it: the shadow would miss a durable range. */
			pgdax_err("crash harness out of memory recording a flush");
			abort();
		}
		if (!pending)
			pl->n = 0;
		pl->cap = cap;
		pending = pl;
		pthread_setspecific(pending_key, pl);
	}
	pending->p[pending->n++] = (struct pend){ dev->crash_id, off, n };
}

void dev_crash_drained(struct pgdax_dev *dev)
{
	pending_drop(dev, true);
}

uint64_t dev_crash_count(void)
{
	return __atomic_load_n(&barriers, __ATOMIC_SEQ_CST);
}
