/* SPDX-License-Identifier: MIT */
/*
 * The daemon as a process: going to the background, telling the parent
 * (or the mount helper) that it is serving, logging once detached, the pid
 * file through which the umount helper finds it, and the mount's readahead
 * window (set once the kernel has answered INIT).
 *
 * Unless -f, the daemon forks at once, before any thread exists (the
 * volume starts workers at mount and fork would lose them). The parent
 * waits on a pipe and exits with the child's verdict; the child keeps the
 * terminal for its error messages until the kernel's INIT has been
 * answered, so "mounted and serving" is what a zero exit status means.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "fs.h"

#define PIDDIR "/run/pgdaxfs"

/* ---- logging once serving ----
 * In the background: -o logfile=PATH if given; else syslog when there is
 * one (/dev/log); else stderr, kept open for it (under systemd that is the
 * journal; mount.pgdaxfs passes logfile= when there is no /dev/log, so that
 * nothing is lost on a minimal system or in a container). File and stderr
 * lines carry a timestamp, the pid and the level. In the foreground
 * messages stay on stderr unless logfile= is given. */

static FILE *log_file;

static void syslog_fn(int priority, const char *msg, void *arg)
{
	(void)arg;
	syslog(priority, "%s", msg);
}

static void stamped_fn(int priority, const char *msg, void *arg)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
	};
	FILE *f = arg;
	struct timespec now;
	struct tm tm;
	char ts[32];

	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	/* one fprintf: stdio locks the stream, so lines never interleave */
	fprintf(f, "%s.%03ld %s[%d] %s: %s\n", ts, now.tv_nsec / 1000000, fs_prog,
		(int)getpid(), names[priority & 7], msg);
	fflush(f);
}

int fs_log_open(struct fs *fs)
{
	if (!fs->opts.logfile)
		return 0;
	log_file = fopen(fs->opts.logfile, "ae");
	if (!log_file) {
		fprintf(stderr, "%s: cannot open log file %s: %s\n", fs_prog, fs->opts.logfile,
			strerror(errno));
		return -1;
	}
	return 0;
}

static bool have_syslog(void)
{
	struct stat st;

	return stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
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

void fs_pidfile_write(struct fs *fs)
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

void fs_pidfile_remove(void)
{
	if (pidfile[0])
		unlink(pidfile);
}

/* ---- daemonizing ---- */

/* Fork; the parent waits for one byte (0 = ready) and exits with it. */
int fs_daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "%s: pipe: %s\n", fs_prog, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", fs_prog, strerror(errno));
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

/* After readiness in the background: detach stdio (stderr too unless it
 * is where the log goes). */
static void detach_stdio(bool keep_stderr)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (!keep_stderr)
			dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

void fs_ready(struct fs *fs)
{
	char c = 0;

	if (log_file && !fs->background)
		pgdax_log_set_fn(stamped_fn, log_file);
	if (fs->ready_fd < 0)
		return;
	/* In the background, the parent exits on this byte: from now on
	 * messages go to the log (see "logging once serving"). Stdio stayed
	 * on the terminal until here so an error before INIT still reached
	 * it. */
	if (log_file && fs->background) {
		pgdax_log_set_fn(stamped_fn, log_file);
		detach_stdio(false);
	} else if (fs->background && have_syslog()) {
		pgdax_log_set_fn(syslog_fn, NULL);
		detach_stdio(false);
	} else if (fs->background) {
		pgdax_log_set_fn(stamped_fn, stderr);
		detach_stdio(true);
	}
	if (write(fs->ready_fd, &c, 1) != 1)
		pgdax_warn("cannot signal readiness: %s", strerror(errno));
	close(fs->ready_fd);
	fs->ready_fd = -1;
}
