/* SPDX-License-Identifier: MIT */
/*
 * pgdaxfs DEVICE MOUNTPOINT [-o opts] [-f] [-d] [--log-level LEVEL]
 *
 * Life cycle (DESIGN.md section 4, "block new, drain old"):
 *  1. Parse and check every option before touching anything, so a bad
 *     option leaves nothing mounted.
 *  2. Unless -f: fork at once, before any thread exists (the volume starts
 *     workers at mount and fork would lose them). The parent waits on a
 *     pipe and exits with the child's verdict; the child keeps the terminal
 *     for its error messages until the kernel's INIT has been answered, so
 *     "mounted and serving" is what a zero exit status means.
 *  3. Mount the volume, create the session, mount it, run the session
 *     loop (fs/loop.c: one receiving thread, a pool for requests that may
 *     wait; -o mt: libfuse's multi-threaded loop).
 *  4. SIGTERM/SIGINT/SIGHUP (pgdaxctl unmount sends SIGTERM) are taken by a
 *     dedicated thread (sigwait), not libfuse's handlers (they end the
 *     loop at once and lose queued RELEASEs). Teardown has two phases:
 *     phase 1, "block new" at the filesystem level: fs.closing makes new
 *       opens, creates, namespace creations, opendir of anything but the
 *       root (pgdaxctl status opens it) and new pins fail with ENXIO, while
 *       I/O, RELEASE, unpin, getattr and readdir on existing handles are
 *       served normally; the thread sleeps on fs.idle_cond until the open
 *       handle count (files and directories, not status handles) reaches 0;
 *     phase 2, "drain old" at the pgmap level: only then pgdax_vol_kill()
 *       (from now on no new extent reference of any kind), pgdax_vol_drain()
 *       for requests still in flight, end the loop, unmount, release.
 *     Why two phases: DESIGN.md section 4 says old work (handles already
 *     open, pins held, I/O in flight) is served until released, and
 *     section 3 rule 3 says that after kill no new reference of any kind
 *     appears. Every read or write takes a new, transient extent reference,
 *     so if kill came first every I/O on a file that is still open would
 *     fail with ENXIO, and a drain that only counts extent references
 *     completes while files are open (their users then get ENOTCONN). Open
 *     handles are the "old work" that can still create references, so the
 *     filesystem blocks new handles first and kills the pgmap only when
 *     the last one is gone; pins live on handles, so none is left by then.
 *  5. When the loop ends for any reason (teardown done, or the kernel
 *     dropped the connection: umount, or umount -l / fusermount -u -z and
 *     the last user went, which also ends phase 1 at once), every open
 *     handle and every lookup the kernel still held is returned to the
 *     volume, the pgmap is killed and drained, the session unmounted and
 *     the volume released (marked clean). Only then does the process exit,
 *     so a umount helper that waits for the pid knows the device is free.
 *
 * Drain timeout: after drain_timeout seconds (default 60) of waiting in
 * either phase, the daemon logs who holds what (open handles with the pid
 * that opened them, pins, in-flight I/O) and then, per on_drain_timeout,
 * keeps waiting (wait, default: never release memory a client may still
 * map) or kills the pgmap and exits without releasing the device (exit: the
 * mount is detached, open files get ENOTCONN, the next mount recovers as
 * after a crash and quarantines extents clients still map; nothing
 * referenced is freed).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"
#include "format.h"
#include "fs.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define PIDDIR "/run/pgdaxfs"

static const char *prog = "pgdaxfs";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s DEVICE MOUNTPOINT [-o OPT[,OPT...]] [-f] [-d] [--log-level LEVEL]\n"
		"\n"
		"Serve the pgdaxfs filesystem on DEVICE (/dev/daxX.Y, daxX.Y, namespaceX.Y or an\n"
		"emulated device file) at MOUNTPOINT through FUSE.\n"
		"\n"
		"  -f, --foreground      stay in the foreground, log to stderr\n"
		"  -d, --debug           foreground, FUSE request trace, log level debug\n"
		"  --log-level LEVEL     err, warn, notice, info, debug or 0-7\n"
		"  -h, --help            this text\n"
		"\n"
		"Options (-o):\n"
		"  allow_other           let other users access the mount\n"
		"  ro, rw                read-only / read-write (default rw)\n"
		"  break_timeout=MS      truncate/punch wait for pinned extents (default 10000, -1 forever)\n"
		"  drain_timeout=S       report holders after S seconds of unmount drain (default 60)\n"
		"  on_drain_timeout=wait|exit  then keep waiting (default) or exit unreleased\n"
		"  align=4K|2M|1G        alignment of an emulated device (default: recorded one)\n"
		"  max_threads=N, max_idle_threads=N   worker threads (default 64, 16)\n"
		"  break_notify          poll(2) reports POLLPRI to pin holders on a layout break\n"
		"                        (costs io_uring a FUSE round trip per request)\n"
		"  readahead=KIB         kernel readahead window for buffered reads\n"
		"                        (default 4096; 0 off; -1 leave the kernel's 128)\n"
		"  spin=US               after a request, wait this long for the next one\n"
		"                        without sleeping (default 50; 0 never)\n"
		"  receivers=N           threads reading requests and serving fast ones\n"
		"                        (default: online CPUs, at least 2, at most 8)\n"
		"  mt                    libfuse's multi-threaded loop instead of the receiving\n"
		"                        thread(s) plus workers for requests that may wait\n"
		"  fsname=NAME           source shown in /proc/mounts (default DEVICE)\n"
		"  default_permissions   always on (the kernel checks permissions)\n"
		"  suid, nosuid, dev, nodev, exec, noexec, atime, noatime, relatime, norelatime,\n"
		"  strictatime, sync, async, dirsync   passed to the kernel mount\n",
		prog);
}

/* Options passed on to the kernel mount unchanged. */
static const char *const mount_flags[] = {
	"suid", "nosuid", "dev", "nodev", "exec", "noexec", "atime", "noatime",
	"diratime", "nodiratime", "relatime", "norelatime", "strictatime",
	"nostrictatime", "sync", "async", "dirsync", "lazytime", "nolazytime", NULL,
};

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void add_fuse_opt(struct fs_opts *o, const char *opt)
{
	size_t len = strlen(o->fuse_opts);

	snprintf(o->fuse_opts + len, sizeof(o->fuse_opts) - len, "%s%s", len ? "," : "", opt);
}

