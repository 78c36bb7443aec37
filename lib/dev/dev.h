/* SPDX-License-Identifier: MIT */
/*
 * The device: a devdax character device (/dev/daxX.Y, found by that path, by
 * its dax name "daxX.Y" or by its namespace "namespaceX.Y" through
 * libndctl/libdaxctl) or a regular file standing in for one (the *emulated
 * device*, usually under /dev/shm). Either way it is mapped whole with
 * libpmem2 and every store that must be durable goes through the persist
 * functions below, so the flushing is right for real persistent memory (CPU
 * cache flushes) and for the emulated file (msync) alike.
 *
 * Crash injection (tests): with PGDAX_CRASH_AT=N in the environment the
 * process dies (SIGKILL to itself) at the N-th persist barrier, before it
 * completes. With PGDAX_CRASH_SHADOW=PATH as well, the device layer keeps a
 * shadow image at PATH that receives only the ranges that were persisted, so
 * a remount of the shadow sees exactly what a power cut would have left.
 * PGDAX_CRASH_COUNT=PATH writes the number of barriers performed at close.
 */
#ifndef PGDAX_DEV_H
#define PGDAX_DEV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pgdax_dev;

enum pgdax_dev_kind {
	PGDAX_DEV_EMULATED = 1,	/* a regular file */
	PGDAX_DEV_DEVDAX = 2,	/* a /dev/daxX.Y character device */
};

struct pgdax_dev_info {
	enum pgdax_dev_kind kind;
	char path[PATH_MAX];	/* resolved path that was opened */
	char name[64];		/* "dax0.0" for devdax, file basename otherwise */
	uint64_t size;		/* bytes mapped */
	uint64_t align;		/* mapping alignment: 4K, 2M or 1G (a devdax's own
				 * until pgdax_dev_use_align gives the volume's) */
	int numa_node;		/* -1 when unknown */
	bool needs_flush;	/* false only with byte-granularity persistence */
	const char *granularity; /* "byte", "cache-line" or "page" */
};

/* pgdax_dev_open() flags */
#define PGDAX_DEV_EXCL		(1u << 0) /* take the exclusive flock; -EBUSY naming the holder */
#define PGDAX_DEV_RDONLY	(1u << 1) /* map read-only (fsck -n, info) */
#define PGDAX_DEV_NOLOCK_WAIT	(1u << 2) /* reserved */

/*
 * Open and map a device by any accepted name. An emulated device opens with
 * align_override, else 4K, until pgdax_dev_use_align() gives it the volume's
 * alignment; a devdax reports its own (align_override is ignored, with a
 * warning when it differs). Returns 0 or a negative errno with the reason
 * logged.
 */
int pgdax_dev_open(const char *name, unsigned flags, uint64_t align_override,
		   struct pgdax_dev **out);

/*
 * The volume's alignment (its superblock's s_align) becomes the device's
 * mapping alignment (lib/dev/dev_align.c says why and which combinations
 * work). Emulated: taken as is. Devdax: the device's own alignment must
 * divide it; otherwise -EINVAL, logged with what to do. Call it before the
 * device is shared (info.align is read without a lock).
 */
int pgdax_dev_use_align(struct pgdax_dev *dev, uint64_t vol_align);
/*
 * The devdax rule alone: 0 when a volume of alignment @vol_align can be
 * served from a devdax aligned to @dev_align (@why: "" or a notice that the
 * pages are smaller than the volume's units), -EINVAL when not (@why: the
 * reason and the fix). @devname names the device in @why.
 */
int pgdax_dev_align_compatible(uint64_t dev_align, uint64_t vol_align, const char *devname,
			       char *why, size_t whylen);
/* Unmap, unlock and close; NULLs *dev. NULL-safe. */
void pgdax_dev_close(struct pgdax_dev **dev);

/*
 * Create (or resize) an emulated device file of @size bytes, sparse. size
 * must be a multiple of @align (4K, 2M or 1G), the alignment it is meant to
 * be formatted with (nothing is recorded with the file: the volume records
 * its alignment). Returns 0 or a negative errno.
 */
int pgdax_dev_create_emulated(const char *path, uint64_t size, uint64_t align);

/* Resolve a name to the path of the character device or file; 0 or -errno. */
int pgdax_dev_resolve(const char *name, char *path, size_t len);

