/* SPDX-License-Identifier: MIT */
/*
 * The daemon's command line: pgdaxfs DEVICE MOUNTPOINT [-o opts] [-f] [-d]
 * [--log-level LEVEL]. Every option is parsed and checked here, before
 * anything is opened or mounted, so a bad option leaves nothing mounted;
 * then the kernel mount options are put together (fs_opts_for_kernel) and
 * the DEVICE argument is made into what the kernel will show.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev/dev.h"
#include "util/log.h"
#include "util/util.h"
#include "vol/format.h"
#include "fs.h"
#include "loop.h"

const char *fs_prog = "pgdaxfs";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s DEVICE MOUNTPOINT [-o OPT[,OPT...]] [-f] [-d] [--log-level LEVEL]\n"
		"       %s --help | --version\n"
		"\n"
		"Serve the pgdaxfs filesystem on DEVICE (/dev/daxX.Y, daxX.Y, namespaceX.Y or an\n"
		"emulated device file) at MOUNTPOINT through FUSE.\n"
		"\n"
		"  -f, --foreground      stay in the foreground, log to stderr\n"
		"  -d, --debug           foreground, FUSE request trace, log level debug\n"
		"  --log-level LEVEL     err, warn, notice, info, debug or 0-7\n"
		"  -o, --options OPTS    mount options, see below (may be repeated)\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n"
		"\n"
		"Options (-o):\n"
		"  allow_other           let other users access the mount\n"
		"  ro, rw                read-only / read-write (default rw)\n"
		"  errors=remount-ro|continue|panic  on corruption met while mounted (always\n"
		"                        recorded for fsck): go read-only (default), fail only\n"
		"                        what touches it, or abort the daemon\n"
		"  break_timeout=MS      truncate/punch wait for pinned extents (default 10000, -1 forever)\n"
		"  drain_timeout=S       report holders after S seconds of unmount drain, and\n"
		"                        extents an unlinked file's freeing waits for (default 60)\n"
		"  on_drain_timeout=wait|exit  then keep waiting (default) or exit unreleased\n"
		"  align=4K|2M|1G        must match the alignment the volume records (optional)\n"
		"  max_threads=N, max_idle_threads=N   worker threads (default 64, 16)\n"
		"  break_notify          poll(2) reports POLLPRI to pin holders on a layout break\n"
		"                        (costs io_uring a FUSE round trip per request)\n"
		"  readahead=KIB         kernel readahead window for buffered reads\n"
		"                        (default 4096; 0 off; -1 leave the kernel's 128)\n"
		"  spin=US               after a request, wait this long for the next one\n"
		"                        without sleeping (default 50; 0 never)\n"
		"  receivers=N           threads reading requests and serving all that cannot wait\n"
		"                        (default: online CPUs, at least 2, at most 8)\n"
		"  mt                    libfuse's multi-threaded loop instead of the receiving\n"
		"                        thread(s) plus workers for requests that may wait\n"
		"                        (over /dev/fuse only)\n"
		"  dax_group=GROUP       emulated device: set the image file's group (name or\n"
		"                        gid), so members may DAX-map (pgdax_map) its files\n"
		"  dax_mode=MODE         emulated device: the image file's mode, octal, 06x0\n"
		"                        (0640: members map read-only, 0660: read-write);\n"
		"                        for /dev/daxX.Y use a udev rule (70-pgdax-dax-access.rules)\n"
		"  io_uring, no_io_uring serve over FUSE-over-io_uring (needs libfuse >= 3.18\n"
		"                        and /sys/module/fuse/parameters/enable_uring = 1), or\n"
		"                        over /dev/fuse (the default)\n"
		"  fsname=NAME           source shown in /proc/mounts (default DEVICE)\n"
		"  logfile=PATH          once serving, append log lines (time, level) to PATH\n"
		"                        instead of syslog (default: syslog when /dev/log\n"
		"                        exists, else stderr)\n"
		"  default_permissions   the kernel checks permissions too, before the daemon\n"
		"                        (the default: it also guards opens of device nodes,\n"
		"                        FIFOs and sockets, which never reach the daemon)\n"
		"  no_default_permissions  only the daemon checks: one round trip fewer per\n"
		"                        create and unlink; device nodes are inert (nodev) and\n"
		"                        opens of FIFOs and sockets are not checked\n"
		"  relatime              update atime on access only if it is not after mtime\n"
		"                        or ctime, or is 24 h old (the default; also atime,\n"
		"                        nostrictatime)\n"
		"  strictatime           update atime on every access (also norelatime)\n"
		"  noatime               never update atime\n"
		"  nodiratime, diratime  directories: no atime update on listing (or do)\n"
		"  lazytime, nolazytime  atime updates are stored but not flushed (a crash may\n"
		"                        lose them), or flushed (the default)\n"
		"  suid, nosuid, dev, nodev, exec, noexec, sync, async, dirsync\n"
		"                        passed to the kernel mount (dev is the default,\n"
		"                        not with no_default_permissions)\n",
		fs_prog, fs_prog);
}

bool fs_want_uring(const struct fs_opts *o)
{
#ifdef PGDAX_HAVE_FUSE_URING
	if (o->mt_loop)
		return false;	/* libfuse's loop: no handoff, no interrupts */
	if (o->io_uring != -1)
		return o->io_uring == 1;	/* -o io_uring / -o no_io_uring */
	/* /dev/fuse unless asked (-o io_uring). io_uring is not the default
	 * yet: AIO O_DIRECT writes racing buffered readers can deadlock its
	 * queues when the reply waits for the page-cache invalidation (so that
	 * invalidation is skipped there: fs/ops.c direct_done_defer), and it
	 * did not measure faster here under load (README, Figures). */
	return false;
