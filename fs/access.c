/* SPDX-License-Identifier: MIT */
/*
 * Who may map device memory: -o dax_group=GROUP,dax_mode=MODE.
 *
 * A DAX mapping opens the device itself (DESIGN.md section 5: the kernel's
 * permission on the device decides who may touch device memory, and the
 * daemon checks the same rule before it pins), so a non-root user needs
 * read (and, for a writable mapping, write) access to the device, not only
 * to the file. For an emulated device (a regular file, created 0600 by
 * root) these options set the image file's group and mode when the daemon
 * starts, before anything is served; members of GROUP may then map. The
 * file's mode is the whole grant: it outlives this mount (as a chmod
 * would), so a later mount without the options keeps it.
 *
 * A devdax node (/dev/daxX.Y) is created by the kernel and its owner and
 * mode are udev's to set, at every boot and re-creation: changing it here
 * would be undone silently. So the options are refused for a device node,
 * with the rule to install instead (tools/70-pgdax-dax-access.rules).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "util/log.h"

int fs_device_grant(struct fs_opts *o)
{
	struct stat st;

	if (o->dax_gid < 0 && o->dax_mode < 0)
		return 0;
	if (stat(o->device, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", fs_prog, o->device, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: dax_group/dax_mode set the group and mode of an emulated "
			"device file; %s is a device node, whose owner and mode udev sets: "
			"install a rule such as tools/70-pgdax-dax-access.rules "
			"(SUBSYSTEM==\"dax\", GROUP=\"pgdax\", MODE=\"0660\") instead\n",
			fs_prog, o->device);
		return -1;
	}
	if (o->dax_gid >= 0 && chown(o->device, (uid_t)-1, (gid_t)o->dax_gid) < 0) {
		fprintf(stderr, "%s: dax_group: cannot set the group of %s to %ld: %s\n",
			fs_prog, o->device, o->dax_gid, strerror(errno));
		return -1;
	}
	if (o->dax_mode >= 0 && chmod(o->device, (mode_t)o->dax_mode) < 0) {
		fprintf(stderr, "%s: dax_mode: cannot set the mode of %s to %04o: %s\n",
			fs_prog, o->device, (unsigned)o->dax_mode, strerror(errno));
		return -1;
	}
	if (stat(o->device, &st) == 0)
		pgdax_notice("%s: group %u, mode %04o: DAX mappings need %s access to it",
			     o->device, (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777),
			     "read (read-only) or read and write (writable)");
	return 0;
}
