/* SPDX-License-Identifier: MIT */
/*
 * pgdaxfs daemon: shared state of the FUSE layer (fs/). The daemon is a thin
 * layer over lib/vol/vol.h: it owns no filesystem state except what the kernel
 * protocol itself needs to be undone at teardown (lookup counts handed to the
 * kernel, open file handles), so that when the kernel drops the connection
 * without sending FORGET/RELEASE (umount -l, then the last user goes) every
 * reference can still be returned to the volume before it is released.
 *
 * Lock order: fs.lock is a leaf: nothing is called into lib/ while holding it
 * (except at teardown, when the session loop has stopped and no other thread
 * serves requests). The worker pool's lock (loop.c) is a leaf too.
 */
#ifndef PGDAX_FS_H
#define PGDAX_FS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vol/vol.h"

/*
 * Kernel cache lifetimes (seconds). Long, because the kernel's caches
 * cannot go stale: this daemon is the only path to the volume (one host,
 * one daemon: the device is flock'ed), every change of a name or an
 * attribute comes through this one kernel mount, and the kernel updates or
 * drops its own dentries and attributes on each change it sends (create,
 * unlink, rename, link, setattr, write, fallocate, copy_file_range,
 * setxattr). The exceptions are changes the daemon makes on its own, and
 * each one invalidates the kernel's attributes itself
 * (fuse_lowlevel_notify_inval_inode, after the reply, holding no lock):
 * DAX clients' pins that allocate or extend a file and their syncs
 * (fs/ioctl.c), and setuid/setgid cleared by a direct-I/O write
 * (fs/ops.c). DAX stores change no name or size. Negative entries are
 * cached too: no name can appear except through this mount.
 * The cost of 1 s was a LOOKUP or GETATTR round trip for every path walk
 * more than a second after the last one (stat of 20k files: 43k/s).
 */
#define FS_ENTRY_TIMEOUT	30.0
#define FS_ATTR_TIMEOUT		30.0
#define FS_NEGATIVE_TIMEOUT	30.0

/* Largest read/write request (also conn->max_write and -o max_read). */
#define FS_MAX_IO		(1u << 20)

/* -o readahead=KIB (fs_initialized in daemon.c says why 4 MiB). */
#define FS_DEFAULT_READAHEAD_KB	4096
#define FS_MAX_READAHEAD_KB	(1 << 20)

/* io_uring: ring entries per CPU queue beyond two full lanes (fs/main.c). */
#define FS_URING_SPARE_ENTRIES	16

/* -o spin=US (fs/loop.c "Waiting for requests" says why). */
#define FS_DEFAULT_SPIN_US	50

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
	bool default_permissions;	/* the kernel checks too (no_default_permissions: not) */
	bool dev;			/* device nodes open (only with default_permissions) */
	bool dev_asked;			/* -o dev given */
	bool ro;
	int errors;			/* PGDAX_VOL_ERRORS_* (errors=) */
	int break_timeout_ms;		/* -1 forever */
	int drain_timeout_s;		/* report (and act) after this long */
	enum fs_drain_action drain_action;
	uint64_t align;			/* emulated device alignment override, 0 none */
	unsigned max_threads;		/* worker pool (or libfuse MT loop) bound */
	unsigned max_idle_threads;
	bool mt_loop;			/* -o mt: libfuse's multi-threaded loop */
	unsigned receivers;		/* threads reading /dev/fuse (fs/loop.c) */
	int readahead_kb;		/* bdi read_ahead_kb to set, -1 kernel's */
	bool break_notify;		/* serve FUSE_POLL (POLLPRI on layout breaks) */
	unsigned spin_us;		/* receivers busy-wait for the next request */
	int io_uring;			/* -o io_uring 1, no_io_uring 0, default -1:
					 * where the kernel allows it (fs_init) */
	int log_level;			/* -1: leave the library default */
	long dax_gid;			/* -o dax_group: gid for the emulated device, -1 none */
	int dax_mode;			/* -o dax_mode: its permission bits, -1 none */
	char *logfile;			/* -o logfile=: log here once serving */
	int atime;			/* PGDAX_ATIME_*: relatime (default),
					 * strictatime, noatime */
	bool nodiratime;		/* directories: no atime on listing */
	bool lazytime;			/* atime stored but not flushed */
	char fuse_opts[4096];		/* comma list passed to fuse_session_new */
};

