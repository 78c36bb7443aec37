/* SPDX-License-Identifier: MIT */
/*
 * pgdaxfs daemon: shared state of the FUSE layer (fs/). The daemon is a thin
 * layer over lib/vol.h: it owns no filesystem state except what the kernel
 * protocol itself needs to be undone at teardown (lookup counts handed to the
 * kernel, open file handles), so that when the kernel drops the connection
 * without sending FORGET/RELEASE (umount -l, then the last user goes) every
 * reference can still be returned to the volume before it is released.
 *
 * Lock order: fs.lock is a leaf: nothing is called into lib/ while holding it
 * (except at teardown, when the session loop has stopped and no other thread
 * serves requests).
 */
#ifndef PGDAX_FS_H
#define PGDAX_FS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vol.h"

/* Kernel cache lifetimes (seconds). Every change to the filesystem goes
 * through this one kernel mount (single host, one daemon), and the kernel
 * updates or drops its own dentries/attributes on each change it makes, so a
 * short positive timeout is safe; DAX stores never change a size or a name.
 * Negative lookups are not cached (0) so a name created by another path
 * (none today, but cheap insurance) is seen at once. */
#define FS_ENTRY_TIMEOUT	1.0
#define FS_ATTR_TIMEOUT		1.0
#define FS_NEGATIVE_TIMEOUT	0.0

/* Largest read/write request (also conn->max_write and -o max_read). */
#define FS_MAX_IO		(1u << 20)

enum fs_drain_action {
	FS_DRAIN_WAIT = 0,	/* keep waiting after the report (default) */
	FS_DRAIN_EXIT = 1,	/* exit without releasing: next mount recovers */
};

struct fs_opts {
	const char *device;		/* as given (resolved to a path when it is one) */
	const char *mountpoint;		/* absolute */
	bool foreground;
	bool debug;
	bool allow_other;
	bool ro;
	int break_timeout_ms;		/* -1 forever */
	int drain_timeout_s;		/* report (and act) after this long */
	enum fs_drain_action drain_action;
	uint64_t align;			/* emulated device alignment override, 0 none */
	unsigned max_threads;
	unsigned max_idle_threads;
	int log_level;			/* -1: leave the library default */
	char fuse_opts[4096];		/* comma list passed to fuse_session_new */
};

/* An open regular file (fi->fh). */
struct fs_file {
	struct pgdax_vol_file *vf;
	uint64_t ino;
	pid_t pid;			/* who opened it (for drain reports) */
	struct fs_file *prev, *next;	/* fs.files; fs.lock */
};

struct fs {
	struct pgdax_vol *vol;
	struct fuse_session *se;
	struct fs_opts opts;

	/* Set once teardown has called pgdax_vol_kill(): new opens, creates
	 * and namespace creations fail with ENXIO (the pgmap's own errno). */
	atomic_bool dying;

	pthread_mutex_t lock;		/* protects files and the icount table */
	struct fs_file files;		/* list head of open files */
	uint64_t nfiles;
	struct fs_icount *icount;	/* lookup counts held by the kernel */

	/* readiness: fs_init writes one byte here (mount helper/daemonize) */
	int ready_fd;
	bool background;		/* switch logging to syslog when ready */
};

/* The filesystem of a request (fuse_req_userdata). */
static inline struct fs *fs_of(fuse_req_t req)
{
	return (struct fs *)fuse_req_userdata(req);
}

/* The open file behind fi->fh (never NULL for a file opened by fs_open/fs_create). */
static inline struct fs_file *fs_file_of(const struct fuse_file_info *fi)
{
	return (struct fs_file *)(uintptr_t)fi->fh;
}

/* Caller credentials of @req; the returned struct refers to @req for
 * interruption, so it lives no longer than the request. */
void fs_cred(fuse_req_t req, struct pgdax_cred *cred);

extern const struct fuse_lowlevel_ops fs_ops;

/* main.c: called once by the INIT handler: the mount is up and serving. */
void fs_ready(struct fs *fs);

/* handles.c: lookup counts and open files, for teardown */
int fs_handles_init(struct fs *fs);
void fs_handles_fini(struct fs *fs);
/* The kernel now holds @n more (or, with fs_icount_sub, fewer) lookups of @ino. */
void fs_icount_add(struct fs *fs, uint64_t ino, uint64_t n);
void fs_icount_sub(struct fs *fs, uint64_t ino, uint64_t n);
void fs_file_link(struct fs *fs, struct fs_file *f);
void fs_file_unlink(struct fs *fs, struct fs_file *f);
/* Teardown, with the session loop stopped: release every open file and drop
 * every lookup the kernel still held. Returns how many of each. */
void fs_handles_drop_all(struct fs *fs, uint64_t *files, uint64_t *inodes);
/* Log the open files (ino, opener pid) for a drain report. */
void fs_handles_report(struct fs *fs);

#endif /* PGDAX_FS_H */
