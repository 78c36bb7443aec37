/* SPDX-License-Identifier: MIT */
/*
 * Device loss ("surprise removal", DESIGN.md section 4a): noticing that the
 * device went away under a live mapping, and making sure the process
 * survives it.
 *
 * How a device goes away. A devdax namespace is disabled or its driver
 * unbound (ndctl disable-namespace, a CXL device hot-removed): the kernel
 * tears the mapping's pages down and every later load or store faults
 * (SIGBUS). An emulated device file truncated under the mapping does the
 * same past its new end. Nothing in between tells the process.
 *
 * How it is noticed, whichever comes first:
 *   - a fault: SIGBUS at an address inside a registered device mapping.
 *     Outside a guarded copy (metadata: superblock, bitmaps, inodes,
 *     journal) the handler *fences* the mapping at once: it maps anonymous
 *     zero pages over the whole device range (MAP_FIXED), so the faulting
 *     instruction re-executes on ordinary memory and the thread goes on to
 *     finish its request, marks the device lost, and wakes the watcher.
 *     Inside a guarded copy the copy returns -EIO as for a media error
 *     (dev_guard.c) and the copier asks dev_check_present() in normal
 *     context whether the device is still whole;
 *   - the watcher thread, event-driven (no polling timer): for an emulated
 *     device, inotify on the file (a truncate is IN_MODIFY; stores through
 *     the mapping raise no event), then fstat: a file shorter than the
 *     mapping is a device that went away; for devdax, the kernel's uevents
 *     (NETLINK_KOBJECT_UEVENT, no udevd needed): a "remove" or "unbind" of
 *     this dax device, then sysfs: no driver bound means gone.
 * What loss means here: the mapping is fenced (the device is never written
 * again by this process: every store lands in anonymous memory), the lost
 * flag is set, and the callback the layer above registered
 * (pgdax_dev_watch) runs once, on the watcher thread, with the reason. The
 * volume makes itself dead there (lib/vol/vol.c).
 *
 * Why fence with zero pages and not PROT_NONE: the thread that faulted may
 * hold locks in the middle of a metadata update; it must be able to finish
 * (its result is thrown away: the volume refuses every commit once dead)
 * rather than unwind from an arbitrary instruction. A read reply being
 * copied by the kernel at that instant may see zeros: that race with a
 * removal is documented in README.
 *
 * The handler touches only the registry (a fixed array written before a
 * mapping is used and cleared after it is gone) with atomics, mmap(2) and
 * write(2) on an eventfd: all async-signal-safe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev_internal.h"
#include "util/log.h"

/* Mappings the SIGBUS handler may fence: few (a daemon maps one device). */
#define WATCH_MAX	16
static struct pgdax_dev *_Atomic watched[WATCH_MAX];

void dev_watch_register(struct pgdax_dev *dev)
{
	for (int i = 0; i < WATCH_MAX; i++) {
		struct pgdax_dev *expected = NULL;

		if (atomic_compare_exchange_strong(&watched[i], &expected, dev))
			return;
	}
	/* more than WATCH_MAX devices open at once (tests): a fault on this
	 * one is handled as before (guarded copies only) */
}

void dev_watch_unregister(struct pgdax_dev *dev)
{
	for (int i = 0; i < WATCH_MAX; i++) {
		struct pgdax_dev *expected = dev;

		if (atomic_compare_exchange_strong(&watched[i], &expected, NULL))
			return;
	}
}

