/* SPDX-License-Identifier: MIT */
/*
 * Which raw FUSE requests may wait for another request (fs/loop.c hands
 * those to the worker pool before libfuse parses them; it serves every
 * other one on the receiving thread). Only this file includes the kernel's
 * <linux/fuse.h>: libfuse's public headers define some of the same macros
 * (FUSE_IOCTL_*), so the two are kept apart.
 *
 * May wait until a client acts (FS_REQ_MAY_WAIT): SETATTR with a size,
 *   OPEN with O_TRUNC (FUSE_CAP_ATOMIC_O_TRUNC), FALLOCATE: a truncate,
 *   punch-hole or zero-range waits for pinned extents until their holder
 *   unpins or closes (bounded by break_timeout, interruptible).
 * Waits briefly (FS_REQ_WAITS_BRIEFLY): the waits end without any client
 *   acting, once requests that are served inline anyway are:
 *   - IOCTL PGDAX_IOC_PIN: may relayout, waiting briefly for in-flight I/O
 *     under the inode lock, and invalidates the kernel's pages after the
 *     reply;
 *   - IOCTL PGDAX_IOC_SYNC: its page invalidation, before the reply, may
 *     wait for WRITEs of dirty mmap pages (the kernel launders them).
 *   fs/loop.c keeps them apart from the first kind: a client may need its
 *   SYNC served before it can unpin (pgdax_unmap).
 * The ioctl command is read from the raw fuse_ioctl_in.
 * Everything else is FS_REQ_FAST: GETATTR, LOOKUP, READ, WRITE, RELEASE,
 * FORGET, INTERRUPT, the UNPIN, PIN_EXTENTS, INFO and STATUS ioctls, an
 * unknown ioctl (ENOTTY at once): each takes only locks that nobody holds
 * while waiting for another request (lib/vol/vol_internal.h), so it
 * completes on its own. A malformed request is FAST too: libfuse rejects
 * it.
 */
#include <config.h>

#include <fcntl.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>

#include "loop.h"
#include "pin/pgdax_ioctl.h"

static bool has(size_t size, size_t arg)
{
	return size >= sizeof(struct fuse_in_header) + arg;
}

bool fs_req_is_async(const void *mem, size_t size)
{
	const struct fuse_in_header *h = mem;

	if (!mem || size < sizeof(*h))
		return false;
	switch (h->opcode) {
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_INTERRUPT:
		return true;
	default:
		return false;
	}
}

bool fs_req_interrupt_target(const void *mem, size_t size, uint64_t *unique)
{
	const struct fuse_in_header *h = mem;

	if (!mem || !has(size, sizeof(struct fuse_interrupt_in)) || h->opcode != FUSE_INTERRUPT)
		return false;
	*unique = ((const struct fuse_interrupt_in *)(h + 1))->unique;
	return true;
}

bool fs_req_is_init(const void *mem, size_t size)
{
	const struct fuse_in_header *h = mem;

	return mem && size >= sizeof(*h) && h->opcode == FUSE_INIT;
}

enum fs_req_class fs_req_classify(const void *mem, size_t size)
{
	const struct fuse_in_header *h = mem;
	const void *arg = h + 1;

	if (!mem || size < sizeof(*h))
		return FS_REQ_FAST;	/* libfuse rejects it */
	switch (h->opcode) {
	case FUSE_SETATTR:
		if (!has(size, sizeof(struct fuse_setattr_in)))
			return FS_REQ_FAST;
		return (((const struct fuse_setattr_in *)arg)->valid & FATTR_SIZE) ?
			FS_REQ_MAY_WAIT : FS_REQ_FAST;
	case FUSE_OPEN:
		if (!has(size, sizeof(struct fuse_open_in)))
			return FS_REQ_FAST;
		return (((const struct fuse_open_in *)arg)->flags & O_TRUNC) ?
			FS_REQ_MAY_WAIT : FS_REQ_FAST;
	case FUSE_FALLOCATE:
		return FS_REQ_MAY_WAIT;
	case FUSE_IOCTL:
		if (!has(size, sizeof(struct fuse_ioctl_in)))
			return FS_REQ_FAST;
		switch (((const struct fuse_ioctl_in *)arg)->cmd) {
		case (uint32_t)PGDAX_IOC_PIN:
		case (uint32_t)PGDAX_IOC_SYNC:
			return FS_REQ_WAITS_BRIEFLY;
		default:
			return FS_REQ_FAST;
		}
	default:
		return FS_REQ_FAST;
	}
}
