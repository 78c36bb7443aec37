/* SPDX-License-Identifier: MIT */
/*
 * SIGBUS guard and bad ranges.
 *
 * A load or store to poisoned device memory (on an emulated device: a page
 * past EOF after the file was truncated under the mapping) raises SIGBUS.
 * Copies that touch the device run "armed": the thread-local guard_armed
 * flag is set around the copy and guard_jmp holds the place to come back to.
 * The process-wide handler (installed once, SA_SIGINFO|SA_NODEFER so a
 * second fault in the same thread is delivered again after the longjmp)
 * jumps back when the faulting thread is armed, and otherwise hands the
 * signal to the handler that was there before (e.g. a sanitizer's) or, if
 * none, restores the default action and lets the fault happen again: an
 * unguarded SIGBUS is a real bug and must still kill the process.
 *
 * The handler only stores si_addr in a thread-local; recording the bad
 * range (mutex, possible allocation) happens after the longjmp, in normal
 * context. sigsetjmp(..., 0) does not save the signal mask (no syscall):
 * with SA_NODEFER, SIGBUS is not blocked in the handler, so there is
 * nothing to restore. Cost of an armed copy: one sigsetjmp (~20 ns) and two
 * TLS stores.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev_internal.h"
#include "util/log.h"

#define GUARD_PAGE 4096ull

static __thread volatile sig_atomic_t guard_armed;
static __thread sigjmp_buf guard_jmp;
static __thread void *volatile guard_addr;

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static struct sigaction guard_prev;	/* written once under guard_once */
static int guard_err;			/* written once under guard_once */

static void guard_handler(int sig, siginfo_t *si, void *uctx)
{
	if (guard_armed) {
		guard_armed = 0;
		guard_addr = si->si_addr;
		siglongjmp(guard_jmp, 1);
	}
	/* Unguarded (metadata) access to a device that went away: fence the
	 * mapping so the instruction re-executes on zero pages (dev_watch.c). */
	if (si->si_code > 0 && dev_watch_fault(si->si_addr))
		return;
	if ((guard_prev.sa_flags & SA_SIGINFO) && guard_prev.sa_sigaction) {
		guard_prev.sa_sigaction(sig, si, uctx);
		return;
	}
	if (guard_prev.sa_handler != SIG_DFL && guard_prev.sa_handler != SIG_IGN &&
	    guard_prev.sa_handler) {
		guard_prev.sa_handler(sig);
		return;
	}
	/* Default action: a hardware fault re-executes and dies; a sent one is re-raised. */
	signal(SIGBUS, SIG_DFL);
	if (si->si_code <= 0)
		raise(SIGBUS);
}

static void guard_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &guard_prev) < 0) {
		guard_err = -errno;
		pgdax_err("cannot install the SIGBUS guard: %s", strerror(errno));
	}
}

int dev_guard_install(void)
{
	pthread_once(&guard_once, guard_setup);
	return guard_err;
}

int pgdax_dev_copy_guarded(struct pgdax_dev *dev, void *dst, const void *src,
			   size_t len, bool to_dev)
{
	uintptr_t a, base;

	if (!len)
		return 0;
	if (guard_armed) {
		/* Nested (cannot happen through this API): never clobber the outer jmp_buf. */
		pgdax_err("nested guarded copy on device %s", dev->info.path);
		return -EINVAL;
	}
	if (sigsetjmp(guard_jmp, 0)) {
		a = (uintptr_t)guard_addr;
		base = (uintptr_t)dev->base;
		if (a >= base && a < base + dev->size && dev_check_present(dev) < 0) {
			pgdax_err("device %s went away during a %s: returning EIO",
				  dev->info.path, to_dev ? "write" : "read");
		} else if (a >= base && a < base + dev->size) {
			uint64_t off = (a - base) & ~(GUARD_PAGE - 1);

			dev_badrange_add(dev, off, GUARD_PAGE);
			pgdax_err("media error on device %s at offset %" PRIu64 " (%s): returning EIO",
				  dev->info.path, (uint64_t)(a - base), to_dev ? "write" : "read");
		} else {
			pgdax_err("SIGBUS at %p outside device %s during a guarded copy: returning EIO",
				  (void *)a, dev->info.path);
		}
		return -EIO;
	}
	guard_armed = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (to_dev)
		pgdax_dev_memcpy_persist(dev, dst, src, len);
	else
		memcpy(dst, src, len);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	guard_armed = 0;
	return 0;
}

