/* SPDX-License-Identifier: MIT */
/*
 * pgdaxfs DEVICE MOUNTPOINT [-o opts] [-f] [-d] [--log-level LEVEL]
 *
 * Life cycle (DESIGN.md section 4, "block new, drain old"), one file a step:
 *  1. fs/options.c: parse and check every option before touching anything,
 *     so a bad option leaves nothing mounted.
 *  2. fs/daemon.c: unless -f, fork at once, before any thread exists; the
 *     parent exits with the child's verdict once INIT is answered.
 *  3. Here: mount the volume, create the FUSE session, mount it, run the
 *     session loop (fs/loop.c: receiving threads, a pool for requests that
 *     may wait; -o mt: libfuse's multi-threaded loop).
 *  4. fs/teardown.c: a stop signal blocks new opens (phase 1), waits for the
 *     open handles, kills and drains the pgmap (phase 2) and ends the loop;
 *     however the loop ended, fs_teardown_finish() releases what the kernel
 *     still held and drains.
 *  5. Here: unmount the session, release the volume (marked clean), exit;
 *     a umount helper waiting for this pid then knows the device is free.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <syslog.h>
#include <unistd.h>

#include "pin/pin.h"
#include "util/log.h"
#include "fs.h"
#include "loop.h"

/*
 * The mount point, absolute and a directory; @mnt gets PATH_MAX bytes.
 * A FUSE mount point whose daemon is gone (killed) is stale: every request
 * to it fails with ENOTCONN, but the kernel may still answer stat(2) from
 * attributes it cached (for FS_ATTR_TIMEOUT), so realpath() can succeed
 * and a new mount would be stacked on the dead one. statfs(2) is never
 * cached: it tells.
 */