/* Replace the device mapping by anonymous memory; once. Signal-safe. */
static void fence(struct pgdax_dev *dev)
{
	bool expected = false;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&dev->fenced, &expected, true))
		return;
	/* lost first: whoever reads the fence's zeros (or stores into it)
	 * sees lost in its next check (seq_cst) and acknowledges nothing */
	atomic_store(&dev->lost, true);
	if (mmap(dev->base, dev->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		atomic_store(&dev->fence_failed, true);
	if (dev->wake_fd >= 0 && write(dev->wake_fd, &one, sizeof(one)) < 0) {
		/* the watcher then learns of it at its next event */
	}
}

bool dev_watch_fault(void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	for (int i = 0; i < WATCH_MAX; i++) {
		struct pgdax_dev *dev = atomic_load(&watched[i]);

		if (dev && a >= (uintptr_t)dev->base && a < (uintptr_t)dev->base + dev->size) {
			uint64_t none = UINT64_MAX;

			atomic_compare_exchange_strong(&dev->fault_off, &none,
						       (uint64_t)(a - (uintptr_t)dev->base));
			fence(dev);
			return true;
		}
	}
	return false;
}

/* Is the device still whole? Normal context. Fills @why when not. */
static bool present(struct pgdax_dev *dev, char *why, size_t len)
{
	char path[PATH_MAX];
	struct stat st;

	if (dev->info.kind == PGDAX_DEV_EMULATED) {
		if (fstat(dev->fd, &st) < 0) {
			snprintf(why, len, "the device file %s cannot be examined (%s)",
				 dev->info.path, strerror(errno));
			return false;
		}
		if ((uint64_t)st.st_size < dev->size) {
			snprintf(why, len, "the device file %s was cut to %" PRIu64
				 " bytes under the mount (%" PRIu64 " mapped)",
				 dev->info.path, (uint64_t)st.st_size, dev->size);
			return false;
		}
		return true;
	}
	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/driver", dev->info.name);
	if (access(path, F_OK) < 0) {
		snprintf(why, len, "the dax device %s was disabled or unbound "
			 "(no driver at %s)", dev->info.name, path);
		return false;
	}
	return true;
}

/* The first reason known is the one kept. */
static void set_reason(struct pgdax_dev *dev, const char *why)
{
	pthread_mutex_lock(&dev->watch_lock);
	if (!dev->lost_reason[0])
		snprintf(dev->lost_reason, sizeof(dev->lost_reason), "%s", why);
	pthread_mutex_unlock(&dev->watch_lock);
}

/* Say it, once: the log and the callback of the layer above. */
static void report(struct pgdax_dev *dev)
{
	char why[sizeof(dev->lost_reason)];
	bool first;

	pthread_mutex_lock(&dev->watch_lock);
	first = !dev->reported;
	dev->reported = true;
	snprintf(why, sizeof(why), "%s", dev->lost_reason);
	pthread_mutex_unlock(&dev->watch_lock);
	if (!first)
		return;
	if (atomic_load(&dev->fence_failed))
		pgdax_err("device %s: cannot fence the mapping; stores may fault",
			  dev->info.path);
	pgdax_err("device %s went away: %s", dev->info.path, why);
	if (dev->on_lost)
		dev->on_lost(dev->on_lost_arg, why);
}

/* Normal context, after a fault or an event: lost? Then fence, keep why. */
static bool check(struct pgdax_dev *dev)
{
	char why[sizeof(dev->lost_reason)];

	if (!present(dev, why, sizeof(why))) {
		set_reason(dev, why);
		fence(dev);
	}
	if (!atomic_load(&dev->lost))
		return false;
	uint64_t off = atomic_load(&dev->fault_off);

	snprintf(why, sizeof(why), "an access at device offset %" PRIu64 " faulted "
		 "(the device went away, or its metadata is poisoned)", off);
	set_reason(dev, why);	/* only if nothing better is known */
	return true;
}

int dev_check_present(struct pgdax_dev *dev)
{
	if (!check(dev))
		return 0;
	if (!dev->watching)
		report(dev);	/* nobody else will */
	return -ENODEV;
}

/* A uevent names this dax device going away? (@buf: "ACTION@DEVPATH\0K=V\0...") */
static bool uevent_is_ours(struct pgdax_dev *dev, const char *buf, size_t n)
{
	const char *at = memchr(buf, '@', n);
	size_t nl = strlen(dev->info.name), plen;
	const char *devpath;

	if (!at)
		return false;
	if (strncmp(buf, "remove@", 7) && strncmp(buf, "unbind@", 7) &&
	    strncmp(buf, "offline@", 8))
		return false;
	devpath = at + 1;
	plen = strnlen(devpath, n - (size_t)(devpath - buf));
	return plen > nl && devpath[plen - nl - 1] == '/' &&
	       !memcmp(devpath + plen - nl, dev->info.name, nl);
}

static int open_source(struct pgdax_dev *dev)
{
	if (dev->info.kind == PGDAX_DEV_EMULATED) {
		int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

		if (fd < 0)
			return -errno;
		if (inotify_add_watch(fd, dev->info.path, IN_MODIFY | IN_ATTRIB) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		return fd;
	}
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void *watcher(void *arg)
{
	struct pgdax_dev *dev = arg;
	char buf[8192];
	bool done = false;

	while (!done) {
		struct pollfd p[2] = {
			{ .fd = dev->wake_fd, .events = POLLIN },
			{ .fd = dev->source_fd, .events = POLLIN },
		};
		bool want = false;
		uint64_t v;

		if (poll(p, dev->source_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			pgdax_err("device %s: watcher: %s", dev->info.path, strerror(errno));
			break;
		}
		if (p[0].revents && read(dev->wake_fd, &v, sizeof(v)) == sizeof(v))
			want = true;	/* a fault fenced it, or stop */
		if (dev->source_fd >= 0 && p[1].revents) {
			ssize_t n;

			while ((n = read(dev->source_fd, buf, sizeof(buf) - 1)) > 0) {
				buf[n] = '\0';
				if (dev->info.kind == PGDAX_DEV_EMULATED ||
				    uevent_is_ours(dev, buf, (size_t)n))
					want = true;
			}
		}
		if (atomic_load(&dev->watch_stop))
			break;
		if (want && check(dev)) {
			report(dev);
			done = true;
		}
	}
	return NULL;
}

int pgdax_dev_watch(struct pgdax_dev *dev, void (*on_lost)(void *arg, const char *why),
		    void *arg)
{
	int rc;

	if (!dev || dev->watching)
		return -EINVAL;
	dev->on_lost = on_lost;
	dev->on_lost_arg = arg;
	dev->source_fd = open_source(dev);
	if (dev->source_fd < 0) {
		/* faults are still noticed; only the unprompted check is lost */
		pgdax_warn("device %s: cannot watch for removal (%s); a removal is "
			   "noticed at the first access that faults", dev->info.path,
			   strerror(-dev->source_fd));
		dev->source_fd = -1;
	}
	rc = pthread_create(&dev->watcher, NULL, watcher, dev);
	if (rc) {
		if (dev->source_fd >= 0)
			close(dev->source_fd);
		dev->source_fd = -1;
		return -rc;
	}
	dev->watching = true;
	/* a removal before the watch began: the watcher checks once at start */
	uint64_t one = 1;

	if (write(dev->wake_fd, &one, sizeof(one)) < 0)
		pgdax_warn("device %s: cannot wake the watcher", dev->info.path);
	return 0;
}

void dev_watch_stop(struct pgdax_dev *dev)
{
	uint64_t one = 1;

	if (dev->watching) {
		atomic_store(&dev->watch_stop, true);
		if (write(dev->wake_fd, &one, sizeof(one)) < 0)
			pgdax_warn("device %s: cannot stop the watcher", dev->info.path);
		pthread_join(dev->watcher, NULL);
		dev->watching = false;
	}
	if (dev->source_fd >= 0)
		close(dev->source_fd);
	dev->source_fd = -1;
}

bool pgdax_dev_is_lost(const struct pgdax_dev *dev)
{
	return atomic_load(&dev->lost);
}

void pgdax_dev_lost_reason(struct pgdax_dev *dev, char *buf, size_t len)
{
	pthread_mutex_lock(&dev->watch_lock);
	snprintf(buf, len, "%s", dev->lost_reason[0] ? dev->lost_reason :
		 atomic_load(&dev->lost) ? "a load or store at the device faulted" : "");
	pthread_mutex_unlock(&dev->watch_lock);
}