/*
 * An open handle (fi->fh): a regular file (vf != NULL) or a directory (vf
 * NULL, dir set). Every handle counts in fs.nhandles until RELEASE /
 * RELEASEDIR, which is what teardown phase 1 waits for. Root-directory
 * opens that arrive while closing (pgdaxctl status) get no fs_file
 * (fi->fh = 0) and do not count.
 */
struct fs_file {
	struct pgdax_vol_file *vf;	/* NULL for a directory */
	uint64_t ino;
	pid_t pid;			/* who opened it (for drain reports) */
	bool dir;
	bool direct;			/* opened with FOPEN_DIRECT_IO */
	struct fs_file *prev, *next;	/* fs.files; fs.lock */
};

struct fs {
	struct pgdax_vol *vol;
	struct stat root_st;		/* the root at mount: served once dead */
	struct fuse_session *se;
	struct fs_opts opts;

	/* Teardown phase 1 ("block new"), set by fs_handles_close() and
	 * cleared only by fs_handles_cancel() (before the point of no
	 * return), both under fs.lock (read without it where a stale value
	 * is harmless: it only decides a request that raced the change):
	 * new opens, creates, namespace creations, opendir of anything but
	 * the root and new pins fail with ENXIO (the pgmap's own errno);
	 * everything on existing handles is served. */
	atomic_bool closing;
	/* Phase 2: pgdax_vol_kill() has been called (no new extent
	 * reference of any kind). Only after nhandles reached 0, or the
	 * kernel dropped the connection. */
	atomic_bool dying;

	pthread_mutex_t lock;		/* protects the fields below */
	pthread_cond_t idle_cond;	/* nhandles reached 0 or conn_gone */
	struct fs_file files;		/* list head of open handles */
	uint64_t nhandles;		/* linked handles + reservations */
	bool conn_gone;			/* the session loop has ended */
	/* The drain in progress (phase 1), for status and for the line that
	 * explains a refused open (fs_handles_refused). */
	struct timespec drain_since;	/* CLOCK_REALTIME of fs_handles_close() */
	char drain_by[96];		/* who asked: "SIGTERM from pid 12 (pgdaxctl)" */
	/* Past the point of no return: phase 1 saw closing with no handle
	 * left (or gave up, on_drain_timeout=exit); phase 2 kills the pgmap
	 * and a cancel fails with EBUSY. Never cleared. */
	bool committed;
	bool cancelled;			/* fs_handles_cancel() woke phase 1 */
	time_t refused_logged;		/* CLOCK_MONOTONIC s of the last refusal line */
	uint64_t refused_quiet;		/* refusals not logged since */
	struct fs_icount *icount;	/* lookup counts held by the kernel */

	/* the running session loop's pool (fs/loop.c, fs_loop_defer): set
	 * before its first thread starts, cleared after its last one ended */
	void *loop;
	/* INIT negotiated FUSE-over-io_uring (fs_init): requests come over
	 * libfuse's per-CPU rings (fs/loop.c, "io_uring") */
	atomic_bool uring;
	/* the kernel cannot drop all cached entries at once (no
	 * FUSE_NOTIFY_INC_EPOCH): negative entries are not cached (fs/ops.c) */
	atomic_bool no_epoch;

	/* mount -o remount,ro (fs/remount.c): every modifying request fails
	 * with EROFS while set; the volume underneath stays as mounted */
	atomic_bool remounted_ro;
	/* open regular-file handles that go through the page cache (not
	 * FOPEN_DIRECT_IO): while there are none, no page of any file can be
	 * (re)filled behind an O_DIRECT write (fs_write) */
	atomic_int nbuffered;

