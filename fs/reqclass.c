/* SPDX-License-Identifier: MIT */
/*
 * Which raw FUSE requests may wait for long (fs/loop.c hands those to the
 * worker pool before libfuse parses them). Only this file includes the
 * kernel's <linux/fuse.h>: libfuse's public headers define some of the same
 * macros (FUSE_IOCTL_*), so the two are kept apart.
 *
 * May wait: anything that can reach a layout break or a pgmap wait in lib/
 * (truncate/punch wait for pinned extents, bounded by break_timeout and
 * interruptible; pins may relayout and wait for in-flight I/O):
 *   SETATTR with a size, OPEN with O_TRUNC (FUSE_CAP_ATOMIC_O_TRUNC),
 *   FALLOCATE, IOCTL (pin, unpin, sync: the SYNC handler also invalidates
 *   the kernel's pages, which may wait for WRITEs of dirty mmap pages that
 *   other threads must serve).
 * Everything else completes without waiting on another request.
 */
#include <config.h>

#include <fcntl.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

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
	case FUSE_INTERRUPT:
		return FS_REQ_INTERRUPT;
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
	case FUSE_IOCTL:
		return FS_REQ_MAY_WAIT;
	default:
		return FS_REQ_FAST;
	}
}
