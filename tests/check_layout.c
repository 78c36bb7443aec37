/* SPDX-License-Identifier: MIT */
/*
 * The volume's alignment and the layout at large alignments, in-process (no
 * FUSE): the alignment a volume was formatted with is the one it mounts with,
 * whatever the file around it; a 1 GiB-aligned volume loses at most its
 * first unit (metadata and backup superblock share it); small allocations
 * fill broken units and leave whole ones whole; the backup is found without
 * the primary, in the new place and in the old one (images of format 1.1).
 *
 * Devices are sparse files under /dev/shm (3 GiB, of which a few MiB are
 * ever written): free aligned units are counted in the allocator rather than
 * allocated, so no test fills a 1 GiB unit.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/alloc.h"
#include "dev/dev.h"
#include "fsck/fsck.h"
#include "util/log.h"
#include "vol/format.h"
#include "vol/mkfs.h"
#include "vol/vol.h"
#include "vol/vol_internal.h"
#include "vol/vol_test.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define BS 4096ull
#define UNIT_1G_ORDER 18	/* 1 GiB in 4 KiB blocks */

static char devpath[128], copypath[128];
static struct pgdax_vol *vol;
static struct pgdax_cred root_cred = { .uid = 0, .gid = 0 };
static char logbuf[16384];

static void capture(int priority, const char *msg, void *arg)
{
	size_t n = strlen(logbuf);

	(void)priority;
	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static void setup(void)
{
	static int seq;

	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-layout-%d-%d", getpid(), seq);
	snprintf(copypath, sizeof(copypath), "/dev/shm/pgdax-layout-copy-%d-%d", getpid(), seq++);
	logbuf[0] = '\0';
	pgdax_log_set_fn(capture, NULL);
	pgdax_log_set_level(LOG_NOTICE);
}

static void teardown(void)
{
	if (vol)
		ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	unlink(devpath);
	unlink(copypath);
	pgdax_log_set_fn(NULL, NULL);
}

/* A sparse file of @size, formatted with @align (the way mkfs.pgdaxfs
 * --align does on an existing file). */
static void make_volume(const char *path, uint64_t size, uint64_t align)
{
	struct pgdax_mkfs_opts o = { .quiet = true, .align_override = align };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
	ck_assert_int_eq(pgdax_mkfs(path, &o), 0);
}

static int mount_at(const char *path, uint64_t align_option)
{
	struct pgdax_vol_opts vo = { .break_timeout_ms = 300, .align_override = align_option };

	return pgdax_vol_mount(path, &vo, &vol);
}

static void umount_vol(void)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
}

struct units {
	unsigned order;
	uint64_t n;
};

static int count_units(uint64_t pgoff, unsigned order, void *arg)
{
	struct units *u = arg;

	(void)pgoff;
	if (order >= u->order)
		u->n += 1ull << (order - u->order);
	return 0;
}

/* Whole free aligned units of 2^order blocks: what a DAX mapping can get. */
static uint64_t free_units(unsigned order)
{
	struct units u = { .order = order };

	ck_assert_int_eq(pgdax_alloc_for_each_free(vol->alloc, count_units, &u), 0);
	return u.n;
}

static uint64_t used_bytes(void)
{
	struct pgdax_vol_stats s;

	pgdax_vol_get_stats(vol, &s);
	return (s.blocks - s.free_blocks) * s.block_size;
}