/* fsname= goes through libfuse's option parser: escape ',' and '\'. */
static void add_fsname(struct fs_opts *o, const char *name)
{
	char buf[PATH_MAX * 2 + 16], *p = buf;

	p += sprintf(p, "fsname=");
	for (; *name && p < buf + sizeof(buf) - 3; name++) {
		if (*name == ',' || *name == '\\')
			*p++ = '\\';
		*p++ = *name;
	}
	*p = '\0';
	add_fuse_opt(o, buf);
}

/* One -o item; returns 0 or prints why and returns -1. */
static int parse_one(struct fs_opts *o, char *opt, const char **fsname)
{
	char *val = strchr(opt, '=');
	long v;

	if (val)
		*val++ = '\0';
	if (!strcmp(opt, "allow_other") && !val) {
		o->allow_other = true;
	} else if (!strcmp(opt, "default_permissions") && !val) {
		/* always on */
	} else if (!strcmp(opt, "ro") && !val) {
		o->ro = true;
	} else if (!strcmp(opt, "rw") && !val) {
		o->ro = false;
	} else if (!strcmp(opt, "break_timeout") && val) {
		if (parse_int(val, -1, INT_MAX, &v))
			goto bad_value;
		o->break_timeout_ms = (int)v;
	} else if (!strcmp(opt, "drain_timeout") && val) {
		if (parse_int(val, 1, 2000000, &v))	/* ms fit an int */
			goto bad_value;
		o->drain_timeout_s = (int)v;
	} else if (!strcmp(opt, "on_drain_timeout") && val) {
		if (!strcmp(val, "wait"))
			o->drain_action = FS_DRAIN_WAIT;
		else if (!strcmp(val, "exit"))
			o->drain_action = FS_DRAIN_EXIT;
		else
			goto bad_value;
	} else if (!strcmp(opt, "align") && val) {
		uint64_t a;

		if (pgdax_align_parse(val, &a))
			goto bad_value;
		o->align = a;
	} else if (!strcmp(opt, "max_threads") && val) {
		if (parse_int(val, 2, 1024, &v))
			goto bad_value;
		o->max_threads = (unsigned)v;
	} else if (!strcmp(opt, "max_idle_threads") && val) {
		if (parse_int(val, 1, 1024, &v))
			goto bad_value;
		o->max_idle_threads = (unsigned)v;
	} else if (!strcmp(opt, "mt") && !val) {
		o->mt_loop = true;
	} else if (!strcmp(opt, "break_notify") && !val) {
		o->break_notify = true;
	} else if (!strcmp(opt, "spin") && val) {
		if (parse_int(val, 0, 100000, &v))
			goto bad_value;
		o->spin_us = (unsigned)v;
	} else if (!strcmp(opt, "readahead") && val) {
		if (parse_int(val, -1, FS_MAX_READAHEAD_KB, &v))
			goto bad_value;
		o->readahead_kb = (int)v;
	} else if (!strcmp(opt, "receivers") && val) {
		if (parse_int(val, 1, FS_MAX_RECEIVERS, &v))
			goto bad_value;
		o->receivers = (unsigned)v;
	} else if (!strcmp(opt, "fsname") && val && *val) {
		*fsname = val;
	} else if (!strcmp(opt, "subtype") && val) {
		if (strcmp(val, "pgdaxfs")) {
			fprintf(stderr, "%s: subtype is always pgdaxfs\n", prog);
			return -1;
		}
	} else {
		for (const char *const *m = mount_flags; *m; m++) {
			if (!val && !strcmp(opt, *m)) {
				add_fuse_opt(o, opt);
				return 0;
			}
		}
		fprintf(stderr, "%s: unknown option '%s%s%s' (see %s --help)\n", prog, opt,
			val ? "=" : "", val ? val : "", prog);
		return -1;
	}
	return 0;
bad_value:
	fprintf(stderr, "%s: bad value '%s' for option %s (see %s --help)\n", prog, val, opt,
		prog);
	return -1;
}