#else
	(void)o;
	return false;	/* libfuse < 3.18 */
#endif
}

/* Options passed on to the kernel mount unchanged. */
static const char *const mount_flags[] = {
	"suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async", "dirsync", NULL,
};

/*
 * The access-time options. FUSE leaves atime to the daemon (the kernel marks
 * every FUSE inode S_NOATIME), and libfuse knows only some of these names
 * (3.14: noatime alone), so they are the daemon's: it updates atime on a
 * read, an open for reading and a directory listing by the rule chosen
 * (fs_accessed in fs/ops.c). Later options win, as with mount(8).
 */
static bool atime_opt(struct fs_opts *o, const char *opt)
{
	if (!strcmp(opt, "relatime") || !strcmp(opt, "atime") || !strcmp(opt, "nostrictatime"))
		o->atime = PGDAX_ATIME_RELATIME;
	else if (!strcmp(opt, "strictatime") || !strcmp(opt, "norelatime"))
		o->atime = PGDAX_ATIME_STRICT;
	else if (!strcmp(opt, "noatime"))
		o->atime = PGDAX_ATIME_NOATIME;
	else if (!strcmp(opt, "nodiratime"))
		o->nodiratime = true;
	else if (!strcmp(opt, "diratime"))
		o->nodiratime = false;
	else if (!strcmp(opt, "lazytime"))
		o->lazytime = true;
	else if (!strcmp(opt, "nolazytime"))
		o->lazytime = false;
	else
		return false;
	return true;
}

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

