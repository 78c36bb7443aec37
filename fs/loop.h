/* SPDX-License-Identifier: MIT */
/*
 * The daemon's FUSE session loop (fs/loop.c) and the request classifier it
 * uses (fs/reqclass.c).
 */
#ifndef PGDAX_FS_LOOP_H
#define PGDAX_FS_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fs;
struct fuse_req;	/* fuse_req_t (no libfuse header here: fs/reqclass.c) */

#define FS_MAX_RECEIVERS 16

enum fs_req_class {
	FS_REQ_FAST,		/* never waits for another request: served inline */
	FS_REQ_MAY_WAIT,	/* may wait until a client acts (layout breaks) */
	FS_REQ_WAITS_BRIEFLY,	/* waits for requests that are served anyway
				 * (pin: I/O in flight; sync: kernel WRITEs) */
};

/* Classify the raw request in @mem (as read from /dev/fuse). */
enum fs_req_class fs_req_classify(const void *mem, size_t size);

/* Whether the raw request in @mem is one its sender does not wait for
 * (FORGET, BATCH_FORGET, RELEASE, RELEASEDIR, INTERRUPT). */
bool fs_req_is_async(const void *mem, size_t size);

/* Whether the raw request in @mem is FUSE_INIT. */
bool fs_req_is_init(const void *mem, size_t size);

/* Whether the raw request in @mem is FUSE_INTERRUPT; *unique gets the id of
 * the request it interrupts. */
bool fs_req_interrupt_target(const void *mem, size_t size, uint64_t *unique);

/*
 * io_uring (fs/loop.c "io_uring" says why): called by the handler of a
 * request of class @c (the classes of fs_req_classify) on a ring thread:
 * runs @fn(@arg) on the pool's lane for @c, where @fn calls the handler
 * again (which then serves it: a request runs on one worker, once). 0, or
 * -EAGAIN and nothing was done: the request did not arrive over a ring, is
 * on a worker already, is FS_REQ_FAST, or no worker can take it (the
 * caller serves it itself).
 */
int fs_loop_handoff(struct fuse_req *req, enum fs_req_class c, void (*fn)(void *arg), void *arg);

/* Whether an INTERRUPT has come for @req, handed off by fs_loop_handoff and
 * running on this worker (libfuse's fuse_req_interrupted() does not see
 * those). */
bool fs_loop_req_interrupted(struct fuse_req *req);

/*
 * Run @fn(@arg) on a worker of the pool (the lane of brief waits), after
 * what is queued there: for
 * work a request served inline (on a receiver) would do after its reply
 * that may wait for another request (a page invalidation may wait for
 * WRITEs of dirty pages), which a receiver must never do (fs/loop.c says
 * why). Runs it at once when the loop has no pool (-o mt). 0, or -ENOMEM /
 * -EAGAIN (no worker can be started) and @fn was not called.
 */
int fs_loop_defer(struct fs *fs, void (*fn)(void *arg), void *arg);

/*
 * Serve the session until it exits (fuse_session_exit, or the kernel drops
 * the connection), then wait for every request still being served.
 * max_threads bounds the worker pool (and libfuse's loop with -o mt),
 * max_idle_threads how many idle workers stay. Returns 0 or a negative
 * errno (session error).
 */
int fs_loop_run(struct fs *fs);

#endif /* PGDAX_FS_LOOP_H */
