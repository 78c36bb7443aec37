/* SPDX-License-Identifier: MIT */
/*
 * Device names -> paths, and "what kind of file is this?".
 *
 * Accepted names: /dev/daxX.Y (or any path), daxX.Y (-> /dev/daxX.Y),
 * namespaceX.Y (libndctl: walk buses/regions/namespaces, then the namespace's
 * dax region through libdaxctl), or a regular file (emulated device).
 * Every refusal says what the thing is and how to get a usable device.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>

#include "dev_internal.h"
#include "util/log.h"

/* "<prefix>N.M" with decimal N and M, nothing else. */
static bool is_dotted_name(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p;
	int dots = 0, digits = 0;

	if (strncmp(name, prefix, n))
		return false;
	for (p = name + n; *p; p++) {
		if (*p == '.') {
			if (!digits || dots++)
				return false;
			digits = 0;
		} else if (*p >= '0' && *p <= '9') {
			digits++;
		} else {
			return false;
		}
	}
	return dots == 1 && digits > 0;
}

static int copy_path(char *path, size_t len, const char *src)
{
	if (snprintf(path, len, "%s", src) >= (int)len) {
		pgdax_err("device path %s is too long", src);
		return -ENAMETOOLONG;
	}
	return 0;
}

static const char *mode_name(enum ndctl_namespace_mode mode)
{
	switch (mode) {
	case NDCTL_NS_MODE_FSDAX: return "fsdax";
	case NDCTL_NS_MODE_SECTOR: return "sector";
	case NDCTL_NS_MODE_RAW: return "raw";
	case NDCTL_NS_MODE_DEVDAX: return "devdax";
	default: return "unknown";
	}
}

static int namespace_to_daxdev(struct ndctl_namespace *ndns, const char *name,
			       char *path, size_t len)
{
	enum ndctl_namespace_mode mode = ndctl_namespace_get_mode(ndns);
	struct daxctl_region *region;
	struct ndctl_dax *dax;
	struct daxctl_dev *ddev;
	char buf[PATH_MAX];

	if (mode != NDCTL_NS_MODE_DEVDAX) {
		pgdax_err("%s is in %s mode, pgdaxfs needs devdax: reconfigure it with "
			  "`ndctl create-namespace -f -e %s -m devdax` (this destroys its data)",
			  name, mode_name(mode), name);
		return -ENODEV;
	}
	dax = ndctl_namespace_get_dax(ndns);
	region = dax ? ndctl_dax_get_daxctl_region(dax) : NULL;
	if (region) {
		daxctl_dev_foreach(region, ddev) {
			const char *devname = daxctl_dev_get_devname(ddev);

			if (!devname || !daxctl_dev_is_enabled(ddev))
				continue;
			snprintf(buf, sizeof(buf), "/dev/%s", devname);
			return copy_path(path, len, buf);
		}
	}
	pgdax_err("%s is in devdax mode but has no enabled dax device: "
		  "enable it with `ndctl enable-namespace %s`", name, name);
	return -ENODEV;
}

static int resolve_namespace(const char *name, char *path, size_t len)
{
	struct ndctl_namespace *ndns;
	struct ndctl_region *region;
	struct ndctl_bus *bus;
	struct ndctl_ctx *ctx;
	int rc;

	rc = ndctl_new(&ctx);
	if (rc < 0) {
		pgdax_err("cannot resolve %s: libndctl failed to initialize: %s",
			  name, strerror(-rc));
		return rc;
	}
	rc = -ENOENT;
	ndctl_bus_foreach(ctx, bus) {
		ndctl_region_foreach(bus, region) {
			ndctl_namespace_foreach(region, ndns) {
				const char *devname = ndctl_namespace_get_devname(ndns);

				if (devname && !strcmp(devname, name)) {
					rc = namespace_to_daxdev(ndns, name, path, len);
					goto out;
				}
			}
		}
	}
	pgdax_err("no namespace %s on this machine (`ndctl list -N` shows the namespaces; "
		  "create one with `ndctl create-namespace -m devdax`)", name);
out:
	ndctl_unref(ctx);
	return rc;
}

