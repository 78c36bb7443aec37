/* SPDX-License-Identifier: MIT */
/*
 * The ioctl ABI between libpgdax's client side (lib/client/client.c, in
 * applications) and the pgdaxfs daemon (fs/ioctl.c -> lib/pin/pin.c).
 *
 * FUSE forwards only *restricted* ioctls from a regular mount: the kernel
 * copies exactly _IOC_SIZE(cmd) bytes in (for _IOW/_IOWR) and out (for
 * _IOR/_IOWR) and follows no pointer. So every structure here is fixed-size,
 * pointer-free and sized by its command number; variable-length answers (the
 * extents of a pin, the holders listed by status) come back through a cursor,
 * a bounded batch per call, like FIEMAP.
 *
 * Rules the daemon enforces (a hostile caller gets an errno, never a crash or
 * a leaked reference):
 *   - every reserved field must be 0 (-EINVAL), unknown flags are -EINVAL;
 *   - ranges must not overflow (-EINVAL/-EFBIG), lengths must be > 0;
 *   - pin ids are per open file: an id that the open file does not hold is
 *     -ENOENT (ids are never reused within a daemon's life);
 *   - PIN, PIN_EXTENTS, UNPIN and SYNC work on regular files only; STATUS
 *     and DRAIN only on the mount's root directory; INFO on either.
 *
 * All fields are in host byte order (client and daemon share the machine).
 * The layout is fixed (static asserts below) so 32- and 64-bit callers agree.
 */
#ifndef PGDAX_IOCTL_H
#define PGDAX_IOCTL_H

#include <stdint.h>
#include <sys/ioctl.h>

#define PGDAX_IOC_MAGIC		0xd7
/* Bumped on any incompatible change; INFO reports the daemon's. */
#define PGDAX_IOC_VERSION	1

/* INFO: what a client needs to map device memory itself. */
#define PGDAX_INFO_EMULATED	(1u << 0)	/* device is a regular file */
#define PGDAX_INFO_RDONLY	(1u << 1)	/* mounted read-only */
#define PGDAX_INFO_DYING	(1u << 2)	/* teardown started: new pins fail */
#define PGDAX_INFO_DEAD		(1u << 3)	/* the device went away: every request
						 * fails with EIO, pins are revoked */
#define PGDAX_DEV_PATH_MAX	1024

struct pgdax_ioc_info {
	uint32_t version;		/* out: PGDAX_IOC_VERSION of the daemon */
	uint32_t flags;			/* out: PGDAX_INFO_* */
	uint64_t dev_size;		/* out: bytes */
	uint64_t dev_align;		/* out: mapping alignment (4K/2M/1G) */
	uint64_t block_size;		/* out: filesystem block (page) size */
	uint64_t ino;			/* out: inode the ioctl was issued on */
	uint64_t reserved[3];
	char dev_path[PGDAX_DEV_PATH_MAX]; /* out: NUL-terminated device path */
};

/* PIN: take one reference per extent of a file range. */
#define PGDAX_PIN_WRITE		(1u << 0)	/* writable: needs O_RDWR/O_WRONLY */
/* with WRITE: grow the file to offset+length (else a writable range past
 * the block holding EOF is -ENXIO and the size never changes) */
#define PGDAX_PIN_EXTEND	(1u << 1)
#define PGDAX_PIN_FLAGS		(PGDAX_PIN_WRITE | PGDAX_PIN_EXTEND)

struct pgdax_ioc_pin {
	uint64_t offset;		/* in: file offset */
	uint64_t length;		/* in: bytes, > 0 */
	uint32_t flags;			/* in: PGDAX_PIN_* */
	uint32_t reserved0;		/* in: 0 */
	uint64_t pin_id;		/* out: handle for PIN_EXTENTS / UNPIN */
	uint64_t map_offset;		/* out: file offset of the pinned range (aligned down) */
	uint64_t map_length;		/* out: its length (multiple of dev_align) */
	uint32_t nr_extents;		/* out: extents covering [map_offset, +map_length) */
	uint32_t reserved1;		/* out: 0 */
	uint64_t reserved[2];		/* in: 0 */
};

/* One extent of a pin. Holes only appear in read-only pins. */
#define PGDAX_EXTENT_HOLE	(1u << 0)	/* no device memory: reads as zeros */