static int parse_o(struct fs_opts *o, const char *arg, const char **fsname)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save))
		r = parse_one(o, tok, fsname);
	free(copy);
	return r;
}

/*
 * Receiving threads (fs/loop.c): one per online CPU, at least 2, at most 8.
 * Measured on 2 vCPUs under load (fio psync O_DIRECT, /tmp/fuse2 report):
 * 4k random reads 20k/s with 1, 45-54k/s with 2 or 3 (libfuse's MT loop
 * 46k/s); with 2 jobs 42k/s, 197k/s, 194k/s (MT 110k/s). One thread is
 * fragile: whenever the scheduler preempts it, nothing is served.
 */
static unsigned default_receivers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2 : n > 8 ? 8 : (unsigned)n;
}

static int parse_args(int argc, char **argv, struct fs_opts *o, char ***fsname_out)
{
	static const struct option lopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "options", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static char *fsname_slot;
	const char *fsname = NULL;
	const char *pos[2];
	int npos = 0, c;

	*o = (struct fs_opts){
		.break_timeout_ms = 10000,
		.drain_timeout_s = 60,
		.drain_action = FS_DRAIN_WAIT,
		.max_threads = 64,
		.max_idle_threads = 16,
		.receivers = 0,		/* default: see default_receivers() */
		.readahead_kb = FS_DEFAULT_READAHEAD_KB,
		.spin_us = FS_DEFAULT_SPIN_US,
		.log_level = -1,
	};
	/* "+": options may follow the operands (mount helpers put -o last) */
	while (optind < argc) {
		c = getopt_long(argc, argv, "+fdho:", lopts, NULL);
		if (c == -1) {
			if (npos == 2) {
				fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
				return -1;
			}
			pos[npos++] = argv[optind++];
			continue;
		}
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->debug = o->foreground = true;
			if (o->log_level < 0)
				o->log_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'L':
			o->log_level = pgdax_log_parse_level(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "%s: bad log level '%s' (err, warn, notice, info, debug or 0-7)\n",
					prog, optarg);
				return -1;
			}
			break;
		case 'o':
			if (parse_o(o, optarg, &fsname))
				return -1;
			break;
		default:
			fprintf(stderr, "see %s --help\n", prog);
			return -1;
		}
	}
	if (npos != 2) {
		fprintf(stderr, "%s: need DEVICE and MOUNTPOINT\n", prog);
		usage(stderr);
		return -1;
	}
	o->device = pos[0];
	o->mountpoint = pos[1];
	if (!o->receivers)
		o->receivers = default_receivers();
	fsname_slot = fsname ? strdup(fsname) : NULL;
	*fsname_out = &fsname_slot;
	return 0;
}

