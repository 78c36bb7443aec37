/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl remount {ro|rw} MOUNTPOINT: switch a pgdaxfs mount between
 * read-only and read-write; what `mount -o remount,ro|rw MNT` runs (through
 * mount.fuse.pgdaxfs, a link to mount.pgdaxfs).
 *
 * Two parties must agree, and the kernel's FUSE tells the daemon nothing
 * about a remount: the kernel (the superblock's read-only flag, changed by
 * mount(2) MS_REMOUNT) and the daemon (PGDAX_IOC_REMOUNT on the mount
 * root; fs/remount.c). The order is chosen so that no write the kernel lets
 * through ever meets a daemon that refuses it:
 *   ro: kernel first (it refuses with EBUSY while a file is open for
 *       writing, and writes back its dirty pages while the daemon still
 *       takes writes), then the daemon; if the daemon refuses, the kernel
 *       is put back to read-write.
 *   rw: daemon first, then the kernel; if the kernel refuses, the daemon
 *       is put back to read-only.
 * Root only (both mount(2) and the ioctl want it).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pgdaxctl.h"
#include "pin/pgdax_ioctl.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pgdaxctl remount {ro|rw} MOUNTPOINT\n\n"
		   "Make a mounted pgdaxfs read-only or read-write again (what\n"
		   "`mount -o remount,ro MOUNTPOINT` runs). Going read-only writes back\n"
		   "what the kernel caches and fails with 'busy' while a file is open\n"
		   "for writing. A mount made read-only with -o ro cannot become\n"
		   "read-write: unmount it and mount it read-write.\n\n"
		   "  -h, --help    this help\n");
}

static int daemon_remount(int fd, bool ro)
{
	struct pgdax_ioc_remount rm = { .flags = ro ? PGDAX_REMOUNT_RDONLY : 0 };

	return ioctl(fd, PGDAX_IOC_REMOUNT, &rm) < 0 ? -errno : 0;
}

/*
 * A remount sets every per-mount flag to what it is given: pass on the ones
 * the mount has (nosuid, nodev, noexec, the atime mode), or `remount,ro`
 * would quietly turn a nosuid,nodev mount into a suid,dev one.
 */
static unsigned long kept_flags(const char *mnt)
{
	static const struct { unsigned long st, ms; } map[] = {
		{ ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV }, { ST_NOEXEC, MS_NOEXEC },
		{ ST_NOATIME, MS_NOATIME }, { ST_NODIRATIME, MS_NODIRATIME },
		{ ST_RELATIME, MS_RELATIME }, { ST_SYNCHRONOUS, MS_SYNCHRONOUS },
	};
	struct statvfs sv;
	unsigned long ms = 0;

	if (statvfs(mnt, &sv) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (sv.f_flag & map[i].st)
			ms |= map[i].ms;
	return ms;
}

static unsigned long keep;	/* kept_flags() of the mount, read once */

static int kernel_remount(const char *mnt, bool ro)
{
	return mount(NULL, mnt, NULL, MS_REMOUNT | keep | (ro ? MS_RDONLY : 0), NULL) < 0 ?
		       -errno : 0;
}

static int fail(const char *mnt, const char *what, int err)
{
	if (err == -EBUSY)
		fprintf(stderr, "pgdaxctl remount: %s is busy: a file is open for writing, or "
			"a deleted file is still open (close it; see lsof %s or fuser -vm %s)\n",
			mnt, mnt, mnt);
	else if (err == -EROFS)
		fprintf(stderr, "pgdaxctl remount: %s was mounted read-only (-o ro): "
			"unmount it and mount it read-write\n", mnt);
	else if (err == -ENOTTY)
		fprintf(stderr, "pgdaxctl remount: %s is not the root of a pgdaxfs mount\n", mnt);
	else
		fprintf(stderr, "pgdaxctl remount: %s: %s: %s\n", mnt, what, strerror(-err));
	return PGDAXCTL_EXIT_FAIL;
}

int cmd_remount(int argc, char **argv)
{
	const char *mnt;
	bool ro;
	int fd, r;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return PGDAXCTL_EXIT_OK;
	}
	if (argc != 3 || (strcmp(argv[1], "ro") && strcmp(argv[1], "rw"))) {
		usage(stderr);
		return PGDAXCTL_EXIT_USAGE;
	}
	ro = !strcmp(argv[1], "ro");
	mnt = argv[2];
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOTCONN)
			fprintf(stderr, "pgdaxctl remount: stale pgdaxfs mount at %s: run umount %s "
				"(or fusermount3 -u %s)\n", mnt, mnt, mnt);
		else
			fprintf(stderr, "pgdaxctl remount: %s: %s\n", mnt, strerror(-r));
		return PGDAXCTL_EXIT_FAIL;
	}
	keep = kept_flags(mnt);
	if (ro) {
		r = kernel_remount(mnt, true);
		if (r < 0) {
			close(fd);
			return fail(mnt, "mount(2) MS_REMOUNT|MS_RDONLY", r);
		}
		r = daemon_remount(fd, true);
		if (r < 0) {
			int r2 = kernel_remount(mnt, false);

			if (r2 < 0)
				fprintf(stderr, "pgdaxctl remount: %s: could not make it read-write "
					"again: %s\n", mnt, strerror(-r2));
			close(fd);
			return fail(mnt, "the daemon refused", r);
		}
	} else {
		r = daemon_remount(fd, false);
		if (r < 0) {
			close(fd);
			return fail(mnt, "the daemon refused", r);
		}
		r = kernel_remount(mnt, false);
		if (r < 0) {
			daemon_remount(fd, true);
			close(fd);
			return fail(mnt, "mount(2) MS_REMOUNT", r);
		}
	}
	close(fd);
	return PGDAXCTL_EXIT_OK;
}
