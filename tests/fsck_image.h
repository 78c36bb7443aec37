/* SPDX-License-Identifier: MIT */
/*
 * Test helper shared by tests/check_fsck_corrupt.c and fuzz/fuzz_fsck.c: a
 * small populated pgdaxfs image in memory (made by mkfs.pgdaxfs and the
 * lib/vol/vol.h API on an emulated device), the byte ranges of its metadata
 * (what corruption tests flip and the fuzzer mutates), and a mount that
 * walks everything through the vol API.
 */
#ifndef PGDAX_TEST_FSCK_IMAGE_H
#define PGDAX_TEST_FSCK_IMAGE_H

#include <limits.h>
#include <stdint.h>

#define FIMG_MAX_RANGES 512

struct fimg_range {
	uint64_t off, len;
	char what[32];
};

struct fimg {
	uint8_t *img;			/* the clean image (malloc'd, exactly size bytes) */
	uint64_t size;
	char dev[PATH_MAX];		/* emulated device file used for mounts */
	uint32_t bs;
	uint64_t blocks, ninodes, data_start;
	struct fimg_range r[FIMG_MAX_RANGES];
	int nr;
	/* inodes of the population, for targeted corruption */
	uint64_t ino_file, ino_big, ino_dir, ino_sub, ino_link, ino_symlink_long;
	uint64_t ino_frag;		/* more extents than the inode holds: an extent block */
	uint64_t ino_xattr;		/* a chain of xattr blocks and 64 KiB values (format 1.4) */
};

/*
 * mkfs (lib/vol/mkfs.h) a @size-byte emulated device, populate it
 * (files, hard links, nested directories, short and long symlinks, xattrs,
 * a removed entry), read it into f->img and list its metadata ranges.
 * Returns 0 or -errno (with a message on stderr).
 */
int fimg_build(struct fimg *f, uint64_t size);
void fimg_destroy(struct fimg *f);

/* Byte offset of inode @ino's slot / first block of its extent map (0 if none). */
uint64_t fimg_inode_off(const struct fimg *f, const uint8_t *img, uint64_t ino);
/* Device block of file page @page of @ino in @img (0 if unmapped), and the
 * byte offset of the extent record mapping it (in *rec, may be NULL). */
uint64_t fimg_page_block(const struct fimg *f, const uint8_t *img, uint64_t ino,
			 uint64_t page, uint64_t *rec);
/* After changing the extent record at @rec: if it is an inline one
 * (PGDAX_IFL_INLINE_EXT), reseal its inode so the change is what fsck meets. */
void fimg_rec_reseal(const struct fimg *f, uint8_t *img, uint64_t rec);
/* Byte offset of the directory record for @name in directory @dir, or 0. */
uint64_t fimg_dirent_off(const struct fimg *f, const uint8_t *img, uint64_t dir,
			 const char *name);
/* Recompute the crc of the inode slot at @off. */
void fimg_inode_reseal(uint8_t *img, uint64_t off);

/*
 * Write @img to the device file, mount it through the vol API, walk the
 * whole tree (readdir, lookup, getattr, read, readlink, listxattr/getxattr)
 * and unmount. Returns 0, or -errno of the first failing call.
 */
int fimg_mount_walk(struct fimg *f, const uint8_t *img);

#endif