const struct pgdax_dev_info *pgdax_dev_info(const struct pgdax_dev *dev);
void *pgdax_dev_base(const struct pgdax_dev *dev);
uint64_t pgdax_dev_size(const struct pgdax_dev *dev);
/*
 * A descriptor of the device for what a devdax allows on one besides the
 * mapping this layer makes: fstat, locks (fcntl F_OFD_GETLK, flock). A
 * devdax refuses read(2), write(2), ftruncate and private mappings; an
 * emulated device hands out a descriptor opened for neither reading nor
 * writing (access mode 3), so code that would do one of those fails on the
 * host as it would on the real device (mmap of any kind fails there too).
 */
int pgdax_dev_fd(const struct pgdax_dev *dev);
/* Read device bytes into @buf: through the file on an emulated device (its
 * holes stay holes), through the mapping (guarded) on a devdax. 0 or -EIO. */
int pgdax_dev_read(struct pgdax_dev *dev, uint64_t off, void *buf, size_t len);

/* Copy-on-write views (lib/dev/dev_view.c): the device read-only, and
 * private DRAM copies of the alignment units pgdax_dev_view_cow() was
 * called for, which the caller may then write. Never MAP_PRIVATE (devdax
 * refuses it); nothing written to a view reaches the device. */
struct pgdax_dev_view;
int pgdax_dev_view_open(struct pgdax_dev *dev, struct pgdax_dev_view **out);
void *pgdax_dev_view_base(const struct pgdax_dev_view *v);
int pgdax_dev_view_cow(struct pgdax_dev_view *v, const void *addr, size_t len);
void pgdax_dev_view_close(struct pgdax_dev_view **v);

/* Make [addr, addr+len) durable: flush then drain. One persist barrier. */
void pgdax_dev_persist(struct pgdax_dev *dev, const void *addr, size_t len);
void pgdax_dev_flush(struct pgdax_dev *dev, const void *addr, size_t len);
/* Completes earlier flushes; counts as a persist barrier. */
void pgdax_dev_drain(struct pgdax_dev *dev);
/* libpmem2 memcpy/memset into device memory, durable on return. */
void pgdax_dev_memcpy_persist(struct pgdax_dev *dev, void *dst, const void *src, size_t len);
void pgdax_dev_memset_persist(struct pgdax_dev *dev, void *dst, int c, size_t len);
/* Same, without the drain (caller batches and calls pgdax_dev_drain()). */
void pgdax_dev_memcpy_nodrain(struct pgdax_dev *dev, void *dst, const void *src, size_t len);

/*
 * Copies that touch device memory run under a per-thread SIGBUS guard: a
 * media error (on the emulated device, the file truncated under the
 * mapping) makes them return -EIO instead of killing the process, and the
 * bad range is recorded (pgdax_dev_badrange_*). to_dev: dst is device memory
 * (copy persisted); otherwise src is. Return 0 or -EIO.
 */
int pgdax_dev_copy_guarded(struct pgdax_dev *dev, void *dst, const void *src,
			   size_t len, bool to_dev);
/* Number of bad ranges recorded; fills up to max (offset, length) pairs. */
int pgdax_dev_badranges(struct pgdax_dev *dev, uint64_t *off, uint64_t *len, int max);
/* Is [off, off+len) known bad (recorded or reported by libpmem2 badblocks)? */
bool pgdax_dev_range_is_bad(struct pgdax_dev *dev, uint64_t off, uint64_t len);

/*
 * Device loss (lib/dev/dev_watch.c): the device went away under the mapping
 * (devdax disabled or unbound, emulated file cut). Once lost, the mapping
 * is anonymous memory: nothing more reaches the device, loads read zeros.
 * pgdax_dev_watch() starts a thread that notices a removal even when
 * nothing touches the device, and calls @on_lost(arg, why) once, from that
 * thread, when the device is lost (also when a fault found it first).
 * 0 or a negative errno (a watch could not start: faults still count).
 */
int pgdax_dev_watch(struct pgdax_dev *dev, void (*on_lost)(void *arg, const char *why),
		    void *arg);
bool pgdax_dev_is_lost(const struct pgdax_dev *dev);
/* Why it was lost ("" while it is not). */
void pgdax_dev_lost_reason(struct pgdax_dev *dev, char *buf, size_t len);

/* Persist barriers performed so far (for tests and the crash harness). */
uint64_t pgdax_dev_barriers(const struct pgdax_dev *dev);

#endif /* PGDAX_DEV_H */
