/* SPDX-License-Identifier: MIT */
/*
 * Emulated devices: a sparse regular file (usually under /dev/shm) that
 * stands in for a devdax. It has no alignment of its own: the volume on it
 * records the one it was formatted with, and the mount imposes it
 * (lib/dev/dev_align.c). Earlier versions kept the alignment in a
 * user.pgdax.align xattr on the file; it is neither written nor read any
 * more (a plain cp, or a filesystem without user xattrs, lost it, and the
 * volume then mounted at 4K). An image that still has one mounts with its
 * superblock's alignment, which mkfs wrote from the same value.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev_internal.h"
#include "util/log.h"

bool dev_align_valid(uint64_t align)
{
	return align == (4ull << 10) || align == (2ull << 20) || align == (1ull << 30);
}

int pgdax_dev_create_emulated(const char *path, uint64_t size, uint64_t align)
{
	struct stat st;
	int fd, rc = 0;

	if (!path || !*path) {
		pgdax_err("no emulated device path given");
		return -EINVAL;
	}
	if (!dev_align_valid(align)) {
		pgdax_err("alignment %" PRIu64 " for %s is not 4K, 2M or 1G", align, path);
		return -EINVAL;
	}
	if (size < PGDAX_DEV_MIN_SIZE || size % align) {
		pgdax_err("size %" PRIu64 " for %s must be at least 16 MiB and a multiple of the "
			  "alignment %" PRIu64, size, path, align);
		return -EINVAL;
	}
	if (size > (uint64_t)INT64_MAX) {
		pgdax_err("size %" PRIu64 " for %s is too large", size, path);
		return -EFBIG;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		pgdax_err("cannot create emulated device %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		pgdax_err("cannot stat %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		pgdax_err("%s exists and is not a regular file: choose another path for the "
			  "emulated device", path);
		goto out;
	}
	/* ftruncate keeps the file sparse: an untouched 1 GiB device costs nothing. */
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		pgdax_err("cannot size emulated device %s to %" PRIu64 " bytes: %s", path, size,
			  strerror(-rc));
		goto out;
	}
out:
	close(fd);
	return rc;
}