/* An integer option in [min, max]; says the range when it is not. */
static int int_opt(const char *opt, const char *val, long min, long max, long *out)
{
	if (!parse_int(val, min, max, out))
		return 0;
	fprintf(stderr, "%s: bad value '%s' for option %s: an integer from %ld to %ld\n",
		fs_prog, val, opt, min, max);
	return -1;
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
		/* the daemon always checks (lib/vol/perm.c); this keeps the
		 * kernel's own check in front of it (the default) */
		o->default_permissions = true;
	} else if (!strcmp(opt, "no_default_permissions") && !val) {
		o->default_permissions = false;
	} else if (!strcmp(opt, "ro") && !val) {
		o->ro = true;
	} else if (!strcmp(opt, "rw") && !val) {
		o->ro = false;
	} else if (!strcmp(opt, "errors") && val) {
		if (!strcmp(val, "remount-ro"))
			o->errors = PGDAX_VOL_ERRORS_REMOUNT_RO;
		else if (!strcmp(val, "continue"))
			o->errors = PGDAX_VOL_ERRORS_CONTINUE;
		else if (!strcmp(val, "panic"))
			o->errors = PGDAX_VOL_ERRORS_PANIC;
		else
			goto bad_value;
	} else if (!strcmp(opt, "break_timeout") && val) {
		if (int_opt(opt, val, -1, INT_MAX, &v))
			return -1;
		o->break_timeout_ms = (int)v;
	} else if (!strcmp(opt, "drain_timeout") && val) {
		if (int_opt(opt, val, 1, 2000000, &v))
			return -1;
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

		if (pgdax_align_parse(val, &a)) {
			fprintf(stderr, "%s: bad value '%s' for option align: 4K, 2M or 1G\n",
				fs_prog, val);
			return -1;
		}
		o->align = a;
	} else if (!strcmp(opt, "max_threads") && val) {
		if (int_opt(opt, val, 2, 1024, &v))
			return -1;
		o->max_threads = (unsigned)v;
	} else if (!strcmp(opt, "max_idle_threads") && val) {
		if (int_opt(opt, val, 1, 1024, &v))
			return -1;
		o->max_idle_threads = (unsigned)v;
	} else if (!strcmp(opt, "mt") && !val) {
		o->mt_loop = true;
	} else if (!strcmp(opt, "io_uring") && !val) {
		o->io_uring = 1;
	} else if (!strcmp(opt, "no_io_uring") && !val) {
		o->io_uring = 0;
	} else if (!strcmp(opt, "break_notify") && !val) {
		o->break_notify = true;
	} else if (!strcmp(opt, "spin") && val) {
		if (int_opt(opt, val, 0, 100000, &v))
			return -1;
		o->spin_us = (unsigned)v;
	} else if (!strcmp(opt, "readahead") && val) {
		if (int_opt(opt, val, -1, FS_MAX_READAHEAD_KB, &v))
			return -1;
		o->readahead_kb = (int)v;
	} else if (!strcmp(opt, "receivers") && val) {
		if (int_opt(opt, val, 1, FS_MAX_RECEIVERS, &v))
			return -1;
		o->receivers = (unsigned)v;
	} else if (!strcmp(opt, "dax_group") && val && *val) {
		struct group *g = getgrnam(val);

		if (g)
			o->dax_gid = (long)g->gr_gid;
		else if (parse_int(val, 0, INT_MAX, &v) == 0)
			o->dax_gid = v;
		else
			goto bad_value;
	} else if (!strcmp(opt, "dax_mode") && val) {
		char *end;

		errno = 0;
		v = strtol(val, &end, 8);
		/* 06x0: the owner (root) keeps read-write, the group gets what is
		 * asked, others and execute nothing: whoever may write the image
		 * may forge any inode on it */
		if (errno || end == val || *end || v < 0 || (v & ~0660) || (v & 0600) != 0600)
			goto bad_value;
		o->dax_mode = (int)v;
	} else if (!strcmp(opt, "logfile") && val && *val) {
		free(o->logfile);
		o->logfile = strdup(val);
		if (!o->logfile)
			return -1;
	} else if (!strcmp(opt, "fsname") && val && *val) {
		*fsname = val;
	} else if (!strcmp(opt, "subtype") && val) {
		if (strcmp(val, "pgdaxfs")) {
			fprintf(stderr, "%s: subtype is always pgdaxfs\n", fs_prog);
			return -1;
		}
	} else if (!val && atime_opt(o, opt)) {
		/* the daemon's (atime_opt) */
	} else {
		for (const char *const *m = mount_flags; *m; m++) {
			if (!val && !strcmp(opt, *m)) {
				if (!strcmp(opt, "dev") || !strcmp(opt, "nodev"))
					o->dev = o->dev_asked = opt[0] == 'd';
				add_fuse_opt(o, opt);
				return 0;
			}
		}
		fprintf(stderr, "%s: unknown option '%s%s%s' (see %s --help)\n", fs_prog, opt,
			val ? "=" : "", val ? val : "", fs_prog);
		return -1;
	}
	return 0;
bad_value:	/* on_drain_timeout is the only enumerated one */
	fprintf(stderr, "%s: bad value '%s' for option %s: wait or exit\n", fs_prog, val, opt);
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