int pgdax_dev_resolve(const char *name, char *path, size_t len)
{
	char buf[PATH_MAX];
	struct stat st;

	if (!name || !*name || !path || !len) {
		pgdax_err("no device name given");
		return -EINVAL;
	}
	if (is_dotted_name(name, "namespace"))
		return resolve_namespace(name, path, len);
	if (is_dotted_name(name, "dax")) {
		snprintf(buf, sizeof(buf), "/dev/%s", name);
		if (stat(buf, &st) < 0) {
			pgdax_err("no devdax device %s (%s: %s); `daxctl list` shows the devices, "
				  "or give the path of an emulated device file", name, buf,
				  strerror(errno));
			return -ENOENT;
		}
		return copy_path(path, len, buf);
	}
	/* A path: canonical when it exists, as given otherwise (open reports it). */
	if (realpath(name, buf))
		return copy_path(path, len, buf);
	return copy_path(path, len, name);
}

/* Basename of the subsystem of a character device, e.g. "dax", "mem". */
static int char_subsystem(const struct stat *st, char *out, size_t len)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem",
		 major(st->st_rdev), minor(st->st_rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	n = (ssize_t)strnlen(base, len - 1);
	memcpy(out, base, (size_t)n);
	out[n] = '\0';
	return 0;
}

int dev_check_kind(const char *path, enum pgdax_dev_kind *kind)
{
	char subsys[64];
	struct stat st;
	int rc;

	if (stat(path, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			pgdax_err("device %s does not exist: give a devdax device (/dev/daxX.Y) or "
				  "create an emulated device file (mkfs.pgdaxfs --size)", path);
		else if (rc == -EACCES)
			pgdax_err("permission denied looking up %s: run as a user that can reach it", path);
		else
			pgdax_err("cannot stat device %s: %s", path, strerror(-rc));
		return rc;
	}
	if (S_ISREG(st.st_mode)) {
		*kind = PGDAX_DEV_EMULATED;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		pgdax_err("%s is a directory: give a devdax device (/dev/daxX.Y) or an emulated "
			  "device file", path);
		return -EISDIR;
	}
	if (S_ISBLK(st.st_mode)) {
		pgdax_err("%s is a block device, not a devdax device: reconfigure its namespace "
			  "with `ndctl create-namespace -f -e namespaceX.Y -m devdax`, or use a "
			  "regular file as an emulated device", path);
		return -ENODEV;
	}
	if (S_ISCHR(st.st_mode)) {
		rc = char_subsystem(&st, subsys, sizeof(subsys));
		if (!rc && !strcmp(subsys, "dax")) {
			*kind = PGDAX_DEV_DEVDAX;
			return 0;
		}
		if (rc)
			pgdax_err("%s is not a devdax device (character device %u:%u has no "
				  "subsystem in sysfs)", path, major(st.st_rdev), minor(st.st_rdev));
		else
			pgdax_err("%s is not a devdax device (it is a '%s' character device); "
				  "`daxctl list` shows the devdax devices", path, subsys);
		return -ENODEV;
	}
	pgdax_err("%s is neither a devdax device nor a regular file", path);
	return -ENODEV;
}

/* Read /sys/dev/char/MAJ:MIN/align (fallback when libpmem2 cannot tell). */
int dev_devdax_sysfs_align(const char *path, uint64_t *align)
{
	unsigned long long v;
	char sys[PATH_MAX];
	struct stat st;
	FILE *f;
	int rc;

	if (stat(path, &st) < 0)
		return -errno;
	snprintf(sys, sizeof(sys), "/sys/dev/char/%u:%u/align",
		 major(st.st_rdev), minor(st.st_rdev));
	f = fopen(sys, "re");
	if (!f)
		return -errno;
	rc = fscanf(f, "%llu", &v) == 1 ? 0 : -EINVAL;
	fclose(f);
	if (!rc)
		*align = v;
	return rc;
}