/* The device as the kernel will show it: absolute when it names an
 * existing file or node (also a bare relative name), else as given (daxX.Y,
 * namespaceX.Y are resolved by the device layer). */
static char *resolve_device(const char *dev)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(dev, &st) == 0 && realpath(dev, path))
		return strdup(path);
	return strdup(dev);
}

/* Does @dev start with a pgdaxfs superblock magic? -1 when unreadable. */
static int has_magic(const char *dev)
{
	char path[PATH_MAX];
	uint64_t magic = 0;
	int fd, r;

	if (pgdax_dev_resolve(dev, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "%s", dev);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = pread(fd, &magic, sizeof(magic), 0) == (ssize_t)sizeof(magic);
	close(fd);
	if (!r)
		return 0;
	return le64toh(magic) == PGDAX_SB_MAGIC;
}

/* ---- logging after daemonizing ---- */

static void syslog_fn(int priority, const char *msg, void *arg)
{
	(void)arg;
	syslog(priority, "%s", msg);
}

/* ---- pid file: /run/pgdaxfs/MAJ_MIN.pid, keyed by the mount's device
 * number from /proc/self/mountinfo, so the umount helper can find the
 * daemon without touching the (maybe hung) mount. ---- */

static char pidfile[PATH_MAX];

/* Unescape mountinfo's octal escapes (\040) in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

static int mount_devnum(const char *mnt, char *devnum, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char dn[64], mp[4096], *sep;

		if (sscanf(line, "%*d %*d %63s %*s %4095s", dn, mp) != 2)
			continue;
		sep = strstr(line, " - ");
		unescape(mp);
		if (!sep || strcmp(mp, mnt) || strncmp(sep + 3, "fuse.pgdaxfs ", 13))
			continue;
		snprintf(devnum, len, "%s", dn);	/* the last (top) one wins */
		found = 0;
	}
	fclose(f);
	return found;
}

/*
 * The readahead window of the mount's backing_dev_info. The kernel starts a
 * FUSE mount at 128 KiB and INIT can only lower it, so a buffered
 * sequential read is served in 128 KiB requests: each costs a round trip
 * (~20 us here) for a copy that takes a few microseconds. With 4 MiB the
 * kernel asks for 1 MiB (max_read) requests well ahead of the reader:
 * cold 1 MiB reads of a 512 MiB file went from 2.7-3.4 GB/s to 5.0-6.3 GB/s
 * (dd after drop_caches, 2 vCPUs). Set through sysfs, as root only; a
 * failure only costs speed, so it is logged and serving goes on.
 */
void fs_initialized(struct fs *fs)
{
	char dn[64], path[128], val[32];
	int fd, n;

	if (fs->opts.readahead_kb < 0)
		return;
	if (mount_devnum(fs->opts.mountpoint, dn, sizeof(dn)) < 0) {
		pgdax_info("readahead: mount of %s not found, left as it is",
			   fs->opts.mountpoint);
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dn);
	n = snprintf(val, sizeof(val), "%d\n", fs->opts.readahead_kb);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, n) != n) {
		pgdax_info("readahead: cannot set %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	pgdax_dbg("readahead: %d KiB (%s)", fs->opts.readahead_kb, path);
}

static void write_pidfile(struct fs *fs)
{
	char dn[64], tmp[PATH_MAX + 8];
	FILE *f;

	if (mount_devnum(fs->opts.mountpoint, dn, sizeof(dn)) < 0)
		return;
	for (char *p = dn; *p; p++)
		if (*p == ':')
			*p = '_';
	if (mkdir(PIDDIR, 0755) < 0 && errno != EEXIST)
		return;
	snprintf(pidfile, sizeof(pidfile), PIDDIR "/%s.pid", dn);
	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
	f = fopen(tmp, "we");
	if (!f) {
		pidfile[0] = '\0';
		return;
	}
	fprintf(f, "%d\n%s\n%s\n", (int)getpid(), fs->opts.mountpoint, fs->opts.device);
	if (fclose(f) != 0 || rename(tmp, pidfile) != 0) {
		unlink(tmp);
		pidfile[0] = '\0';
	}
}

/* ---- signals and teardown ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool loop_done;		/* lock */
	pthread_t main_thread;
} td = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };

