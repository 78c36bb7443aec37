/* SPDX-License-Identifier: MIT */
/*
 * Formatting a device with pgdaxfs (the logic behind mkfs.pgdaxfs, callable
 * from tests). Writes only the superblocks, the journal header, the bitmaps
 * and the root inode: never the inode table or data, so formatting a large
 * sparse emulated device writes (and allocates) little.
 */
#ifndef PGDAX_MKFS_H
#define PGDAX_MKFS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "format.h"

struct pgdax_mkfs_opts {
	uint32_t block_size;		/* 0 = 4096 */
	const char *label;		/* NULL = none; at most 63 bytes */
	bool uuid_set;
	uint8_t uuid[16];		/* when uuid_set; else random */
	uint64_t inodes;		/* 0 = from bytes_per_inode */
	uint64_t bytes_per_inode;	/* 0 = 16384 */
	uint64_t journal_bytes;		/* 0 = automatic (256 KiB .. 4 MiB) */
	uint64_t align_override;	/* emulated device alignment (0 = recorded/4K) */
	bool force;			/* overwrite an existing pgdaxfs */
	bool dry_run;			/* compute and print the layout, write nothing */
	bool quiet;
	FILE *out;			/* layout/summary output (NULL = stdout) */
};

/*
 * Compute the layout for a device of @dev_size bytes into @sb (checksummed
 * part sealed). 0 or -EINVAL (with a message) when it does not fit.
 */
int pgdax_mkfs_layout(uint64_t dev_size, uint64_t align, const struct pgdax_mkfs_opts *o,
		      struct pgdax_sb *sb);

/*
 * Format @device (any name pgdax_dev_open() accepts). Refuses a device
 * that holds a pgdaxfs unless o->force (-EEXIST, message names label and
 * uuid), and a device locked by a running daemon (-EBUSY). 0 or -errno.
 */
int pgdax_mkfs(const char *device, const struct pgdax_mkfs_opts *o);

/* Print the layout of @sb (mkfs -n, fsck -v). */
void pgdax_mkfs_print_layout(FILE *f, const struct pgdax_sb *sb);
/* "xxxxxxxx-xxxx-..." into buf[37] */
void pgdax_uuid_format(const uint8_t uuid[16], char buf[37]);
int pgdax_uuid_parse(const char *s, uint8_t uuid[16]);
/* A fresh RFC 4122 uuid: random (version 4) or time-based (version 1, with
 * a random node). 0 or -EIO. */
int pgdax_uuid_generate(uint8_t uuid[16], bool time_based);

/* pgdaxctl tune (lib/vol/tune.c): what to change. */
struct pgdax_tune_opts {
	const char *label;		/* NULL = keep; "" clears; at most 63 bytes */
	bool uuid_set;
	uint8_t uuid[16];		/* when uuid_set */
};

/*
 * Change the label and/or uuid of the UNMOUNTED volume on @device, in both
 * superblock copies and the journal header, crash-safely (the order and
 * what each crash point leaves: top of lib/vol/tune.c). Refuses a device
 * in use (-EBUSY, message names the holder), a volume not cleanly
 * unmounted, with a pending journal transaction or a damaged/mismatched
 * superblock (-EUCLEAN, message says to run fsck.pgdaxfs). 0 or -errno.
 */
int pgdax_tune(const char *device, const struct pgdax_tune_opts *o);

#endif /* PGDAX_MKFS_H */
