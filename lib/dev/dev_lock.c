/* SPDX-License-Identifier: MIT */
/*
 * PGDAX_DEV_EXCL: one writer per device. flock(LOCK_EX|LOCK_NB) on the
 * device fd; the lock dies with the fd (close or process death), so a
 * crashed daemon never leaves a stale lock. On -EBUSY the message names the
 * holder, found by matching the device's dev:inode in /proc/locks and
 * reading /proc/PID/comm (best effort: a holder in another pid namespace
 * shows as "unknown").
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
static void holder_mountpoint(pid_t pid, char *mnt, size_t len)
{
	char line[PATH_MAX + 2], p[PATH_MAX];
	struct dirent *de;
	DIR *d;

	mnt[0] = '\0';
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

			if (l < len) {
				memcpy(mnt, line, l);
				mnt[l] = '\0';
			}
		}
		fclose(f);
	}
	closedir(d);
}

int dev_lock_excl(int fd, const char *path)
{
	char mnt[PATH_MAX];
	char comm[64];
	struct stat st;
	pid_t pid;

	if (!flock(fd, LOCK_EX | LOCK_NB))
		return 0;
	if (errno != EWOULDBLOCK) {
		int rc = -errno;

		pgdax_err("cannot lock device %s: %s", path, strerror(-rc));
		return rc;
	}
	pid = fstat(fd, &st) ? -1 : find_flock_holder(st.st_dev, st.st_ino);
	if (pid > 0) {
		holder_comm(pid, comm, sizeof(comm));
		holder_mountpoint(pid, mnt, sizeof(mnt));
		if (mnt[0])
			pgdax_err("device %s is in use by pid %d (%s), mounted on %s: unmount it "
				  "first (umount %s)", path, (int)pid, comm, mnt, mnt);
		else
			pgdax_err("device %s is in use by pid %d (%s): unmount it or stop that "
				  "process first", path, (int)pid, comm);
	} else {
		pgdax_err("device %s is in use by another process (holder not found in /proc/locks)",
			  path);
	}
	return -EBUSY;
}