static void wake_handler(int sig)
{
	(void)sig;	/* only interrupts the loop's sem_wait */
}

static bool loop_done(void)
{
	bool d;

	pthread_mutex_lock(&td.lock);
	d = td.loop_done;
	pthread_mutex_unlock(&td.lock);
	return d;
}

static void drain_report(struct fs *fs, int waited_s)
{
	struct pgdax_vol_stats s;

	pgdax_vol_get_stats(fs->vol, &s);
	pgdax_notice("unmount of %s waiting %d s for references: %llu pins on %llu extents, "
		     "%llu I/O in flight, %llu active extents",
		     fs->opts.mountpoint, waited_s, (unsigned long long)s.pins,
		     (unsigned long long)s.pinned_extents, (unsigned long long)s.inflight_io,
		     (unsigned long long)s.active_extents);
	fs_handles_report(fs);
}

/*
 * Phase 1: wait until every open handle has been released (the RELEASE
 * that takes the count to 0 signals fs.idle_cond; no polling), reporting
 * every drain_timeout seconds. Returns 0 when no handle is left, 1 when the
 * session loop ended meanwhile (the kernel dropped the connection: every
 * handle counts as released), -1 when on_drain_timeout=exit says give up.
 */
static int wait_handles(struct fs *fs)
{
	int waited_s = 0;

	for (;;) {
		int r = fs_handles_wait_idle(fs, 1000 * fs->opts.drain_timeout_s);

		if (r >= 0)
			return r;
		waited_s += fs->opts.drain_timeout_s;
		drain_report(fs, waited_s);
		if (fs->opts.drain_action == FS_DRAIN_EXIT) {
			pgdax_err("drain timeout: exiting without releasing %s; "
				  "the next mount recovers it", fs->opts.device);
			return -1;
		}
	}
}

/*
 * Phase 2: wait for the pgmap drain (extent references of requests still in
 * flight), reporting every drain_timeout seconds. Returns 0 when drained, 1
 * when @stop_on_loop_end and the loop ended meanwhile (main() then finishes
 * the drain itself), -1 when the on_drain_timeout=exit policy says give up.
 */
static int wait_drain(struct fs *fs, bool stop_on_loop_end)
{
	int slice_ms = stop_on_loop_end ? 500 : 1000 * fs->opts.drain_timeout_s;
	int64_t waited_ms = 0, next_report = 1000LL * fs->opts.drain_timeout_s;

	for (;;) {
		if (pgdax_vol_drain(fs->vol, slice_ms) == 0)
			return 0;
		waited_ms += slice_ms;
		if (stop_on_loop_end && loop_done())
			return 1;
		if (waited_ms >= next_report) {
			drain_report(fs, (int)(waited_ms / 1000));
			next_report += 1000LL * fs->opts.drain_timeout_s;
			if (fs->opts.drain_action == FS_DRAIN_EXIT) {
				pgdax_err("drain timeout: exiting without releasing %s; "
					  "the next mount recovers it", fs->opts.device);
				return -1;
			}
		}
	}
}

/* Phase 1: block new opens and pins; old handles keep being served. */
static void begin_close(struct fs *fs, const char *why)
{
	if (fs_handles_close(fs))
		pgdax_notice("%s: unmounting %s, new opens fail with ENXIO; "
			     "open files are served until closed", why, fs->opts.mountpoint);
}

/* Phase 2: no new extent reference of any kind (pgmap kill). */
static void begin_kill(struct fs *fs)
{
	fs_handles_close(fs);
	if (!atomic_exchange(&fs->dying, true))
		pgdax_vol_kill(fs->vol);
}

/*
 * on_drain_timeout=exit: leave without releasing the device. The mount is
 * detached first so no dead mount ("Transport endpoint is not connected")
 * stays behind; the volume is not marked clean, so the next mount recovers
 * it as after a crash, and references a client may still hold are never
 * freed by this process.
 */
static void __attribute__((noreturn)) give_up(struct fs *fs)
{
	if (umount2(fs->opts.mountpoint, MNT_DETACH) < 0 && errno != EINVAL)
		pgdax_warn("detaching %s: %s", fs->opts.mountpoint, strerror(errno));
	if (pidfile[0])
		unlink(pidfile);
	_exit(1);
}

static sigset_t stop_sigs;

