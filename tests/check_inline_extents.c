/* SPDX-License-Identifier: MIT */
/*
 * Small files cost what they hold (issue 16, "Space"): an extent map of up
 * to PGDAX_INLINE_EXTENTS records lives in the inode (PGDAX_IFL_INLINE_EXT,
 * format 1.3) instead of a 4 KiB extent block.
 *   - a 2-byte file costs one data block: st_blocks and the free count;
 *   - a fifth extent moves the map into an extent block, keeping every
 *     byte (and across a remount); emptied, the map gives the block back
 *     and the next extent starts inline again; fsck is clean on both forms;
 *   - a crash at every persist barrier of that conversion (PGDAX_CRASH_AT,
 *     PGDAX_CRASH_SHADOW: the image a power cut would leave) loses no
 *     acknowledged byte, fsck -n finds nothing wrong, the mount works;
 *   - the last close gives back the pages past EOF of the 2 MiB extent an
 *     append allocated ahead (fallocate's KEEP_SIZE blocks stay);
 *   - an image of an older minor (1) keeps the extent-block form, so older
 *     drivers still read it after this one wrote to it;
 *   - statfs, the stats pgdaxctl status shows and fsck's summary agree on
 *     used blocks and inodes, on an empty volume and after a workload.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dev/dev.h"
#include "fsck/fsck.h"
#include "util/log.h"
#include "vol/format.h"
#include "vol/mkfs.h"
#include "vol/vol.h"
#include "vol/vol_test.h"

#define DEV_SIZE	(16u << 20)
#define BS		4096u
#define NPAGES		6	/* pages 0, 2, .., 10: one extent each, past the inline 4 */

static char devpath[256], orig[256], shadow[256], countpath[256], rangepath[256];
static struct pgdax_cred cred = { .uid = 0, .gid = 0 };
static struct pgdax_vol *vol;

static void setup(void)
{
	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-inl-%d", getpid());
	snprintf(orig, sizeof(orig), "/dev/shm/pgdax-inl-%d.orig", getpid());
	snprintf(shadow, sizeof(shadow), "/dev/shm/pgdax-inl-%d.shadow", getpid());
	snprintf(countpath, sizeof(countpath), "/dev/shm/pgdax-inl-%d.count", getpid());
	snprintf(rangepath, sizeof(rangepath), "/dev/shm/pgdax-inl-%d.range", getpid());
	unlink(devpath);
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, DEV_SIZE, 4096), 0);
	struct pgdax_mkfs_opts o = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
}

static void teardown(void)
{
	if (vol)
		ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	unlink(devpath);
	unlink(orig);
	unlink(shadow);
	unlink(countpath);
	unlink(rangepath);
}

static void mount_dev(const char *dev)
{
	ck_assert_int_eq(pgdax_vol_mount(dev, NULL, &vol), 0);
}

static void unmount(void)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
}

/* Sparse copy of an emulated device. */
static void copy_dev(const char *from, const char *to)
{
	static char buf[1 << 16];
	static const char zero[4096];
	unlink(to);
	ck_assert_int_eq(pgdax_dev_create_emulated(to, DEV_SIZE, 4096), 0);
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY);
	ck_assert(in >= 0 && out >= 0);
	for (off_t off = 0;; off += sizeof(buf)) {
		ssize_t r = pread(in, buf, sizeof(buf), off);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i += 4096)
			if (memcmp(buf + i, zero, 4096) && pwrite(out, buf + i, 4096, off + i) != 4096)
				ck_abort_msg("copy %s: %s", to, strerror(errno));
	}
	close(in);
	close(out);
}

static int fsck(const char *dev, struct pgdax_fsck_result *res)
{
	FILE *out = fopen("/dev/null", "w");
	struct pgdax_fsck_opts fo = { .flags = PGDAX_FSCK_FORCE, .out = out };
	int ec = pgdax_fsck_device(dev, 0, &fo, res);
	fclose(out);
	return ec;
}

static void fsck_clean(const char *dev, const char *ctx)
{
	struct pgdax_fsck_result res;
	int ec = fsck(dev, &res);
	ck_assert_msg(ec == PGDAX_FSCK_EXIT_OK && res.problems == 0,
		      "%s: fsck -n exit %d, %llu problems", ctx, ec,
		      (unsigned long long)res.problems);
}