static uint64_t make_file(uint64_t dir, const char *name, size_t n, bool xattr)
{
	static char data[3 * MiB];
	struct pgdax_vol_file *f;
	struct stat st;

	memset(data, 'a' + (int)(n % 26), n);
	ck_assert_int_eq(pgdax_vol_create(vol, dir, name, 0644, O_RDWR, &root_cred, &st, &f), 0);
	if (n)
		ck_assert_int_eq(pgdax_vol_write(vol, f, 0, data, n, &root_cred), (ssize_t)n);
	pgdax_vol_release(vol, &f);
	if (xattr)
		ck_assert_int_eq(pgdax_vol_setxattr(vol, st.st_ino, "user.k", "v", 1, 0), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	return st.st_ino;
}

static uint64_t make_dir(uint64_t parent, const char *name)
{
	struct stat st;

	ck_assert_int_eq(pgdax_vol_mkdir(vol, parent, name, 0755, &root_cred, &st), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	return st.st_ino;
}

/* fsck -n -f of the unmounted device: its exit code. */
static int fsck_check(const char *path)
{
	struct pgdax_fsck_opts o = { .flags = PGDAX_FSCK_FORCE | PGDAX_FSCK_QUIET };
	struct pgdax_fsck_result r;

	return pgdax_fsck_device(path, 0, &o, &r);
}

static void pwrite_at(const char *path, uint64_t off, const void *buf, size_t n)
{
	int fd = open(path, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void pread_at(const char *path, uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

/* A plain copy (read/write: no xattrs, as cp does), sparse. */
static void copy_image(const char *from, const char *to)
{
	static char buf[1 << 20], zero[1 << 20];
	int in = open(from, O_RDONLY), out = open(to, O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct stat st;
	ssize_t n;
	off_t off = 0;

	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(out, 0);
	ck_assert_int_eq(fstat(in, &st), 0);
	ck_assert_int_eq(ftruncate(out, st.st_size), 0);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (memcmp(buf, zero, (size_t)n))
			ck_assert_int_eq(pwrite(out, buf, (size_t)n, off), n);
		off += n;
	}
	close(in);
	close(out);
}

/* ------------------------------------------------ the volume's alignment */

START_TEST(test_mkfs_align_over_an_existing_file_is_the_alignment_the_mount_uses)
{
	make_volume(devpath, 64 * MiB, 2 * MiB);
	ck_assert_int_eq(mount_at(devpath, 0), 0);
	ck_assert_uint_eq(pgdax_dev_info(vol->dev)->align, 2 * MiB);
}
END_TEST

START_TEST(test_copied_image_keeps_its_alignment)
{
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, 64 * MiB, 2 * MiB), 0);
	{
		struct pgdax_mkfs_opts o = { .quiet = true, .align_override = 2 * MiB };

		ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	}
	copy_image(devpath, copypath);
	ck_assert_int_eq(mount_at(copypath, 0), 0);
	ck_assert_uint_eq(pgdax_dev_info(vol->dev)->align, 2 * MiB);
	umount_vol();
	/* and the xattr of earlier versions, if an image still has one, is ignored */
	ck_assert_int_eq(setxattr(copypath, "user.pgdax.align", "4096", 4, 0), 0);
	ck_assert_int_eq(mount_at(copypath, 0), 0);
	ck_assert_uint_eq(pgdax_dev_info(vol->dev)->align, 2 * MiB);
}
END_TEST

START_TEST(test_align_option_that_differs_from_the_volume_is_refused)
{
	make_volume(devpath, 64 * MiB, 2 * MiB);
	ck_assert_int_eq(mount_at(devpath, 4096), -EINVAL);
	ck_assert_ptr_null(vol);
	ck_assert_ptr_nonnull(strstr(logbuf, "formatted with alignment 2097152"));
	ck_assert_ptr_nonnull(strstr(logbuf, "drop the option"));
	ck_assert_int_eq(mount_at(devpath, 2 * MiB), 0);	/* the same: fine */
}
END_TEST

/* ------------------------------------------------ the 1 GiB layout */

/* A fresh 3 GiB volume at 1 GiB: metadata and backup in the first unit,
 * the other two units whole, used space the metadata only. */
START_TEST(test_fresh_1g_volume_loses_only_its_first_unit)
{
	make_volume(devpath, 3 * GiB, GiB);
	ck_assert_int_eq(mount_at(devpath, 0), 0);
	ck_assert_uint_eq(pgdax_dev_info(vol->dev)->align, GiB);
	ck_assert_uint_eq(free_units(UNIT_1G_ORDER), 2);
	ck_assert_uint_lt(used_bytes(), 64 * MiB);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	umount_vol();
	ck_assert_int_eq(fsck_check(devpath), PGDAX_FSCK_EXIT_OK);
}
END_TEST

/* Small files, directories, extent blocks and xattr blocks (and a file with
 * 2 MiB extents) go into the broken first unit: both whole units stay. */
START_TEST(test_small_allocations_fill_the_broken_unit_before_whole_ones)
{
	char name[32];
	uint64_t d[4];

	make_volume(devpath, 3 * GiB, GiB);
	ck_assert_int_eq(mount_at(devpath, 0), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		d[i] = make_dir(PGDAX_ROOT_INO, name);
	}
	for (int i = 0; i < 800; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		make_file(d[i % 4], name, 1 + (size_t)(i * 37) % 9000, i % 5 == 0);
	}
	make_file(PGDAX_ROOT_INO, "big", 3 * MiB, false);
	ck_assert_uint_eq(free_units(UNIT_1G_ORDER), 2);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	umount_vol();
	ck_assert_int_eq(fsck_check(devpath), PGDAX_FSCK_EXIT_OK);
	ck_assert_int_eq(mount_at(devpath, 0), 0);	/* and after a remount */
	make_file(PGDAX_ROOT_INO, "more", 100, true);
	ck_assert_uint_eq(free_units(UNIT_1G_ORDER), 2);
}
END_TEST

/* The backup in the first unit is found without the primary, and without
 * the last block of the device (which older layouts used). */
START_TEST(test_backup_in_the_first_unit_serves_when_primary_and_last_block_are_gone)
{
	struct pgdax_sb sb;
	static char zero[BS];

	make_volume(devpath, 3 * GiB, GiB);
	ck_assert_int_eq(mount_at(devpath, 0), 0);
	make_file(PGDAX_ROOT_INO, "kept", 5000, false);
	umount_vol();
	pread_at(devpath, 0, &sb, sizeof(sb));
	ck_assert_uint_eq(pgdax_sb_backup_blk(&sb), GiB / BS - 1);
	pwrite_at(devpath, 0, zero, sizeof(sb));		/* primary gone */
	pwrite_at(devpath, 3 * GiB - BS, zero, BS);		/* last block too */
	/* fsck -n finds the backup (and says the primary needs restoring) */
	ck_assert_int_eq(fsck_check(devpath) & PGDAX_FSCK_EXIT_OPERROR, 0);
	ck_assert_int_eq(mount_at(devpath, 0), 0);
	ck_assert_ptr_nonnull(strstr(logbuf, "using the backup superblock @1073737728"));
	{
		struct stat st;

		ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, "kept", &st), 0);
		ck_assert_uint_eq(st.st_size, 5000);
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	ck_assert_uint_eq(free_units(UNIT_1G_ORDER), 2);
}
END_TEST

/*
 * An image of format 1.1 at 1 GiB as the mkfs of that version wrote it:
 * data from 1 GiB, backup in the last block, s_backup_blk 0. It mounts, is
 * clean for fsck, and its backup is still found when the primary is gone.
 */
START_TEST(test_image_of_the_older_1g_layout_mounts_checks_and_finds_its_backup)
{
	const uint64_t blocks = 3 * GiB / BS, unit = GiB / BS;
	struct pgdax_sb sb;
	uint8_t *map;
	static char zero[BS];
	uint64_t bb_off, nbytes;

	make_volume(devpath, 3 * GiB, GiB);
	pread_at(devpath, 0, &sb, sizeof(sb));
	/* the old superblock */
	sb.s_minor = htole16(1);
	sb.s_data_start = htole64(unit);
	sb.s_backup_blk = 0;
	sb.s_feat_incompat = 0;
	sb.s_crc = htole32(pgdax_struct_crc(&sb, offsetof(struct pgdax_sb, s_crc)));
	/* the old bitmap: [0, data_start) and the last block used */
	bb_off = le64toh(sb.s_bbitmap_start) * BS;
	nbytes = unit / 8;
	map = malloc(nbytes);
	ck_assert_ptr_nonnull(map);
	memset(map, 0xff, nbytes);
	pwrite_at(devpath, bb_off, map, nbytes);
	free(map);
	{
		uint8_t last;

		pread_at(devpath, bb_off + (blocks - 1) / 8, &last, 1);
		last |= (uint8_t)(1u << ((blocks - 1) % 8));
		pwrite_at(devpath, bb_off + (blocks - 1) / 8, &last, 1);
	}
	pwrite_at(devpath, (unit - 1) * BS, zero, BS);	/* no backup in the first unit */
	pwrite_at(devpath, (blocks - 1) * BS, &sb, offsetof(struct pgdax_sb, s_state));
	pwrite_at(devpath, 0, &sb, sizeof(sb));

	ck_assert_int_eq(fsck_check(devpath), PGDAX_FSCK_EXIT_OK);
	ck_assert_int_eq(mount_at(devpath, 0), 0);
	ck_assert_uint_eq(vol->data_start, unit);
	ck_assert_uint_eq(vol->backup_blk, blocks - 1);
	ck_assert_uint_eq(free_units(UNIT_1G_ORDER), 1);	/* what that layout had */
	make_file(PGDAX_ROOT_INO, "f", 100, true);
	ck_assert_uint_eq(free_units(UNIT_1G_ORDER), 1);	/* small files: unit 2 */
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	umount_vol();
	ck_assert_int_eq(fsck_check(devpath), PGDAX_FSCK_EXIT_OK);
	pwrite_at(devpath, 0, zero, sizeof(sb));
	logbuf[0] = '\0';
	ck_assert_int_eq(mount_at(devpath, 0), 0);
	ck_assert_ptr_nonnull(strstr(logbuf, "using the backup superblock @3221221376"));
}
END_TEST

/* The mkfs of this version leaves no stale backup where one is looked
 * for: reformatting an older 1 GiB image at 4K (backup in the last block)
 * must not let the old first-unit backup stand in for the new one. */
START_TEST(test_reformat_erases_a_stale_backup_where_one_is_looked_for)
{
	struct pgdax_mkfs_opts o = { .quiet = true, .force = true, .align_override = 4096 };
	struct pgdax_sb sb;
	static char zero[BS];
	uint64_t off;

	make_volume(devpath, 3 * GiB, GiB);
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	pwrite_at(devpath, 0, zero, BS);
	{
		int fd = open(devpath, O_RDONLY);
		void *base;

		ck_assert_int_ge(fd, 0);
		base = mmap(NULL, 3 * GiB, PROT_READ, MAP_SHARED, fd, 0);
		ck_assert_ptr_ne(base, MAP_FAILED);
		ck_assert_int_eq(pgdax_sb_find_backup(base, 3 * GiB, &sb, &off), 0);
		munmap(base, 3 * GiB);
		close(fd);
	}
	ck_assert_uint_eq(off, 3 * GiB - BS);
	ck_assert_uint_eq(le64toh(sb.s_align), 4096);
}
END_TEST

static Suite *layout_suite(void)
{
	Suite *s = suite_create("layout");
	TCase *tc = tcase_create("align");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mkfs_align_over_an_existing_file_is_the_alignment_the_mount_uses);
	tcase_add_test(tc, test_copied_image_keeps_its_alignment);
	tcase_add_test(tc, test_align_option_that_differs_from_the_volume_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("1g");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fresh_1g_volume_loses_only_its_first_unit);
	tcase_add_test(tc, test_small_allocations_fill_the_broken_unit_before_whole_ones);
	tcase_add_test(tc, test_backup_in_the_first_unit_serves_when_primary_and_last_block_are_gone);
	tcase_add_test(tc, test_image_of_the_older_1g_layout_mounts_checks_and_finds_its_backup);
	tcase_add_test(tc, test_reformat_erases_a_stale_backup_where_one_is_looked_for);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(layout_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