static void *signal_thread(void *arg)
{
	struct fs *fs = arg;
	int sig = 0, r;

	sigwait(&stop_sigs, &sig);
	if (loop_done())
		return NULL;	/* main() woke us to quit */
	begin_close(fs, strsignal(sig));
	r = wait_handles(fs);
	if (r == 1)
		return NULL;	/* the kernel ended the session: main() finishes */
	if (r < 0) {
		begin_kill(fs);
		give_up(fs);	/* on_drain_timeout=exit */
	}
	begin_kill(fs);
	r = wait_drain(fs, true);
	if (r == 1)
		return NULL;
	if (r < 0)
		give_up(fs);
	/* Drained: end the loop. The loop's main thread sleeps in read() (or
	 * sem_wait with -o mt); a signal interrupts it so it sees the exit
	 * flag (retry: the signal may land just before it sleeps). */
	fuse_session_exit(fs->se);
	pthread_mutex_lock(&td.lock);
	while (!td.loop_done) {
		struct timespec ts;

		pthread_kill(td.main_thread, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&td.cond, &td.lock, &ts);
	}
	pthread_mutex_unlock(&td.lock);
	return NULL;
}

static int setup_signals(void)
{
	struct sigaction sa = { .sa_handler = wake_handler };

	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGHUP);
	/* blocked in every thread created from now on; the signal thread
	 * takes them with sigwait */
	if (pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL))
		return -1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)	/* no SA_RESTART: interrupts */
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- daemonizing ---- */

/* Fork; the parent waits for one byte (0 = ready) and exits with it. */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;	/* the child died before it was ready */
		_exit(c ? 1 : 0);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

/* After readiness in the background: detach stdio, log to syslog. */
static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

void fs_ready(struct fs *fs)
{
	char c = 0;

	if (fs->ready_fd < 0)
		return;
	/* In the background, the parent exits on this byte: from now on
	 * messages go to syslog. Stdio stayed on the terminal until here so an
	 * error before INIT still reached it. */
	if (fs->background) {
		pgdax_log_set_fn(syslog_fn, NULL);
		detach_stdio();
	}
	if (write(fs->ready_fd, &c, 1) != 1)
		pgdax_warn("cannot signal readiness: %s", strerror(errno));
	close(fs->ready_fd);
	fs->ready_fd = -1;
}