static uint64_t lookup(struct pgdax_vol *v, const char *name)
{
	struct stat st;
	if (pgdax_vol_lookup(v, PGDAX_ROOT_INO, name, &st))
		return 0;
	pgdax_vol_iput(v, st.st_ino, 1);
	return st.st_ino;
}

static uint64_t free_blocks(void)
{
	struct statvfs sv;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	return sv.f_bfree;
}

static uint64_t st_blocks(uint64_t ino)
{
	struct stat st;
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	return (uint64_t)st.st_blocks;
}

static char page_byte(int i)
{
	return (char)('A' + i);
}

/* Write page 2*i of @f with page_byte(i); what pgdax_vol_write returned. */
static ssize_t put_page(struct pgdax_vol *v, struct pgdax_vol_file *f, int i)
{
	char buf[BS];
	memset(buf, page_byte(i), sizeof(buf));
	return pgdax_vol_write(v, f, (uint64_t)i * 2 * BS, buf, BS, &cred);
}

static void write_page(struct pgdax_vol *v, struct pgdax_vol_file *f, int i)
{
	ck_assert_int_eq(put_page(v, f, i), BS);
}

/* Read [off, off+n) of @ino through read_map. */
static void read_at(struct pgdax_vol *v, uint64_t ino, uint64_t off, char *out, size_t n)
{
	struct pgdax_vol_file *f;
	struct stat st;
	size_t done = 0;

	ck_assert_int_eq(pgdax_vol_open(v, ino, O_RDONLY, &cred, &f), 0);
	memset(out, 0, n);
	while (done < n) {
		struct iovec iov[16];
		struct pgdax_io io = { 0 };
		int niov = 0;
		ssize_t r = pgdax_vol_read_map(v, f, off + done, n - done, iov, 16, &niov, &io);
		ck_assert_int_ge(r, 0);
		size_t got = 0;
		for (int i = 0; i < niov; i++) {
			memcpy(out + done + got, iov[i].iov_base, iov[i].iov_len);
			got += iov[i].iov_len;
		}
		pgdax_vol_io_done(v, &io);
		if (r == 0)
			break;
		done += (size_t)r;
	}
	pgdax_vol_release(v, &f);
	(void)st;
}

/* Pages 0..2*(n-1) of @ino hold what write_page(i) wrote, holes read zero. */
static void check_pages(struct pgdax_vol *v, uint64_t ino, int n, const char *ctx)
{
	static char buf[BS];
	for (int i = 0; i < n; i++) {
		read_at(v, ino, (uint64_t)i * 2 * BS, buf, BS);
		for (size_t k = 0; k < BS; k++)
			ck_assert_msg(buf[k] == page_byte(i), "%s: page %d byte %zu is %#x", ctx,
				      2 * i, k, (unsigned char)buf[k]);
		if (i + 1 < n) {
			read_at(v, ino, (uint64_t)(2 * i + 1) * BS, buf, BS);
			for (size_t k = 0; k < BS; k++)
				ck_assert_msg(buf[k] == 0, "%s: hole page %d byte %zu is %#x", ctx,
					      2 * i + 1, k, (unsigned char)buf[k]);
		}
	}
}

/* ---------------------------------------------------------------- cost */

START_TEST(test_small_file_costs_one_data_block)
{
	struct pgdax_vol_file *f;
	struct stat st;

	mount_dev(devpath);
	/* a first file gives the root its directory block */
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "first", 0644, O_RDWR, &cred,
					  &st, &f), 0);
	pgdax_vol_release(vol, &f);
	pgdax_vol_iput(vol, st.st_ino, 1);
	uint64_t before = free_blocks();

	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "two", 0644, O_RDWR, &cred,
					  &st, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "hi", 2, &cred), 2);
	pgdax_vol_release(vol, &f);
	ck_assert_uint_eq(st_blocks(st.st_ino), BS / 512);
	ck_assert_uint_eq(free_blocks(), before - 1);
	ck_assert_int_eq(vol_test_inline_map(vol, st.st_ino), 1);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	unmount();

	mount_dev(devpath);	/* the same after a remount */
	uint64_t ino = lookup(vol, "two");
	char buf[2];
	read_at(vol, ino, 0, buf, 2);
	ck_assert(!memcmp(buf, "hi", 2));
	ck_assert_uint_eq(st_blocks(ino), BS / 512);
	ck_assert_uint_eq(free_blocks(), before - 1);
	unmount();
	fsck_clean(devpath, "small file");
}
END_TEST

