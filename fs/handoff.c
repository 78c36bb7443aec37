/* SPDX-License-Identifier: MIT */
/*
 * With FUSE-over-io_uring, the handlers of the requests that may wait for
 * another request hand themselves to the worker pool (fs/loop.c, "io_uring",
 * says why): a ring thread serves every request of its CPU's queue inline
 * and must never wait for one, or the UNPIN, RELEASE or WRITE that would end
 * the wait could queue behind it on the same ring.
 *
 * The requests, and their lanes, are fs/reqclass.c's classes: SETATTR with a
 * size, OPEN with O_TRUNC and FALLOCATE may wait until a client acts
 * (FS_REQ_MAY_WAIT); the PIN and SYNC ioctls wait briefly
 * (FS_REQ_WAITS_BRIEFLY). Each wrapper copies what libfuse passed on its
 * stack (struct stat, struct fuse_file_info, the ioctl input) into a call
 * record; the worker calls the real handler with it, which replies from
 * there. Over /dev/fuse the receivers have handed the raw request to the pool
 * already, and fs_loop_handoff() declines: the handler runs where it is.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "ioctl.h"
#include "loop.h"
#include "pin/pgdax_ioctl.h"

static struct fuse_lowlevel_ops real;	/* the wrapped handlers (fs_ops') */

__thread bool fs_nocancel;		/* fs.h, fs_of */

/* Only a request that came over a ring is handed off here. */
static bool on_ring(fuse_req_t req)
{
#ifdef PGDAX_HAVE_FUSE_URING
	return fuse_req_is_uring(req);
#else
	(void)req;
	return false;
#endif
}

struct call {
	fuse_req_t req;
	fuse_ino_t ino;
	struct fuse_file_info fi;
	bool has_fi;
	struct stat attr;		/* setattr */
	int valid;			/* setattr */
	int mode;			/* fallocate */
	off_t offset, length;		/* fallocate */
	unsigned int cmd;		/* ioctl */
	void *arg;			/* ioctl (the caller's address) */
	unsigned flags;			/* ioctl */
	size_t in_bufsz, out_bufsz;	/* ioctl */
	char in_buf[];			/* ioctl */
};

static struct call *call_new(fuse_req_t req, fuse_ino_t ino, const struct fuse_file_info *fi,
			     size_t extra)
{
	struct call *c = calloc(1, sizeof(*c) + extra);

	if (!c)
		return NULL;
	c->req = req;
	c->ino = ino;
	if (fi) {
		c->fi = *fi;
		c->has_fi = true;
	}
	return c;
}

static struct fuse_file_info *call_fi(struct call *c)
{
	return c->has_fi ? &c->fi : NULL;
}

/* Hand @c to the pool; false: serve it here (and @c is freed). */
static bool hand_off(struct call *c, enum fs_req_class cls, void (*run)(void *))
{
	if (fs_loop_handoff(c->req, cls, run, c) == 0)
		return true;
	free(c);
	return false;
}

static void setattr_run(void *arg)
{
	struct call *c = arg;

	real.setattr(c->req, c->ino, &c->attr, c->valid, call_fi(c));
	free(c);
}

static void h_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		      struct fuse_file_info *fi)
{
	struct call *c;

	if ((valid & FUSE_SET_ATTR_SIZE) && on_ring(req) && (c = call_new(req, ino, fi, 0))) {
		c->attr = *attr;
		c->valid = valid;
		if (hand_off(c, FS_REQ_MAY_WAIT, setattr_run))
			return;
	}
	real.setattr(req, ino, attr, valid, fi);
}

static void open_run(void *arg)
{
	struct call *c = arg;

	real.open(c->req, c->ino, &c->fi);
	free(c);
}

static void h_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct call *c;

	if ((fi->flags & O_TRUNC) && on_ring(req) && (c = call_new(req, ino, fi, 0)) &&
	    hand_off(c, FS_REQ_MAY_WAIT, open_run))
		return;
	real.open(req, ino, fi);
}

static void fallocate_run(void *arg)
{
	struct call *c = arg;

	real.fallocate(c->req, c->ino, c->mode, c->offset, c->length, call_fi(c));
	free(c);
}

static void h_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			struct fuse_file_info *fi)
{
	struct call *c;

	if (on_ring(req) && (c = call_new(req, ino, fi, 0))) {
		c->mode = mode;
		c->offset = offset;
		c->length = length;
		if (hand_off(c, FS_REQ_MAY_WAIT, fallocate_run))
			return;
	}
	real.fallocate(req, ino, mode, offset, length, fi);
}

static void ioctl_run(void *arg)
{
	struct call *c = arg;

	real.ioctl(c->req, c->ino, c->cmd, c->arg, call_fi(c), c->flags,
		   c->in_bufsz ? c->in_buf : NULL, c->in_bufsz, c->out_bufsz);
	free(c);
}

static void h_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		    struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		    size_t in_bufsz, size_t out_bufsz)
{
	struct call *c;

	if ((cmd == (unsigned int)PGDAX_IOC_PIN || cmd == (unsigned int)PGDAX_IOC_SYNC) &&
	    (in_buf || !in_bufsz) && on_ring(req) && (c = call_new(req, ino, fi, in_bufsz))) {
		c->cmd = cmd;
		c->arg = arg;
		c->flags = flags;
		c->in_bufsz = in_bufsz;
		c->out_bufsz = out_bufsz;
		if (in_bufsz)
			memcpy(c->in_buf, in_buf, in_bufsz);
		if (hand_off(c, FS_REQ_WAITS_BRIEFLY, ioctl_run))
			return;
	}
	real.ioctl(req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz);
}

void fs_handoff_wrap(struct fuse_lowlevel_ops *ops)
{
	real = *ops;
	ops->setattr = h_setattr;
	ops->open = h_open;
	ops->fallocate = h_fallocate;
	ops->ioctl = h_ioctl;
}