static int check_mountpoint(const char *given, char *mnt)
{
	struct statfs sfs;
	struct stat st;

	if (!realpath(given, mnt) || (statfs(mnt, &sfs) < 0 && errno == ENOTCONN)) {
		if (errno == ENOTCONN)	/* a FUSE mount whose daemon is gone */
			fprintf(stderr, "%s: stale pgdaxfs mount at %s: run umount %s (or "
				"fusermount3 -u %s)\n", fs_prog, given, given, given);
		else
			fprintf(stderr, "%s: mount point %s: %s\n", fs_prog, given,
				strerror(errno));
		return -1;
	}
	if (stat(mnt, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: mount point %s is not a directory\n", fs_prog, mnt);
		return -1;
	}
	return 0;
}

/*
 * Errors the library reports (device too small, a directory, in use by
 * whom) are the true ones: mount_volume() adds its own line only when the
 * library said nothing, so a message never contradicts what it follows.
 */
static unsigned lib_errors;

static void count_errors_fn(int priority, const char *msg, void *arg)
{
	(void)arg;
	if (priority <= LOG_ERR)
		lib_errors++;
	fprintf(stderr, "%s: %s\n", fs_prog, msg);
}

static int mount_volume(struct fs *fs)
{
	struct pgdax_vol_opts vopts = {
		.flags = fs->opts.ro ? PGDAX_VOL_RDONLY : 0,
		.break_timeout_ms = fs->opts.break_timeout_ms,
		.errors = fs->opts.errors,
		.align_override = fs->opts.align,
		/* a reclaim stuck on referenced extents reports like a drain */
		.stall_report_ms = 1000 * fs->opts.drain_timeout_s,
	};
	int r;

	pgdax_log_set_fn(count_errors_fn, NULL);	/* no thread yet */
	r = pgdax_vol_mount(fs->opts.device, &vopts, &fs->vol);
	pgdax_log_set_fn(NULL, NULL);
	if (r < 0) {
		/* sb_load(): no superblock, primary nor backup (-EUCLEAN) */
		if (r == -EUCLEAN && fs_device_has_magic(fs->opts.device) == 0)
			fprintf(stderr, "%s: %s has no pgdaxfs filesystem: run mkfs.pgdaxfs %s\n",
				fs_prog, fs->opts.device, fs->opts.device);
		else if (!lib_errors)
			fprintf(stderr, "%s: cannot mount %s: %s\n", fs_prog, fs->opts.device,
				strerror(-r));
		return r;
	}
	/* the pin table is the volume's holder from the start, so a layout
	 * break never races the first pin's registration */
	r = pgdax_pintab_attach(fs->vol);
	if (!r)
		r = pgdax_vol_getattr(fs->vol, PGDAX_ROOT_INO, &fs->root_st);
	if (r < 0)
		fprintf(stderr, "%s: %s: %s\n", fs_prog, fs->opts.device, strerror(-r));
	return r;
}

/*
 * The device went away (lib/vol/vol.c vol_device_lost, on the device's
 * watcher thread): the volume answers EIO from now on, but the kernel still
 * caches attributes and pages of the inodes it knows, and would go on
 * serving stat(2) and cached reads from them. Drop them, so that every
 * request reaches the daemon and fails. No daemon lock is held here: an
 * invalidation may have the kernel send WRITEs of dirty mmap pages first,
 * which the receivers serve (and fail).
 */
static void fs_on_dead(void *arg, const char *why)
{
	struct fs *fs = arg;
	uint64_t *inos = NULL;
	size_t n = fs_icount_snapshot(fs, &inos);

	(void)why;
	for (size_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(fs->se, inos[i], 0, 0);
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	free(inos);
	pgdax_err("%s: the device went away; every request on this mount fails with "
		  "EIO. Unmount it (umount %s); mount it again once the device is back",
		  fs->opts.mountpoint, fs->opts.mountpoint);
}

int main(int argc, char **argv)
{
	struct fs fs_s = { .ready_fd = -1 }, *fs = &fs_s;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char **fsname = NULL, mnt[PATH_MAX], *devpath = NULL;
	int r, status = 1;

	fs_prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (fs_parse_args(argc, argv, &fs->opts, &fsname))
		return 1;
	if (fs->opts.log_level >= 0)
		pgdax_log_set_level(fs->opts.log_level);
	if (check_mountpoint(fs->opts.mountpoint, mnt) < 0)
		return 1;
	fs->opts.mountpoint = mnt;
	devpath = fs_device_path(fs->opts.device);
	if (!devpath)
		return 1;
	fs->opts.device = devpath;
	if (fs_device_grant(&fs->opts) < 0)
		return 1;
	fs_opts_for_kernel(&fs->opts, *fsname);
	if (fs_log_open(fs) < 0)
		return 1;

	fs->background = !fs->opts.foreground;
	if (fs->background && fs_daemonize(&fs->ready_fd) < 0)
		return 1;
	if (fs_signals_block() < 0) {
		fprintf(stderr, "%s: cannot set up signals: %s\n", fs_prog, strerror(errno));
		return 1;
	}
	if (mount_volume(fs) < 0) {
		if (fs->vol)
			goto out_vol;
		return 1;
	}
	if (fs_handles_init(fs) < 0)
		goto out_vol;

	if (fuse_opt_add_arg(&args, fs_prog) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, fs->opts.fuse_opts) ||
	    (fs->opts.debug && fuse_opt_add_arg(&args, "-d")))
		goto out_handles;
	/* libfuse's own option (not the kernel's): start the rings if INIT
	 * negotiates io_uring (fs_init) */
	if (fs_want_uring(&fs->opts)) {
		/* A request stays in its ring entry until it is answered, so
		 * requests waiting in the pool hold entries of their CPU's
		 * queue: with all of them held, that queue serves nothing, the
		 * UNPIN or RELEASE that would end the waits included. Room for
		 * both lanes full (fs/loop.c) plus the rest; the entries'
		 * buffers are mapped, not touched, until used. */
		char depth[64];

		snprintf(depth, sizeof(depth), "io_uring,io_uring_q_depth=%u",
			 2 * fs->opts.max_threads + FS_URING_SPARE_ENTRIES);
		if (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, depth))
			goto out_handles;
	}
	if (fs->opts.io_uring == 1 && !fs_want_uring(&fs->opts))
		fprintf(stderr, "%s: -o io_uring: %s; serving over /dev/fuse\n", fs_prog,
			fs->opts.mt_loop ? "not with -o mt" :
			"this pgdaxfs was built against libfuse < 3.18 (tools/install-libfuse318.sh)");
	/* Without a poll handler libfuse answers FUSE_POLL with ENOSYS and
	 * the kernel stops asking for the whole mount (fs/ioctl.c fs_poll
	 * says why that is the default). */
	struct fuse_lowlevel_ops ops = fs_ops;	/* libfuse keeps a copy */

	if (!fs->opts.break_notify)
		ops.poll = NULL;
	fs_remount_wrap(&ops);
	if (fs_want_uring(&fs->opts))
		fs_handoff_wrap(&ops);
	fs->se = fuse_session_new(&args, &ops, sizeof(ops), fs);
	if (!fs->se) {
		fprintf(stderr, "%s: cannot create the FUSE session (options: %s)\n", fs_prog,
			fs->opts.fuse_opts);
		goto out_handles;
	}
	if (fuse_session_mount(fs->se, mnt) != 0) {
		fprintf(stderr, "%s: cannot mount on %s (is /dev/fuse there, and are you root?)\n",
			fs_prog, mnt);
		goto out_session;
	}
	fs_pidfile_write(fs);
	pgdax_vol_on_dead(fs->vol, fs_on_dead, fs);

	if (fs_teardown_start(fs) < 0) {
		fprintf(stderr, "%s: cannot start the signal thread\n", fs_prog);
		goto out_unmount;
	}
	/* From here the INIT handler reports readiness (fs_ready). */
	if (fs->background)
		openlog(fs_prog, LOG_PID, LOG_DAEMON);
	r = fs_loop_run(fs);
	fs_teardown_finish(fs, r);
	status = 0;
out_unmount:
	pgdax_vol_on_dead(fs->vol, NULL, NULL);	/* it uses the session */
	fuse_session_unmount(fs->se);
out_session:
	fuse_session_destroy(fs->se);
out_handles:
	fs_handles_fini(fs);
out_vol:
	r = pgdax_vol_unmount(&fs->vol);
	if (r == -ENODEV) {
		pgdax_err("%s went away under the mount: exiting with status 1",
			  fs->opts.device);
		status = 1;
	} else if (r < 0) {
		pgdax_err("releasing %s: %s", fs->opts.device, strerror(-r));
		status = 1;
	}
	fs_pidfile_remove();
	fuse_opt_free_args(&args);
	if (status == 0)
		pgdax_info("%s released", fs->opts.device);
	free(devpath);
	free(*fsname);
	free(fs->opts.logfile);
	return status;
}