START_TEST(test_extent_map_outgrowing_the_inode_moves_to_a_block_and_back)
{
	struct pgdax_vol_file *f;
	struct stat st;

	mount_dev(devpath);
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "frag", 0644, O_RDWR, &cred,
					  &st, &f), 0);
	uint64_t ino = st.st_ino;
	uint64_t base = free_blocks();
	for (int i = 0; i < PGDAX_INLINE_EXTENTS; i++)
		write_page(vol, f, i);
	/* four one-page extents with holes between them: all in the inode */
	ck_assert_int_eq(vol_test_inline_map(vol, ino), 1);
	ck_assert_uint_eq(st_blocks(ino), PGDAX_INLINE_EXTENTS * (BS / 512));
	ck_assert_uint_eq(free_blocks(), base - PGDAX_INLINE_EXTENTS);
	check_pages(vol, ino, PGDAX_INLINE_EXTENTS, "inline");
	pgdax_vol_release(vol, &f);
	unmount();
	fsck_clean(devpath, "four inline extents");

	mount_dev(devpath);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &cred, &f), 0);
	for (int i = PGDAX_INLINE_EXTENTS; i < NPAGES; i++)
		write_page(vol, f, i);
	/* the fifth moved the map into an extent block: one block more */
	ck_assert_int_eq(vol_test_inline_map(vol, ino), 0);
	ck_assert_uint_eq(st_blocks(ino), (NPAGES + 1) * (BS / 512));
	ck_assert_uint_eq(free_blocks(), base - NPAGES - 1);
	check_pages(vol, ino, NPAGES, "converted");
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	pgdax_vol_release(vol, &f);
	unmount();
	fsck_clean(devpath, "extent block");

	mount_dev(devpath);
	check_pages(vol, ino, NPAGES, "converted, remounted");
	/* emptied: the extent block goes, and the next extent starts inline */
	struct stat a = { .st_size = 0 }, out;
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &cred, &out), 0);
	ck_assert_uint_eq(st_blocks(ino), 0);
	ck_assert_uint_eq(free_blocks(), base);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &cred, &f), 0);
	write_page(vol, f, 0);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(vol_test_inline_map(vol, ino), 1);
	ck_assert_uint_eq(st_blocks(ino), BS / 512);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	unmount();
	fsck_clean(devpath, "back inline");
}
END_TEST

/*
 * Appending past 1 MiB allocates 2 MiB extents (for DAX huge pages); the
 * last close gives back the pages of the last one past EOF, keeping the
 * data and what fallocate(KEEP_SIZE) asked for past EOF of another file.
 */