struct pgdax_ioc_extent {
	uint64_t file_off;		/* multiple of dev_align */
	uint64_t dev_off;		/* multiple of dev_align; 0 for a hole */
	uint64_t len;			/* multiple of dev_align */
	uint32_t flags;			/* PGDAX_EXTENT_* */
	uint32_t reserved;
};

#define PGDAX_IOC_EXTENTS_BATCH	64

struct pgdax_ioc_pin_extents {
	uint64_t pin_id;		/* in */
	uint32_t cursor;		/* in: index of the first extent wanted */
	uint32_t count;			/* out: extents filled */
	uint32_t next;			/* out: cursor of the next batch; == nr_extents at the end */
	uint32_t reserved0;		/* in: 0 */
	uint64_t reserved[2];		/* in: 0 */
	struct pgdax_ioc_extent ext[PGDAX_IOC_EXTENTS_BATCH];
};

struct pgdax_ioc_unpin {
	uint64_t pin_id;
	uint64_t reserved[3];		/* 0 */
};

/* SYNC: make a file range written through DAX visible to read(2). */
struct pgdax_ioc_sync {
	uint64_t offset;
	uint64_t length;		/* 0 = to the end of the file */
	uint32_t flags;			/* 0 */
	uint32_t reserved0;
	uint64_t reserved[2];
};

/* STATUS (on the mount root): counters, then holders through a cursor. */
struct pgdax_ioc_holder {
	int32_t pid;			/* process that took the pins (at pin time) */
	uint32_t pins;			/* pins held through this open file */
	uint64_t ino;			/* file */
	uint64_t extents;		/* extent references held */
	uint64_t bytes;			/* bytes pinned */
};

#define PGDAX_IOC_HOLDERS_BATCH	64

/* How the daemon gets its requests (pgdax_ioc_status.transport). */
#define PGDAX_TRANSPORT_DEV_FUSE	1	/* read(2) from /dev/fuse */
#define PGDAX_TRANSPORT_IO_URING	2	/* FUSE-over-io_uring */

struct pgdax_ioc_status {
	uint32_t cursor;		/* in: index of the first holder wanted */
	uint32_t reserved0;		/* in: 0 */
	uint64_t reserved_in[2];	/* in: 0 */

	uint32_t version;		/* out: PGDAX_IOC_VERSION */
	int32_t daemon_pid;		/* out */
	int32_t pgmap_state;		/* out: 0 live, 1 dying, 2 drained, 3 released */
	uint32_t flags;			/* out: PGDAX_INFO_* */
	uint64_t dev_size, dev_align, block_size;
	uint64_t blocks, free_blocks;
	uint64_t inodes, free_inodes;
	uint64_t active_extents;	/* extents with refcount > 0 */
	uint64_t inflight_io;		/* transient I/O references */
	uint64_t pins, pinned_extents;
	uint64_t orphans;
	uint64_t quarantined_pages;
	int64_t live_count;		/* pgmap live reference */
	uint64_t breaking;		/* ranges whose layout is being broken */
	uint64_t pins_granted;		/* pins taken since mount (cumulative) */
	uint64_t pins_dropped;		/* pins ended since mount: unpin or release */
	uint64_t stalled_reclaims;	/* unlinked inodes whose freeing waits long
					 * for extents still referenced (daemon log
					 * names them) */
	uint32_t transport;		/* out: PGDAX_TRANSPORT_* of this request
					 * (0: a daemon that does not say) */
	uint32_t reserved_out1;
	char dev_path[PGDAX_DEV_PATH_MAX];
	char dead_reason[320];		/* out: why, with PGDAX_INFO_DEAD */

	uint32_t nr_holders;		/* out: total */
	uint32_t count;			/* out: filled in this batch */
	uint32_t next;			/* out: cursor of the next batch */
	uint32_t reserved1;
	struct pgdax_ioc_holder holders[PGDAX_IOC_HOLDERS_BATCH];
};

/*
 * DRAIN (on the mount root): the unmount in progress ("block new, drain
 * old", DESIGN.md section 4), and the way back from it. With flags 0 it
 * only reports; with PGDAX_DRAIN_CANCEL it ends teardown phase 1 (new
 * opens and pins are served again) if the drain has not passed the point
 * of no return (phase 1 saw no handle left and the pgmap is being killed):
 * then -EBUSY. Cancel needs the daemon's uid or root (-EPERM, as for the
 * SIGTERM that started it); no drain in progress is -ENOENT.
 */
