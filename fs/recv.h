/* SPDX-License-Identifier: MIT */
/*
 * Request buffers of the session loop and how a request is read into one
 * (fs/recv.c): a WRITE's payload goes straight into device memory.
 */
#ifndef PGDAX_FS_RECV_H
#define PGDAX_FS_RECV_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>

#include "vol.h"

struct fs;

struct fs_reqbuf {
	struct fuse_buf buf;		/* header and arguments (mem: malloc'ed) */
	struct pgdax_vol_stage stage;	/* device memory for a WRITE payload, or none */
	size_t staged;			/* payload bytes of this request in the stage */
};

/*
 * Read the next request into @rb, staging a WRITE's payload when @stage
 * (the buffer takes or gives back its stage as the device's free space
 * allows). Same returns as fuse_session_receive_buf.
 */
int fs_recv(struct fuse_session *se, struct fs *fs, struct fs_reqbuf *rb, bool stage);
/* Serve the request in @rb on this thread (fuse_session_process_buf). */
void fs_reqbuf_serve(struct fuse_session *se, struct fs_reqbuf *rb);
/* For fs_write: the stage holding @payload if it is the staged payload of
 * the request this thread is serving, else NULL. */
struct pgdax_vol_stage *fs_staged_payload(const void *payload, size_t size);
/* Give back the stage and free the buffer. */
void fs_reqbuf_release(struct fs *fs, struct fs_reqbuf *rb);

#endif /* PGDAX_FS_RECV_H */