START_TEST(test_last_close_gives_back_what_appends_allocated_past_eof)
{
	static char buf[128 << 10];
	const uint64_t size = 1536 << 10;	/* 1.5 MiB: ends inside a 2 MiB extent */
	struct pgdax_vol_file *f;
	struct stat st;

	mount_dev(devpath);
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "log", 0644, O_RDWR, &cred,
					  &st, &f), 0);
	uint64_t ino = st.st_ino;
	uint64_t base = free_blocks();	/* (the root's directory block is taken) */
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		memset(buf, (int)('a' + off / sizeof(buf)), sizeof(buf));
		ck_assert_int_eq(pgdax_vol_write(vol, f, off, buf, sizeof(buf), &cred),
				 (ssize_t)sizeof(buf));
	}
	uint64_t pages = size / BS;
	ck_assert_uint_gt(base - free_blocks(), pages + 1);	/* ahead of EOF while open */
	pgdax_vol_release(vol, &f);
	/* closed: the data pages, plus at most the extent block */
	ck_assert_uint_le(base - free_blocks(), pages + 1);
	ck_assert_uint_ge(base - free_blocks(), pages);
	ck_assert_uint_eq(st_blocks(ino), (base - free_blocks()) * (BS / 512));
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		static char got[128 << 10];
		read_at(vol, ino, off, got, sizeof(got));
		for (size_t k = 0; k < sizeof(got); k += 4096)
			ck_assert_int_eq(got[k], (int)('a' + off / sizeof(buf)));
	}
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);

	/* fallocate(KEEP_SIZE) past EOF is asked for: the close keeps it */
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "pre", 0644, O_RDWR, &cred,
					  &st, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "x", 1, &cred), 1);
	ck_assert_int_eq(pgdax_vol_fallocate(vol, st.st_ino, FALLOC_FL_KEEP_SIZE, 0,
					     64 * BS, &cred), 0);
	uint64_t kept = st_blocks(st.st_ino);
	pgdax_vol_release(vol, &f);
	ck_assert_uint_eq(st_blocks(st.st_ino), kept);
	ck_assert_uint_ge(kept, 64 * (BS / 512));
	pgdax_vol_iput(vol, st.st_ino, 1);
	unmount();
	fsck_clean(devpath, "after the last close");
}
END_TEST

/* An image of minor 1 (written by an older mkfs) keeps extent blocks. */
START_TEST(test_older_minor_image_keeps_the_extent_block_form)
{
	struct pgdax_sb sb;
	int fd = open(devpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &sb, sizeof(sb), 0), (ssize_t)sizeof(sb));
	ck_assert_msg(le64toh(sb.s_feat_incompat) & PGDAX_FEAT_INCOMPAT_INLINE_EXT,
		      "mkfs did not mark inline maps incompatible: an older fsck would clear them");
	sb.s_minor = htole16(1);
	sb.s_feat_incompat &= ~htole64(PGDAX_FEAT_INCOMPAT_INLINE_EXT);	/* as older mkfs wrote it */
	sb.s_crc = htole32(pgdax_struct_crc(&sb, offsetof(struct pgdax_sb, s_crc)));
	ck_assert_int_eq(pwrite(fd, &sb, sizeof(sb), 0), (ssize_t)sizeof(sb));
	/* the backup keeps the checksummed part (its hot fields are mkfs's) */
	uint64_t backup = (le64toh(sb.s_blocks) - 1) * le32toh(sb.s_block_size);
	ck_assert_int_eq(pwrite(fd, &sb, offsetof(struct pgdax_sb, s_crc) + sizeof(sb.s_crc),
				(off_t)backup), (ssize_t)(offsetof(struct pgdax_sb, s_crc) + 4));
	close(fd);

	struct pgdax_vol_file *f;
	struct stat st;
	mount_dev(devpath);
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "old", 0644, O_RDWR, &cred,
					  &st, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "hi", 2, &cred), 2);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(vol_test_inline_map(vol, st.st_ino), 0);
	ck_assert_uint_eq(st_blocks(st.st_ino), 2 * (BS / 512));	/* data + extent block */
	pgdax_vol_iput(vol, st.st_ino, 1);
	unmount();
	fsck_clean(devpath, "minor 1 image");
}
END_TEST

/* ---------------------------------------------------------------- agreement */

static void check_agree(const char *ctx)
{
	struct statvfs sv;
	struct pgdax_vol_stats s;
	struct pgdax_fsck_result res;

	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	pgdax_vol_get_stats(vol, &s);
	uint64_t used = sv.f_blocks - sv.f_bfree, iused = sv.f_files - sv.f_ffree;
	ck_assert_msg(s.blocks == sv.f_blocks && s.free_blocks == sv.f_bfree &&
		      s.inodes == sv.f_files && s.free_inodes == sv.f_ffree,
		      "%s: stats %llu/%llu blocks %llu/%llu inodes, statfs %llu/%llu %llu/%llu",
		      ctx, (unsigned long long)s.free_blocks, (unsigned long long)s.blocks,
		      (unsigned long long)s.free_inodes, (unsigned long long)s.inodes,
		      (unsigned long long)sv.f_bfree, (unsigned long long)sv.f_blocks,
		      (unsigned long long)sv.f_ffree, (unsigned long long)sv.f_files);
	unmount();
	ck_assert_int_eq(fsck(devpath, &res), PGDAX_FSCK_EXIT_OK);
	ck_assert_msg(res.blocks_used == used && res.blocks_total == sv.f_blocks &&
		      res.inodes_used == iused && res.inodes_total == sv.f_files,
		      "%s: fsck %llu/%llu blocks %llu/%llu inodes, statfs used %llu/%llu "
		      "blocks %llu/%llu inodes", ctx,
		      (unsigned long long)res.blocks_used, (unsigned long long)res.blocks_total,
		      (unsigned long long)res.inodes_used, (unsigned long long)res.inodes_total,
		      (unsigned long long)used, (unsigned long long)sv.f_blocks,
		      (unsigned long long)iused, (unsigned long long)sv.f_files);
	mount_dev(devpath);
}

