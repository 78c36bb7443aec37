/* SPDX-License-Identifier: MIT */
/*
 * PGDAX_DEV_EXCL: one writer per device. flock(LOCK_EX|LOCK_NB) on the
 * device fd; the lock dies with the fd (close or process death), so a
 * crashed daemon never leaves a stale lock. On -EBUSY the message names the
 * holder, found by matching the device's dev:inode in /proc/locks and
 * reading /proc/PID/comm (best effort: a holder in another pid namespace
 * shows as "unknown").
 *
 * A daemon whose mount is gone but which still holds the device is
 * releasing it: its loop ended when the kernel dropped the connection, and
 * it returns open handles, drains the pgmap and marks the volume clean
 * before it closes the device. umount.fuse.pgdaxfs waits for that, but an
 * unmount that skips the helper (umount2(2) called directly, umount -i,
 * another mount namespace without the utab entry) returns at once, and a
 * mount right after it found the device locked. So a holder that is a
 * daemon (it has a run file) whose mount is no longer in its own
 * /proc/PID/mountinfo is waited for, bounded (RELEASE_WAIT_S), with a
 * message; a daemon whose mount is still there keeps the refusal, and the
 * message says that pgdaxfs serves a device at one mount point and that a
 * bind mount gives a second one.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "dev_internal.h"
#include "util/log.h"

/* pid holding a FLOCK write lock on (dev, ino), or -1. */
static pid_t find_flock_holder(dev_t dev, ino_t ino)
{
	unsigned long long lino;
	unsigned int maj, mnr;
	char line[256], kind[16], arrow[8];
	pid_t found = -1;
	FILE *f;
	int pid;

	f = fopen("/proc/locks", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters have "->" */
		if (sscanf(line, "%*d: %7s", arrow) != 1 || !strcmp(arrow, "->"))
			continue;
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%llu", kind, &pid, &maj, &mnr,
			   &lino) != 5)
			continue;
		if (strcmp(kind, "FLOCK") || maj != major(dev) || mnr != minor(dev) ||
		    lino != (unsigned long long)ino)
			continue;
		found = pid;
		break;
	}
	fclose(f);
	return found;
}

static void holder_comm(pid_t pid, char *comm, size_t len)
{
	char p[64];
	FILE *f;

	snprintf(comm, len, "unknown");
	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return;
	if (fgets(comm, (int)len, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/*
 * Where a pgdaxfs daemon holding the device serves it: the daemon's run file
 * /run/pgdaxfs/MAJ_MIN.pid holds its pid, the mount point and the device
 * (fs/daemon.c fs_pidfile_write), so "in use" can say where to unmount.
 * Empty when @pid is not a daemon with a run file.
 */
static void holder_mountpoint(pid_t pid, char *mnt, size_t len, char *devnum, size_t dlen)
{
	char line[PATH_MAX + 2], p[PATH_MAX];
	struct dirent *de;
	DIR *d;

	mnt[0] = '\0';
	devnum[0] = '\0';
	d = opendir("/run/pgdaxfs");
	if (!d)
		return;
	while (!mnt[0] && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		FILE *f;

		if (n < 5 || strcmp(de->d_name + n - 4, ".pid"))
			continue;
		snprintf(p, sizeof(p), "/run/pgdaxfs/%s", de->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && atoi(line) == (int)pid &&
		    fgets(line, sizeof(line), f)) {
			size_t l = strcspn(line, "\n");

			if (l < len && n - 4 < dlen) {
				memcpy(mnt, line, l);
				mnt[l] = '\0';
				/* MAJ_MIN.pid -> MAJ:MIN, as mountinfo writes it */
				memcpy(devnum, de->d_name, n - 4);
				devnum[n - 4] = '\0';
				devnum[strcspn(devnum, "_")] = ':';
			}
		}
		fclose(f);
	}
	closedir(d);
}

/*
 * Is the mount with device number @devnum ("MAJ:MIN") still in @pid's
 * mount namespace? 1 yes, 0 no, -1 cannot tell (then the holder is taken
 * as serving: the old refusal, never a wait on a guess).
 */
static int holder_mount_present(pid_t pid, const char *devnum)
{
	char p[64], line[8192], dn[64];
	int found = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d %*d %63s", dn) == 1 && !strcmp(dn, devnum) &&
		    strstr(line, " - fuse.pgdaxfs "))
			found = 1;
	fclose(f);
	return found;
}

/* How long a mount waits for a daemon releasing the same device. The
 * release is a drain and a clean mark (milliseconds); what can make it
 * long (pins a client holds after a lazy unmount) is reported then. */
#define RELEASE_WAIT_S 30

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * @pid holds the device and its mount is gone: poll the lock until it is
 * free (0), the holder changes or serves a mount again (1: judge afresh),
 * or RELEASE_WAIT_S passed (-EBUSY, said). Polled, not a blocking flock:
 * a blocking flock cannot be bounded without a signal, and a library does
 * not own the process's signals.
 */
static int wait_release(int fd, const struct stat *st, const char *path, pid_t pid,
			const char *comm, const char *devnum)
{
	const struct timespec tick = { 0, 5 * 1000 * 1000 };
	double end = now_s() + RELEASE_WAIT_S;

	/* at err, the default level, so the terminal of the mount that
	 * waits says why: it replaces the "in use" error it used to get */
	pgdax_err("device %s: pid %d (%s) is releasing it after its unmount; waiting up to "
		     "%d s", path, (int)pid, comm, RELEASE_WAIT_S);
	while (now_s() < end) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (find_flock_holder(st->st_dev, st->st_ino) != pid ||
		    holder_mount_present(pid, devnum) == 1)
			return 1;
		nanosleep(&tick, NULL);
	}
	pgdax_err("device %s is still held by pid %d (%s) %d s after its mount went away: "
		  "see that daemon's log (a lazily unmounted file still open, or a pin a client "
		  "holds, keeps it)", path, (int)pid, comm, RELEASE_WAIT_S);
	return -EBUSY;
}

int dev_lock_excl(int fd, const char *path)
{
	char mnt[PATH_MAX], devnum[64];
	char comm[64];
	struct stat st;
	pid_t pid;
	int rc;

again:
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return 0;
	if (errno != EWOULDBLOCK) {
		rc = -errno;
		pgdax_err("cannot lock device %s: %s", path, strerror(-rc));
		return rc;
	}
	pid = fstat(fd, &st) ? -1 : find_flock_holder(st.st_dev, st.st_ino);
	if (pid > 0) {
		holder_comm(pid, comm, sizeof(comm));
		holder_mountpoint(pid, mnt, sizeof(mnt), devnum, sizeof(devnum));
		if (mnt[0] && holder_mount_present(pid, devnum) == 0) {
			rc = wait_release(fd, &st, path, pid, comm, devnum);
			if (rc == 1)
				goto again;
			return rc;
		}
		if (mnt[0])
			pgdax_err("device %s is in use by pid %d (%s), mounted on %s: pgdaxfs serves "
				  "a device at one mount point; to reach the volume from another "
				  "directory too, bind-mount it (mount --bind %s DIR), or unmount it "
				  "first (umount %s)", path, (int)pid, comm, mnt, mnt, mnt);
		else
			pgdax_err("device %s is in use by pid %d (%s): unmount it or stop that "
				  "process first", path, (int)pid, comm);
	} else {
		pgdax_err("device %s is in use by another process (holder not found in /proc/locks)",
			  path);
	}
	return -EBUSY;
}