int main(int argc, char **argv)
{
	struct fs fs_s = { .ready_fd = -1 }, *fs = &fs_s;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct pgdax_vol_opts vopts = { 0 };
	char **fsname = NULL, mnt[PATH_MAX], *devpath = NULL;
	pthread_t sigthr;
	uint64_t nfiles = 0, ninodes = 0;
	int r, status = 1;
	bool background;

	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (parse_args(argc, argv, &fs->opts, &fsname))
		return 1;
	if (fs->opts.log_level >= 0)
		pgdax_log_set_level(fs->opts.log_level);
	if (!realpath(fs->opts.mountpoint, mnt)) {
		fprintf(stderr, "%s: mount point %s: %s\n", prog, fs->opts.mountpoint,
			strerror(errno));
		return 1;
	}
	{
		struct stat st;

		if (stat(mnt, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "%s: mount point %s is not a directory\n", prog, mnt);
			return 1;
		}
	}
	fs->opts.mountpoint = mnt;
	devpath = resolve_device(fs->opts.device);
	if (!devpath)
		return 1;
	fs->opts.device = devpath;

	/* The kernel mount options, all checked above. */
	{
		char extra[4096];

		snprintf(extra, sizeof(extra), "%s", fs->opts.fuse_opts);
		fs->opts.fuse_opts[0] = '\0';
		add_fuse_opt(&fs->opts, "default_permissions");
		/* a local filesystem: setuid and device files work unless the
		 * user says nosuid/nodev (libfuse defaults to both off) */
		add_fuse_opt(&fs->opts, "suid");
		add_fuse_opt(&fs->opts, "dev");
		add_fuse_opt(&fs->opts, "subtype=pgdaxfs");
		add_fsname(&fs->opts, *fsname ? *fsname : fs->opts.device);
		add_fuse_opt(&fs->opts, "max_read=1048576");
		if (fs->opts.allow_other)
			add_fuse_opt(&fs->opts, "allow_other");
		if (fs->opts.ro)
			add_fuse_opt(&fs->opts, "ro");
		if (extra[0])
			add_fuse_opt(&fs->opts, extra);
	}

	background = !fs->opts.foreground;
	if (background && daemonize(&fs->ready_fd) < 0)
		return 1;
	fs->background = background;
	if (setup_signals() < 0) {
		fprintf(stderr, "%s: cannot set up signals: %s\n", prog, strerror(errno));
		return 1;
	}

	vopts.flags = fs->opts.ro ? PGDAX_VOL_RDONLY : 0;
	vopts.break_timeout_ms = fs->opts.break_timeout_ms;
	vopts.align_override = fs->opts.align;
	r = pgdax_vol_mount(fs->opts.device, &vopts, &fs->vol);
	if (r < 0) {
		if (has_magic(fs->opts.device) == 0)
			fprintf(stderr, "%s: %s has no pgdaxfs filesystem: run mkfs.pgdaxfs %s\n",
				prog, fs->opts.device, fs->opts.device);
		else
			fprintf(stderr, "%s: cannot mount %s: %s\n", prog, fs->opts.device,
				strerror(-r));
		return 1;
	}
	if (fs_handles_init(fs) < 0)
		goto out_vol;

	if (fuse_opt_add_arg(&args, prog) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, fs->opts.fuse_opts) ||
	    (fs->opts.debug && fuse_opt_add_arg(&args, "-d")))
		goto out_handles;
	/* Without a poll handler libfuse answers FUSE_POLL with ENOSYS and
	 * the kernel stops asking for the whole mount (fs/ioctl.c fs_poll
	 * says why that is the default). */
	struct fuse_lowlevel_ops ops = fs_ops;	/* libfuse keeps a copy */

	if (!fs->opts.break_notify)
		ops.poll = NULL;
	fs->se = fuse_session_new(&args, &ops, sizeof(ops), fs);
	if (!fs->se) {
		fprintf(stderr, "%s: cannot create the FUSE session (options: %s)\n", prog,
			fs->opts.fuse_opts);
		goto out_handles;
	}
	if (fuse_session_mount(fs->se, mnt) != 0) {
		fprintf(stderr, "%s: cannot mount on %s (is /dev/fuse there, and are you root?)\n",
			prog, mnt);
		goto out_session;
	}
	write_pidfile(fs);

	td.main_thread = pthread_self();
	if (pthread_create(&sigthr, NULL, signal_thread, fs)) {
		fprintf(stderr, "%s: cannot start the signal thread\n", prog);
		goto out_unmount;
	}
	/* From here the INIT handler reports readiness (fs_ready). */
	if (background)
		openlog(prog, LOG_PID, LOG_DAEMON);
	r = fs_loop_run(fs);

	/* Phase 1 ends here too: no request can come any more, so every
	 * handle counts as released. */
	fs_handles_conn_gone(fs);
	pthread_mutex_lock(&td.lock);
	td.loop_done = true;
	pthread_cond_broadcast(&td.cond);
	pthread_mutex_unlock(&td.lock);
	pthread_kill(sigthr, SIGTERM);	/* wakes sigwait if nothing arrived */
	pthread_join(sigthr, NULL);

	/* The loop is over (drained after a signal, or the kernel dropped the
	 * connection): nothing more will come from the kernel, so every handle
	 * it still held is released here. */
	if (!atomic_load(&fs->dying))
		pgdax_notice("%s: releasing %s", r < 0 ? "session error" : "session ended",
			     fs->opts.mountpoint);
	begin_kill(fs);
	fs_handles_drop_all(fs, &nfiles, &ninodes);
	if (nfiles || ninodes)
		pgdax_info("released %llu open files and %llu inodes the kernel still held",
			   (unsigned long long)nfiles, (unsigned long long)ninodes);
	if (wait_drain(fs, false) < 0)
		give_up(fs);
	status = 0;
out_unmount:
	fuse_session_unmount(fs->se);
out_session:
	fuse_session_destroy(fs->se);
out_handles:
	fs_handles_fini(fs);
out_vol:
	r = pgdax_vol_unmount(&fs->vol);
	if (r < 0) {
		pgdax_err("releasing %s: %s", fs->opts.device, strerror(-r));
		status = 1;
	}
	if (pidfile[0])
		unlink(pidfile);
	fuse_opt_free_args(&args);
	if (status == 0)
		pgdax_info("%s released", fs->opts.device);
	free(devpath);
	free(*fsname);
	return status;
}
