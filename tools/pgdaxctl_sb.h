/* SPDX-License-Identifier: MIT */
/*
 * Read-only views pgdaxctl shares between its verbs (tools/pgdaxctl_sb.c):
 * a device's superblock (info, status, tune, udev-links, find) and the
 * pgdaxfs mounts of /proc/self/mountinfo (status).
 *
 * The superblock is read through a read-only mapping and never with the
 * device's exclusive lock (lib/dev/dev_lock.c): a daemon serving the
 * volume keeps it, and these reads neither fail nor disturb that mount.
 * On a mounted volume the hot fields and bitmaps are a snapshot that may
 * be a moment old.
 */
#ifndef PGDAXCTL_SB_H
#define PGDAXCTL_SB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vol/format.h"

struct pgdax_dev;

struct pgdaxctl_sb {
	struct pgdax_sb sb;	/* the copy in use (primary, else the backup) */
	bool from_backup;	/* the primary failed validation */
	bool backup_differs;	/* primary valid, backup missing or not equal */
	char why[200];		/* why the primary was not used */
	uint64_t backup_off;	/* byte offset of the backup in use / expected */
	uint64_t used_blocks;	/* set bits of the block bitmap in [0, blocks) */
	uint64_t used_inodes;	/* set bits of the inode bitmap in [1, inodes) */
	uint64_t jseq;		/* last committed journal transaction */
	bool jpending;		/* a record of transaction jseq + 1 is there */
	bool jhdr_ok;		/* header matches the superblock */
};

/*
 * Read and validate the superblock of @dev, falling back to the backup.
 * 0; -ENODATA: no pgdaxfs magic at all (not formatted); -EUCLEAN: a pgdaxfs
 * magic but no valid copy (v->why says why); -EPROTONOSUPPORT: an unknown
 * major version or incompat feature.
 */
int pgdaxctl_sb_read(struct pgdax_dev *dev, struct pgdaxctl_sb *v);
/* Error-state fields: zero on images older than minor 2. */
uint64_t pgdaxctl_sb_errors(const struct pgdax_sb *sb, uint64_t *count, uint64_t *first,
			    uint64_t *last, uint64_t *ino);
/* The label as a C string (at most PGDAX_LABEL_MAX bytes + NUL). */
void pgdaxctl_sb_label(const struct pgdax_sb *sb, char buf[PGDAX_LABEL_MAX + 1]);

struct pgdaxctl_mount {
	char *mountpoint;	/* unescaped */
	char *source;		/* the device the daemon serves */
	char *root;		/* root of the mount within the filesystem */
	dev_t dev;		/* st_dev of files in the mount */
};

/* Every fuse.pgdaxfs mount, in mountinfo order. 0 or -errno. */
int pgdaxctl_mounts(struct pgdaxctl_mount **out, size_t *n);
void pgdaxctl_mounts_free(struct pgdaxctl_mount *m, size_t n);

#endif /* PGDAXCTL_SB_H */