START_TEST(test_statfs_stats_and_fsck_agree_on_used_blocks_and_inodes)
{
	struct pgdax_vol_file *f;
	struct stat st, dst;
	char buf[3 * BS + 100];

	mount_dev(devpath);
	struct statvfs sv;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	/* empty: no block used, the root the one inode in use */
	ck_assert_uint_eq(sv.f_blocks - sv.f_bfree, 0);
	ck_assert_uint_eq(sv.f_files - sv.f_ffree, 1);
	check_agree("empty volume");

	memset(buf, 'w', sizeof(buf));
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "d", 0755, &cred, &dst), 0);
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(pgdax_vol_create(vol, i % 2 ? dst.st_ino : PGDAX_ROOT_INO, name,
						  0644, O_RDWR, &cred, &st, &f), 0);
		ck_assert_int_eq(pgdax_vol_write(vol, f, (uint64_t)(i % 7) * BS, buf,
						 (size_t)(i * 200) % sizeof(buf) + 1, &cred),
				 (ssize_t)((size_t)(i * 200) % sizeof(buf) + 1));
		pgdax_vol_release(vol, &f);
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	ck_assert_int_eq(pgdax_vol_setxattr(vol, dst.st_ino, "user.x", buf, 100, 0), 0);
	ck_assert_int_eq(pgdax_vol_symlink(vol, PGDAX_ROOT_INO, "l", "f1", &cred, &st), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "f4"), 0);
	pgdax_vol_iput(vol, dst.st_ino, 1);
	check_agree("after a workload");
	unmount();
}
END_TEST

/* ---------------------------------------------------------------- crash */

/* The child: "f" with four inline extents (acknowledged: then "ack" is
 * written to @range's sibling), then the fifth page, whose write converts
 * the map; the counting run records the barriers around that write. */
static int child(const char *dev, const char *range)
{
	struct pgdax_vol *v;
	struct pgdax_vol_file *f;
	struct stat st;

	if (pgdax_vol_mount(dev, NULL, &v))
		return 1;
	int rc = pgdax_vol_create(v, PGDAX_ROOT_INO, "f", 0644, O_RDWR, &cred, &st, &f);
	if (rc) {
		fprintf(stderr, "child: create: %s\n", strerror(-rc));
		return 2;
	}
	for (int i = 0; i < PGDAX_INLINE_EXTENTS; i++) {
		ssize_t r = put_page(v, f, i);
		if (r != BS) {
			fprintf(stderr, "child: write page %d: %zd\n", 2 * i, r);
			return 3;
		}
	}
	if (pgdax_vol_fsync(v, st.st_ino, false))
		return 3;
	uint64_t b0 = pgdax_dev_barriers(pgdax_vol_dev(v));
	if (put_page(v, f, PGDAX_INLINE_EXTENTS) != BS)
		return 4;
	uint64_t b1 = pgdax_dev_barriers(pgdax_vol_dev(v));
	if (range) {
		FILE *fp = fopen(range, "w");
		if (!fp || fprintf(fp, "%llu %llu\n", (unsigned long long)b0,
				   (unsigned long long)b1) < 0 || fclose(fp))
			return 5;
	}
	pgdax_vol_release(v, &f);
	pgdax_vol_iput(v, st.st_ino, 1);
	return pgdax_vol_unmount(&v) ? 6 : 0;
}