#define PGDAX_DRAIN_CANCEL	(1u << 0)	/* in */
#define PGDAX_DRAIN_NONE	0	/* serving */
#define PGDAX_DRAIN_DRAINING	1	/* phase 1: new opens fail, cancellable */
#define PGDAX_DRAIN_FINAL	2	/* past the point of no return */
#define PGDAX_DRAIN_PIDS	32

struct pgdax_ioc_drain {
	uint32_t flags;			/* in: 0 or PGDAX_DRAIN_CANCEL */
	uint32_t state;			/* out: PGDAX_DRAIN_* (after a cancel: NONE) */
	int64_t since;			/* out: time(2) when the drain began; 0 none */
	uint64_t handles;		/* out: open handles holding it up */
	uint32_t npids;			/* out: distinct processes that opened them */
	uint32_t reserved0;		/* 0 */
	int32_t pids[PGDAX_DRAIN_PIDS];	/* out: the first npids of them */
	char by[96];			/* out: who asked ("SIGTERM from pid 12 (pgdaxctl)") */
	uint64_t reserved[2];		/* in: 0 */
};

/*
 * REMOUNT (on the mount root, by root only): the daemon's half of
 * `mount -o remount,ro|rw` (the kernel's FUSE does not tell the daemon of a
 * remount; pgdaxctl remount sends this next to mount(2) MS_REMOUNT).
 * Read-only: -EBUSY while a file is open for writing; from then on every
 * modifying request fails with EROFS. Read-write: -EROFS when the volume
 * itself was mounted read-only (its device is mapped read-only).
 */
#define PGDAX_REMOUNT_RDONLY	(1u << 0)
#define PGDAX_REMOUNT_FLAGS	PGDAX_REMOUNT_RDONLY

struct pgdax_ioc_remount {
	uint32_t flags;			/* in: PGDAX_REMOUNT_* */
	uint32_t reserved0;		/* in: 0 */
	uint64_t reserved[3];		/* in: 0 */
};

#define PGDAX_IOC_INFO		_IOR(PGDAX_IOC_MAGIC, 1, struct pgdax_ioc_info)
#define PGDAX_IOC_PIN		_IOWR(PGDAX_IOC_MAGIC, 2, struct pgdax_ioc_pin)
#define PGDAX_IOC_PIN_EXTENTS	_IOWR(PGDAX_IOC_MAGIC, 3, struct pgdax_ioc_pin_extents)
#define PGDAX_IOC_UNPIN		_IOW(PGDAX_IOC_MAGIC, 4, struct pgdax_ioc_unpin)
#define PGDAX_IOC_SYNC		_IOW(PGDAX_IOC_MAGIC, 5, struct pgdax_ioc_sync)
#define PGDAX_IOC_STATUS	_IOWR(PGDAX_IOC_MAGIC, 6, struct pgdax_ioc_status)
#define PGDAX_IOC_DRAIN		_IOWR(PGDAX_IOC_MAGIC, 7, struct pgdax_ioc_drain)
#define PGDAX_IOC_REMOUNT	_IOW(PGDAX_IOC_MAGIC, 8, struct pgdax_ioc_remount)

/* The size field of an ioctl number has 14 bits. */
_Static_assert(sizeof(struct pgdax_ioc_info) == 1088, "info layout");
_Static_assert(sizeof(struct pgdax_ioc_pin) == 72, "pin layout");
_Static_assert(sizeof(struct pgdax_ioc_extent) == 32, "extent layout");
_Static_assert(sizeof(struct pgdax_ioc_pin_extents) == 40 + 64 * 32, "pin_extents layout");
_Static_assert(sizeof(struct pgdax_ioc_unpin) == 32, "unpin layout");
_Static_assert(sizeof(struct pgdax_ioc_sync) == 40, "sync layout");
_Static_assert(sizeof(struct pgdax_ioc_holder) == 32, "holder layout");
_Static_assert(sizeof(struct pgdax_ioc_drain) == 32 + 4 * 32 + 96 + 16, "drain layout");
_Static_assert(sizeof(struct pgdax_ioc_remount) == 32, "remount layout");
_Static_assert(sizeof(struct pgdax_ioc_status) < (1 << 14), "status fits an ioctl number");

#endif /* PGDAX_IOCTL_H */
