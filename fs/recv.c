/* SPDX-License-Identifier: MIT */
/*
 * Reading one request from /dev/fuse, a WRITE's payload straight into
 * device memory (lib/stage.c says why: one copy instead of two).
 *
 * The read is a readv of three parts: the first WRITE_HDR bytes (the
 * header and, for a WRITE, struct fuse_write_in) into the request buffer,
 * then the buffer's stage (free device blocks), then the rest of the
 * buffer. The kernel fills them in order, so a WRITE's payload lands whole
 * in the stage, page-aligned; any other request is moved back behind its
 * header so libfuse sees it contiguous, as from a plain read (a few bytes:
 * only WRITE carries large arguments).
 *
 * libfuse then parses the request as usual and calls fs_write with a
 * pointer just past the header, where the payload would have been;
 * fs_staged_payload() recognizes that pointer as the request being served
 * on this thread and returns its stage instead. Whoever serves a request
 * (a receiver, or a worker it was handed to with its buffer) does so
 * through fs_reqbuf_serve, which records it for that.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "loop.h"
#include "recv.h"

#define WRITE_HDR	FS_REQ_WRITE_HDR

_Static_assert(PGDAX_STAGE_BYTES == FS_MAX_IO, "a stage holds the largest WRITE");

static __thread const struct fs_reqbuf *serving;

/* libfuse's largest buffer (FUSE_MAX_MAX_PAGES pages + header room): what
 * fuse_session_receive_buf may read into a buffer it did not allocate. */
static size_t reqbuf_size(void)
{
	return 256 * (size_t)sysconf(_SC_PAGESIZE) + 4096;
}

/* Give the buffer a stage if it may hold one; give it back once the
 * device has no room to spare. */
static void stage_update(struct fs *fs, struct fs_reqbuf *rb)
{
	if (rb->stage.addr) {
		if (!pgdax_vol_stage_keep(fs->vol))
			pgdax_vol_stage_put(fs->vol, &rb->stage);
		return;
	}
	if (pgdax_vol_stage_get(fs->vol, &rb->stage))
		memset(&rb->stage, 0, sizeof(rb->stage));
}

/* fuse_session_receive_buf's plain read, with the payload in the stage. */
static int recv_staged(struct fuse_session *se, struct fs_reqbuf *rb)
{
	char *mem = rb->buf.mem;
	struct iovec iov[3] = {
		{ mem, WRITE_HDR },
		{ rb->stage.addr, rb->stage.len },
		{ mem + WRITE_HDR + rb->stage.len, FS_MAX_IO + 4096 - WRITE_HDR - rb->stage.len },
	};
	ssize_t n;

	do
		n = readv(fuse_session_fd(se), iov, 3);
	while (n < 0 && errno == ENOENT);	/* interrupted request: next one */
	if (fuse_session_exited(se))
		return 0;
	if (n < 0) {
		int err = errno;

		if (err == ENODEV) {	/* unmounted, or aborted via fusectl */
			fuse_session_exit(se);
			return 0;
		}
		if (err != EINTR && err != EAGAIN)
			pgdax_err("reading /dev/fuse: %s", strerror(err));
		return -err;
	}
	if ((size_t)n < FS_REQ_MIN) {
		pgdax_err("short read from /dev/fuse (%zd bytes)", n);
		return -EIO;
	}
	rb->buf.size = (size_t)n;
	rb->buf.flags = 0;
	if ((size_t)n <= WRITE_HDR)
		return (int)n;
	if (fs_req_is_write(mem, (size_t)n)) {
		rb->staged = (size_t)n - WRITE_HDR;
		return (int)n;
	}
	memcpy(mem + WRITE_HDR, rb->stage.addr,
	       (size_t)n - WRITE_HDR < rb->stage.len ? (size_t)n - WRITE_HDR : rb->stage.len);
	return (int)n;
}

int fs_recv(struct fuse_session *se, struct fs *fs, struct fs_reqbuf *rb, bool stage)
{
	rb->staged = 0;
	if (stage)
		stage_update(fs, rb);
	else if (rb->stage.addr)
		pgdax_vol_stage_put(fs->vol, &rb->stage);
	if (!rb->stage.addr)
		return fuse_session_receive_buf(se, &rb->buf);
	if (!rb->buf.mem) {
		rb->buf.mem = malloc(reqbuf_size());
		if (!rb->buf.mem)
			return -ENOMEM;
	}
	return recv_staged(se, rb);
}

void fs_reqbuf_serve(struct fuse_session *se, struct fs_reqbuf *rb)
{
	serving = rb;
	fuse_session_process_buf(se, &rb->buf);
	serving = NULL;
}

struct pgdax_vol_stage *fs_staged_payload(const void *payload, size_t size)
{
	const struct fs_reqbuf *rb = serving;

	if (!rb || !rb->staged || rb->staged != size ||
	    payload != (const char *)rb->buf.mem + WRITE_HDR)
		return NULL;
	return (struct pgdax_vol_stage *)&rb->stage;
}

void fs_reqbuf_release(struct fs *fs, struct fs_reqbuf *rb)
{
	if (rb->stage.addr)
		pgdax_vol_stage_put(fs->vol, &rb->stage);
	free(rb->buf.mem);
	rb->buf.mem = NULL;
}