static int run_child(uint64_t crash_at)
{
	pid_t pid = fork();
	if (pid == 0) {
		char n[32];
		if (crash_at) {
			snprintf(n, sizeof(n), "%llu", (unsigned long long)crash_at);
			setenv("PGDAX_CRASH_AT", n, 1);
			setenv("PGDAX_CRASH_SHADOW", shadow, 1);
		} else {
			setenv("PGDAX_CRASH_COUNT", countpath, 1);
		}
		execl("/proc/self/exe", "check_inline_extents", "--child", devpath,
		      crash_at ? "" : rangepath, (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

START_TEST(test_crash_at_any_barrier_of_the_conversion_loses_nothing_acknowledged)
{
	unsigned long long b0 = 0, b1 = 0;
	unsigned converted = 0, inline_left = 0;
	char ctx[96];

	copy_dev(devpath, orig);
	ck_assert_int_eq(run_child(0), 0);	/* the counting run */
	FILE *fp = fopen(rangepath, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fscanf(fp, "%llu %llu", &b0, &b1), 2);
	fclose(fp);
	ck_assert_uint_gt(b1, b0);
	for (uint64_t n = b0 + 1; n <= b1; n++) {
		unlink(shadow);
		copy_dev(orig, devpath);
		int rc = run_child(n);
		snprintf(ctx, sizeof(ctx), "crash at barrier %llu of %llu..%llu",
			 (unsigned long long)n, b0 + 1, b1);
		ck_assert_msg(rc == -SIGKILL, "%s: child ended with %d", ctx, rc);
		fsck_clean(shadow, ctx);	/* before the mount's own recovery */
		mount_dev(shadow);
		ck_assert_msg(vol_test_check_blocks(vol) == 0, "%s: block accounting", ctx);
		uint64_t ino = lookup(vol, "f");
		ck_assert_uint_ne(ino, 0);
		/* the four acknowledged pages, whatever became of the fifth */
		check_pages(vol, ino, PGDAX_INLINE_EXTENTS, ctx);
		int inl = vol_test_inline_map(vol, ino);
		ck_assert_int_ge(inl, 0);
		if (inl) {
			inline_left++;
		} else {
			/* converted: the fifth extent committed with it; the write
			 * was not acknowledged (its size may not be), so the page
			 * reads all new or all zero, never anything else */
			static char p[BS];
			converted++;
			read_at(vol, ino, (uint64_t)PGDAX_INLINE_EXTENTS * 2 * BS, p, BS);
			for (size_t k = 0; k < BS; k++)
				ck_assert_msg(p[k] == p[0] && (!p[0] ||
					      p[0] == page_byte(PGDAX_INLINE_EXTENTS)),
					      "%s: unacknowledged page byte %zu is %#x", ctx, k,
					      (unsigned char)p[k]);
		}
		unmount();
		fsck_clean(shadow, ctx);
	}
	fprintf(stderr, "conversion: barriers %llu..%llu: %u crash images still inline, "
		"%u converted\n", b0 + 1, b1, inline_left, converted);
	/* both sides of the commit were hit */
	ck_assert_uint_gt(inline_left, 0);
	ck_assert_uint_gt(converted, 0);
}
END_TEST

static Suite *inline_suite(void)
{
	Suite *s = suite_create("inline_extents");
	TCase *tc = tcase_create("space");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_small_file_costs_one_data_block);
	tcase_add_test(tc, test_extent_map_outgrowing_the_inode_moves_to_a_block_and_back);
	tcase_add_test(tc, test_older_minor_image_keeps_the_extent_block_form);
	tcase_add_test(tc, test_last_close_gives_back_what_appends_allocated_past_eof);
	tcase_add_test(tc, test_statfs_stats_and_fsck_agree_on_used_blocks_and_inodes);
	suite_add_tcase(s, tc);
	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_crash_at_any_barrier_of_the_conversion_loses_nothing_acknowledged);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--child"))
		return child(argv[2], *argv[3] ? argv[3] : NULL);
	pgdax_log_set_level(LOG_CRIT);
	SRunner *sr = srunner_create(inline_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