int fs_parse_args(int argc, char **argv, struct fs_opts *o, char ***fsname_out)
{
	static const struct option lopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
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
		.dax_gid = -1,
		.dax_mode = -1,
		.spin_us = FS_DEFAULT_SPIN_US,
		.io_uring = -1,		/* where the kernel allows it */
		.log_level = -1,
		.default_permissions = true,	/* see fs_opts_for_kernel */
		.dev = true,
	};
	/* "+": options may follow the operands (mount helpers put -o last) */
	while (optind < argc) {
		c = getopt_long(argc, argv, "+fdhVo:", lopts, NULL);
		if (c == -1) {
			if (npos == 2) {
				fprintf(stderr, "%s: unexpected argument '%s'\n", fs_prog, argv[optind]);
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
		case 'V':
			printf("%s %s (format %u.%u)\n", fs_prog, PACKAGE_VERSION, PGDAX_FMT_MAJOR,
			       PGDAX_FMT_MINOR);
			exit(0);
		case 'L':
			o->log_level = pgdax_log_parse_level(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "%s: bad log level '%s' (err, warn, notice, info, debug or 0-7)\n",
					fs_prog, optarg);
				return -1;
			}
			break;
		case 'o':
			if (parse_o(o, optarg, &fsname))
				return -1;
			break;
		default:
			fprintf(stderr, "see %s --help\n", fs_prog);
			return -1;
		}
	}
	if (npos != 2) {
		fprintf(stderr, "%s: need DEVICE and MOUNTPOINT\n", fs_prog);
		usage(stderr);
		return -1;
	}
	o->device = pos[0];
	o->mountpoint = pos[1];
	if (!o->default_permissions) {
		if (o->dev_asked) {
			fprintf(stderr, "%s: dev needs the kernel's permission checks (device nodes "
				"never reach the daemon): drop no_default_permissions\n", fs_prog);
			return -1;
		}
		o->dev = false;
	}
	if (!o->receivers)
		o->receivers = default_receivers();
	fsname_slot = fsname ? strdup(fsname) : NULL;
	*fsname_out = &fsname_slot;
	return 0;
}

void fs_opts_for_kernel(struct fs_opts *o, const char *fsname)
{
	char extra[4096];

	snprintf(extra, sizeof(extra), "%s", o->fuse_opts);
	o->fuse_opts[0] = '\0';
	/* Permissions are checked by the daemon (lib/vol/perm.c). The
	 * kernel checks too unless -o no_default_permissions: it opens
	 * device nodes, FIFOs and sockets without asking the filesystem, so
	 * only its own check guards them. The price is a round trip: with
	 * default_permissions the kernel refreshes the parent's attributes
	 * (a GETATTR) before every create and unlink that follows a change
	 * of the directory. Without it, device nodes are inert (nodev; -o dev
	 * is refused there, see fs_opts_parse) and FIFOs and sockets open
	 * unchecked: README, Limits. */
	if (o->default_permissions)
		add_fuse_opt(o, "default_permissions");
	/* a local filesystem: setuid files and device nodes work unless the
	 * user says nosuid/nodev (libfuse defaults to both off) */
	add_fuse_opt(o, "suid");
	add_fuse_opt(o, o->dev && o->default_permissions ? "dev" : "nodev");
	add_fuse_opt(o, "subtype=pgdaxfs");
	add_fsname(o, fsname ? fsname : o->device);
	add_fuse_opt(o, "max_read=1048576");
	if (o->allow_other)
		add_fuse_opt(o, "allow_other");
	if (o->ro)
		add_fuse_opt(o, "ro");
	if (o->atime == PGDAX_ATIME_NOATIME)
		add_fuse_opt(o, "noatime");	/* shown in /proc/mounts */
	if (extra[0])
		add_fuse_opt(o, extra);
}

/* ---- the DEVICE argument ---- */

/* The device as the kernel will show it: absolute when it names an
 * existing file or node (also a bare relative name), else as given (daxX.Y,
 * namespaceX.Y are resolved by the device layer). */
char *fs_device_path(const char *dev)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(dev, &st) == 0 && realpath(dev, path))
		return strdup(path);
	return strdup(dev);
}

/* Does @dev start with a pgdaxfs superblock magic? -1 when unreadable.
 * Through the device layer: a devdax refuses read(2). */
int fs_device_has_magic(const char *dev)
{
	struct pgdax_dev *d = NULL;
	uint64_t magic = 0;

	if (pgdax_dev_open(dev, PGDAX_DEV_RDONLY, 0, &d))
		return -1;
	if (pgdax_dev_read(d, 0, &magic, sizeof(magic)))
		magic = 0;
	pgdax_dev_close(&d);
	return le64toh(magic) == PGDAX_SB_MAGIC;
}