/* Insert [off, off+len), merging with neighbours. Caller holds bad_lock. */
static void badrange_insert_locked(struct pgdax_dev *dev, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	struct badrange *nb;
	int i, j;

	for (i = 0; i < dev->nbad && dev->bad[i].off + dev->bad[i].len < off; i++)
		;
	/* Merge every range that overlaps or touches [off, end). */
	for (j = i; j < dev->nbad && dev->bad[j].off <= end; j++) {
		if (dev->bad[j].off < off)
			off = dev->bad[j].off;
		if (dev->bad[j].off + dev->bad[j].len > end)
			end = dev->bad[j].off + dev->bad[j].len;
	}
	if (j > i) {
		dev->bad[i].off = off;
		dev->bad[i].len = end - off;
		memmove(&dev->bad[i + 1], &dev->bad[j], (size_t)(dev->nbad - j) * sizeof(*nb));
		dev->nbad -= j - i - 1;
		return;
	}
	if (dev->nbad == dev->bad_cap) {
		int cap = dev->bad_cap ? dev->bad_cap * 2 : 16;

		if (cap > PGDAX_BADRANGE_MAX || !(nb = realloc(dev->bad, (size_t)cap * sizeof(*nb)))) {
			pgdax_warn("device %s: bad range list full, range at %" PRIu64 " not recorded",
				   dev->info.path, off);
			return;
		}
		dev->bad = nb;
		dev->bad_cap = cap;
	}
	memmove(&dev->bad[i + 1], &dev->bad[i], (size_t)(dev->nbad - i) * sizeof(*nb));
	dev->bad[i].off = off;
	dev->bad[i].len = end - off;
	dev->nbad++;
}

void dev_badrange_add(struct pgdax_dev *dev, uint64_t off, uint64_t len)
{
	if (!len || off >= dev->size)
		return;
	if (len > dev->size - off)
		len = dev->size - off;
	pthread_mutex_lock(&dev->bad_lock);
	badrange_insert_locked(dev, off, len);
	pthread_mutex_unlock(&dev->bad_lock);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Ask libpmem2 for the device's bad blocks (devdax only: on a regular file
 * the API is unsupported). Costs a walk of sysfs, so it runs at open and
 * then at most once a second from pgdax_dev_range_is_bad(), which mkfs and
 * fsck may call once per block.
 */
void dev_badblocks_scan(struct pgdax_dev *dev)
{
	struct pmem2_badblock_context *bbctx = NULL;
	struct pmem2_badblock bb;
	uint64_t now;
	bool due;
	int rc;

	if (dev->info.kind != PGDAX_DEV_DEVDAX)
		return;
	now = now_ns();
	pthread_mutex_lock(&dev->bad_lock);
	due = !dev->bb_scan_ns || now - dev->bb_scan_ns >= 1000000000ull;
	if (due)
		dev->bb_scan_ns = now;
	pthread_mutex_unlock(&dev->bad_lock);
	if (!due)
		return;
	rc = pmem2_badblock_context_new(&bbctx, dev->src);
	if (rc) {
		pgdax_dbg("no badblock information for %s: %s", dev->info.path, pmem2_errormsg());
		return;
	}
	while (!pmem2_badblock_next(bbctx, &bb))
		dev_badrange_add(dev, bb.offset, bb.length);
	pmem2_badblock_context_delete(&bbctx);
}

void dev_badranges_free(struct pgdax_dev *dev)
{
	free(dev->bad);
	dev->bad = NULL;
	dev->nbad = dev->bad_cap = 0;
}

int pgdax_dev_badranges(struct pgdax_dev *dev, uint64_t *off, uint64_t *len, int max)
{
	int i, n;

	if (!dev)
		return 0;
	pthread_mutex_lock(&dev->bad_lock);
	n = dev->nbad;
	for (i = 0; i < n && i < max; i++) {
		if (off)
			off[i] = dev->bad[i].off;
		if (len)
			len[i] = dev->bad[i].len;
	}
	pthread_mutex_unlock(&dev->bad_lock);
	return n;
}

bool pgdax_dev_range_is_bad(struct pgdax_dev *dev, uint64_t off, uint64_t len)
{
	bool bad = false;
	int i;

	if (!dev || !len)
		return false;
	dev_badblocks_scan(dev);
	pthread_mutex_lock(&dev->bad_lock);
	for (i = 0; i < dev->nbad && !bad; i++)
		bad = dev->bad[i].off < off + len && off < dev->bad[i].off + dev->bad[i].len;
	pthread_mutex_unlock(&dev->bad_lock);
	return bad;
}