	/* readiness: fs_init writes one byte here (mount helper/daemonize) */
	int ready_fd;
	bool background;		/* switch logging to syslog when ready */
};

/* libfuse stops its io_uring threads with pthread_cancel (at the end of the
 * session, fs/loop.c): a handler cancelled halfway would leave its locks
 * held. They exit on their own once woken, so each thread that serves a
 * request turns cancellation off, once (fs_of, which every handler calls
 * first). */
extern __thread bool fs_nocancel;

/* The filesystem of a request (fuse_req_userdata). */
static inline struct fs *fs_of(fuse_req_t req)
{
	if (!fs_nocancel) {
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		fs_nocancel = true;
	}
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

/* handoff.c: with io_uring, the handlers of requests that may wait hand
 * themselves to the worker pool (fs/loop.c, "io_uring"); wraps them in
 * @ops (a copy of fs_ops). */
void fs_handoff_wrap(struct fuse_lowlevel_ops *ops);

/* Whether the daemon asks libfuse for io_uring (-o io_uring, or by
 * default when this build can keep truncate waits interruptible over it). */
bool fs_want_uring(const struct fs_opts *o);

/* options.c: the command line, checked before anything is touched */
extern const char *fs_prog;		/* program name for messages */
/* Parse argv into @o (defaults first); *fsname_out gets -o fsname= or
 * NULL. Returns 0, or -1 after printing why on stderr (with the usage when
 * an operand is missing; only running out of memory fails unexplained).
 * --help prints the help text on stdout and exits 0: it never returns. */
int fs_parse_args(int argc, char **argv, struct fs_opts *o, char ***fsname_out);
/* Rebuild o->fuse_opts as the kernel mount gets them (the options every
 * pgdaxfs mount has, then the user's pass-through ones). */
void fs_opts_for_kernel(struct fs_opts *o, const char *fsname);
/* DEVICE as the kernel will show it (absolute when it names a file or a
 * node, else as given: daxX.Y / namespaceX.Y); NULL on ENOMEM. */
char *fs_device_path(const char *dev);
/* Does @dev start with a pgdaxfs superblock magic? -1 when unreadable. */
int fs_device_has_magic(const char *dev);

/* access.c: apply -o dax_group/dax_mode to the emulated device file (a
 * device node is refused: udev owns it). 0, or -1 after saying why. */
int fs_device_grant(struct fs_opts *o);

/* daemon.c: the process */
/* Fork to the background; the parent exits with the byte fs_ready() writes
 * to *ready_fd (0 = serving). 0 in the child, -1 on failure. */
int fs_daemonize(int *ready_fd);
/* Called once by the INIT handler: the mount is up and serving. */
void fs_ready(struct fs *fs);
/* Called by the session loop once the INIT reply has been applied by the
 * kernel (settings the kernel would otherwise overwrite with what INIT
 * negotiated, such as the readahead window). */
void fs_initialized(struct fs *fs);
/* /run/pgdaxfs/MAJ_MIN.pid for the umount helper (best effort). */
void fs_pidfile_write(struct fs *fs);
void fs_pidfile_remove(void);

/* daemon.c: logging. Open -o logfile= (before daemonizing, so a bad path
 * is reported on the terminal): 0 or -1 after saying why. */
int fs_log_open(struct fs *fs);

/* remount.c: mount -o remount,ro|rw. Put the read-only gate in front of
 * every modifying operation of @ops and serve PGDAX_IOC_REMOUNT. */
void fs_remount_wrap(struct fuse_lowlevel_ops *ops);
/* Is the mount read-only now (mounted so, or remounted)? */
bool fs_is_ro(const struct fs *fs);

/* teardown.c: "block new, drain old" (the phases are described there) */
/* Block the stop signals in this and every later thread (before any
 * thread exists). 0 or -1. */
int fs_signals_block(void);
/* Start the thread that turns a stop signal into phase 1 and 2. 0 or -1. */
int fs_teardown_start(struct fs *fs);
/* After the session loop: release what the kernel held, kill, drain. */
void fs_teardown_finish(struct fs *fs, int loop_result);

/* handles.c: lookup counts and open files, for teardown */
int fs_handles_init(struct fs *fs);
void fs_handles_fini(struct fs *fs);
/*
 * Lookups the kernel holds (fs/handles.c says why counting must not fail
 * after the fact). Before an operation that gives the kernel @n lookups,
 * fs_icount_reserve(): 0, or -ENOMEM and the handler refuses the request
 * (ENOMEM) before doing anything. fs_icount_add() counts one lookup of @ino
 * and consumes one reservation (it cannot fail); reservations not used go
 * back with fs_icount_unreserve(). fs_icount_sub(): the kernel gave @n
 * back (FORGET); more than it held aborts.
 */
int fs_icount_reserve(struct fs *fs, uint64_t n);
void fs_icount_unreserve(struct fs *fs, uint64_t n);
void fs_icount_add(struct fs *fs, uint64_t ino);
void fs_icount_sub(struct fs *fs, uint64_t ino, uint64_t n);
/* Reserve a handle before opening: -ENXIO once closing (and the refusal
 * is explained in the log, naming @pid and @what: "open", "create"...). A
 * reservation becomes a handle with fs_file_link() or is undone with
 * fs_handle_unreserve(); a linked handle ends with fs_file_unlink(). */
int fs_handle_reserve(struct fs *fs, pid_t pid, const char *what);
void fs_handle_unreserve(struct fs *fs);
void fs_file_link(struct fs *fs, struct fs_file *f);
void fs_file_unlink(struct fs *fs, struct fs_file *f);
/* Teardown phase 1: from now on fs_handle_reserve() fails; @by says who
 * asked (for status and logs). Returns false if it was already closing. */
bool fs_handles_close(struct fs *fs, const char *by);
/* Wait (event-driven) until no handle is open, the session loop ended or
 * the drain was cancelled: 0 idle (and from then on committed: the point
 * of no return), 1 loop ended, 2 cancelled (serving again), -ETIMEDOUT
 * after @timeout_ms. */
int fs_handles_wait_idle(struct fs *fs, int timeout_ms);
/* Commit to phase 2 although handles are open (on_drain_timeout=exit):
 * false if the drain was cancelled meanwhile. */
bool fs_handles_commit(struct fs *fs);
/* End phase 1 and serve new opens again: 0, -EBUSY past the point of no
 * return (committed, or the connection is gone), -ENOENT not closing. */
int fs_handles_cancel(struct fs *fs);
/* The drain for PGDAX_IOC_DRAIN: state, since, handles, holder pids. */
struct pgdax_ioc_drain;
void fs_handles_drain_info(struct fs *fs, struct pgdax_ioc_drain *d);
/* Log why a new open/pin/create by @pid was refused with ENXIO (at most
 * one line a second). */
void fs_handles_refused(struct fs *fs, pid_t pid, const char *what);
/* The session loop has ended: wake fs_handles_wait_idle(). */
void fs_handles_conn_gone(struct fs *fs);
/* Teardown, with the session loop stopped: release every open file and drop
 * every lookup the kernel still held. Returns how many of each. */
void fs_handles_drop_all(struct fs *fs, uint64_t *files, uint64_t *inodes);
/* The inodes the kernel holds lookups of now, in a malloc'd array
 * (*inos NULL and 0 on ENOMEM). */
size_t fs_icount_snapshot(struct fs *fs, uint64_t **inos);
/* Log the open handles (ino, opener pid) for a drain report. */
void fs_handles_report(struct fs *fs);

#endif /* PGDAX_FS_H */
