/* SPDX-License-Identifier: MIT */
/*
 * Private body of struct pgdax_dev and the helpers the dev_*.c files share.
 *
 * Split of the device layer, one job per file:
 *   dev.c         open/close, libpmem2 mapping, accessors, persist wrappers
 *   dev_resolve.c name -> path (libndctl/libdaxctl), "is this a devdax?" checks
 *   dev_lock.c    PGDAX_DEV_EXCL flock and naming the holder from /proc/locks
 *   dev_emul.c    emulated device files: create/resize
 *   dev_align.c   the volume's alignment: imposed (emulated), checked (devdax)
 *   dev_guard.c   per-thread SIGBUS guard, guarded copies, bad ranges
 *   dev_crash.c   crash injection (PGDAX_CRASH_AT/_SHADOW/_COUNT)
 *   dev_watch.c   device loss: fencing on a fault, the removal watcher
 *
 * Hot path: pgdax_dev_persist() & co. read two fields (crash, the libpmem2
 * function pointer) and make one indirect call; everything else lives behind
 * the `crash` branch, which is false unless a PGDAX_CRASH_* variable was set
 * when the device was opened.
 */
#ifndef PGDAX_DEV_INTERNAL_H
#define PGDAX_DEV_INTERNAL_H

#include <libpmem2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dev.h"

#define PGDAX_DEV_MIN_SIZE	(16ull << 20)
#define PGDAX_BADRANGE_MAX	4096

struct badrange {
	uint64_t off;
	uint64_t len;
};

struct pgdax_dev {
	/* Set at open, read-only afterwards: no lock needed to read them. */
	struct pgdax_dev_info info;
	int fd;
	int pub_fd;			/* pgdax_dev_fd(): fd, or a no-I/O one (emulated) */
	unsigned flags;
	uint8_t *base;
	uint64_t size;
	struct pmem2_source *src;
	struct pmem2_map *map;
	pmem2_persist_fn persist;
	pmem2_flush_fn flush;
	pmem2_drain_fn drain;
	pmem2_memcpy_fn memcpy;
	pmem2_memset_fn memset;
	bool shm;			/* emulated on tmpfs: the shm_* shortcuts */
	bool shm_nospace_said;	/* shm_zero could not reserve again: said once */

	/* Counted only when the libpmem2 functions are the ones called (not
	 * the tmpfs shortcuts): how many persists/flushes went through
	 * libpmem2's cache-flush path, logged at close. The guest suite reads
	 * the log line to prove devdax persistence takes that path. */
	bool count_pmem2;
	atomic_uint_fast64_t pmem2_persists;
	atomic_uint_fast64_t pmem2_flushes;

	/* Crash harness (dev_crash.c); crash is false on the fast path. */
	bool crash;
	int shadow_fd;			/* -1 when no PGDAX_CRASH_SHADOW */
	uint64_t crash_id;		/* unique per open: tags per-thread flushed ranges */

	/* Bad ranges (dev_guard.c), sorted by off, merged; under bad_lock. */
	pthread_mutex_t bad_lock;
	struct badrange *bad;		/* bad_lock */
	int nbad;			/* bad_lock */
	int bad_cap;			/* bad_lock */
	uint64_t bb_scan_ns;		/* bad_lock: last libpmem2 badblock scan */

	/* Device loss (dev_watch.c). The first three are set from the SIGBUS
	 * handler too: atomics only. */
	atomic_bool fenced;		/* the mapping is anonymous memory now */
	atomic_bool fence_failed;
	atomic_bool lost;		/* fenced because the device went away */
	_Atomic uint64_t fault_off;	/* first faulting offset, UINT64_MAX none */
	int wake_fd;			/* eventfd: wakes the watcher */
	int source_fd;			/* inotify (emulated) or uevent socket, -1 */
	pthread_t watcher;
	bool watching;			/* set/cleared by the opener's thread */
	atomic_bool watch_stop;
	void (*on_lost)(void *arg, const char *why);
	void *on_lost_arg;
	pthread_mutex_t watch_lock;
	char lost_reason[PATH_MAX + 256];	/* watch_lock */
	bool reported;			/* watch_lock: on_lost ran (or will) */
};

/* libpmem2 error code -> negative errno, logging pmem2_errormsg() with @what. */
int dev_pmem2_err(int ret, const char *what, const char *path);

/* dev_resolve.c */
int dev_check_kind(const char *path, enum pgdax_dev_kind *kind);
int dev_devdax_sysfs_align(const char *path, uint64_t *align);

/* dev_lock.c */
int dev_lock_excl(int fd, const char *path);

/* dev_emul.c */
bool dev_align_valid(uint64_t align);

/* dev_guard.c */
int dev_guard_install(void);
void dev_badrange_add(struct pgdax_dev *dev, uint64_t off, uint64_t len);
void dev_badblocks_scan(struct pgdax_dev *dev);
void dev_badranges_free(struct pgdax_dev *dev);

/* dev_watch.c */
void dev_watch_register(struct pgdax_dev *dev);
void dev_watch_unregister(struct pgdax_dev *dev);
void dev_watch_stop(struct pgdax_dev *dev);
/* From the SIGBUS handler: @addr in a registered mapping? Then it is fenced. */
bool dev_watch_fault(void *addr);
/* After a guarded copy faulted: 0 if the device is whole, else -ENODEV
 * (fenced, reported). */
int dev_check_present(struct pgdax_dev *dev);

/* dev_crash.c: setup at open, teardown at close, and the slow paths. */
int dev_crash_open(struct pgdax_dev *dev);
void dev_crash_close(struct pgdax_dev *dev);
void dev_crash_barrier(struct pgdax_dev *dev);
void dev_crash_persisted(struct pgdax_dev *dev, const void *addr, size_t len);
void dev_crash_flushed(struct pgdax_dev *dev, const void *addr, size_t len);
void dev_crash_drained(struct pgdax_dev *dev);
uint64_t dev_crash_count(void);

#endif /* PGDAX_DEV_INTERNAL_H */
