/* SPDX-License-Identifier: MIT */
/*
 * Emulated devices: a sparse regular file (usually under /dev/shm) that
 * stands in for a devdax. Its mapping alignment is recorded in the xattr
 * user.pgdax.align as a decimal byte count, so every later open imposes the
 * same alignment rules a real devdax would (tmpfs, ext4, xfs and btrfs all
 * keep user xattrs).
 *
 * Fallback, documented: on a filesystem that refuses user xattrs
 * (ENOTSUP), pgdax_dev_create_emulated() still creates the file, warns,
 * and returns 0; such a device opens with 4K alignment unless every opener
 * passes the alignment explicitly (align_override / --align). We do not keep
 * a sidecar file: it would silently go stale when the image is copied.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "dev_internal.h"
#include "util/log.h"

bool dev_align_valid(uint64_t align)
{
	return align == (4ull << 10) || align == (2ull << 20) || align == (1ull << 30);
}

int pgdax_dev_create_emulated(const char *path, uint64_t size, uint64_t align)
{
	char val[32];
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
	snprintf(val, sizeof(val), "%" PRIu64, align);
	if (fsetxattr(fd, PGDAX_ALIGN_XATTR, val, strlen(val), 0) < 0) {
		if (errno == ENOTSUP || errno == EOPNOTSUPP) {
			pgdax_warn("the filesystem of %s does not keep user xattrs: its alignment "
				   "(%s) is not recorded; pass it on every open (--align)", path, val);
		} else {
			rc = -errno;
			pgdax_err("cannot record alignment of %s (xattr %s): %s", path,
				  PGDAX_ALIGN_XATTR, strerror(-rc));
		}
	}
out:
	close(fd);
	return rc;
}

/*
 * Alignment recorded with an emulated device: 0 and *align set, or -ENODATA
 * when none is recorded (caller falls back to 4K), or -EINVAL for garbage.
 */
int dev_emul_read_align(int fd, const char *path, uint64_t *align)
{
	char val[32], *end;
	unsigned long long v;
	ssize_t n;

	n = fgetxattr(fd, PGDAX_ALIGN_XATTR, val, sizeof(val) - 1);
	if (n < 0)
		return (errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP) ? -ENODATA
										       : -errno;
	val[n] = '\0';
	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || end == val || *end || !dev_align_valid(v)) {
		pgdax_err("%s has an invalid %s xattr '%s': expected 4096, 2097152 or 1073741824 "
			  "(fix with setfattr -n %s -v 2097152 %s)", path, PGDAX_ALIGN_XATTR, val,
			  PGDAX_ALIGN_XATTR, path);
		return -EINVAL;
	}
	*align = v;
	return 0;
}
