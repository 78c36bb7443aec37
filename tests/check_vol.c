/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the volume (lib/vol/vol.h): mkfs, mount, every namespace and
 * data operation with its errors, persistence across remount, orphans,
 * xattrs, large/sparse files, ENOSPC, layout breaks, corrupt superblocks.
 * Journal crash consistency is in check_journal.c.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "vol/format.h"
#include "util/log.h"
#include "vol/mkfs.h"
#include "core/pgmap.h"
#include "core/pgmap_internal.h"
#include "vol/vol.h"
#include "vol/vol_test.h"

static char devpath[256];
static struct pgdax_vol *vol;
static struct pgdax_cred root_cred = { .uid = 0, .gid = 0 };

static void make_dev(uint64_t size, const struct pgdax_mkfs_opts *o)
{
	static int n;
	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-vol-test-%d-%d", getpid(), n++);
	unlink(devpath);
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, size, 4096), 0);
	struct pgdax_mkfs_opts def = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(devpath, o ? o : &def), 0);
}

static void do_mount(void)
{
	struct pgdax_vol_opts vo = { .break_timeout_ms = 300 };
	ck_assert_int_eq(pgdax_vol_mount(devpath, &vo, &vol), 0);
}

static void remount(void)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	ck_assert_ptr_null(vol);
	do_mount();
}

static void setup(void)
{
	make_dev(64 << 20, NULL);
	do_mount();
}

static void setup_many_inodes(void)
{
	struct pgdax_mkfs_opts o = { .quiet = true, .inodes = 110000 };
	make_dev(256 << 20, &o);
	do_mount();
}

static void teardown(void)
{
	if (vol)
		ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	unlink(devpath);
}

/* Read the whole range through read_map (which may return short). */
static ssize_t rd(struct pgdax_vol_file *f, uint64_t off, void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		struct iovec iov[64];
		struct pgdax_io io = { 0 };
		int niov = 0;
		ssize_t r = pgdax_vol_read_map(vol, f, off + done, n - done, iov, 64, &niov, &io);
		if (r < 0) {
			pgdax_vol_io_done(vol, &io);
			return r;
		}
		size_t got = 0;
		for (int i = 0; i < niov; i++) {
			memcpy((char *)buf + done + got, iov[i].iov_base, iov[i].iov_len);
			got += iov[i].iov_len;
		}
		ck_assert_uint_eq(got, (size_t)r);
		pgdax_vol_io_done(vol, &io);
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static uint64_t create_file(uint64_t dir, const char *name, const void *data, size_t n)
{
	struct stat st;
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_create(vol, dir, name, 0644, O_RDWR, &root_cred, &st, &f), 0);
	if (n)
		ck_assert_int_eq(pgdax_vol_write(vol, f, 0, data, n, &root_cred), (ssize_t)n);
	pgdax_vol_release(vol, &f);
	pgdax_vol_iput(vol, st.st_ino, 1);
	return st.st_ino;
}

static uint64_t lookup_ino(uint64_t dir, const char *name)
{
	struct stat st;
	int rc = pgdax_vol_lookup(vol, dir, name, &st);
	if (rc)
		return 0;
	pgdax_vol_iput(vol, st.st_ino, 1);
	return st.st_ino;
}

static void fill_pattern(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((i * 31 + seed) & 0xff);
}

static uint64_t free_blocks(void)
{
	struct statvfs sv;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	return sv.f_bfree;
}

/* ---------------------------------------------------------------- */

START_TEST(test_fresh_volume_has_empty_root_directory)
{
	struct stat st;
	ck_assert_int_eq(pgdax_vol_getattr(vol, PGDAX_ROOT_INO, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(vol_test_count_entries(vol, PGDAX_ROOT_INO), 2); /* . and .. */
	struct statvfs sv;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	ck_assert_uint_eq(sv.f_bsize, 4096);
	/* df counts the data area, and an empty volume uses none of it; the
	 * root is the one inode in use (lib/vol/vol.h, space accounting) */
	ck_assert_uint_gt(sv.f_bfree, 0);
	ck_assert_uint_eq(sv.f_bfree, sv.f_blocks);
	ck_assert_uint_eq(sv.f_files - sv.f_ffree, 1);
	ck_assert_uint_eq(sv.f_namemax, 255);
}
END_TEST

START_TEST(test_written_data_reads_back)
{
	static char in[300000], out[300000];
	fill_pattern(in, sizeof(in), 7);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", in, sizeof(in));
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), (ssize_t)sizeof(in));
	ck_assert(memcmp(in, out, sizeof(in)) == 0);
	/* read past EOF returns what exists */
	ck_assert_int_eq(rd(f, sizeof(in) - 10, out, 100), 10);
	ck_assert_int_eq(rd(f, sizeof(in) + 10, out, 100), 0);
	pgdax_vol_release(vol, &f);
	struct stat st;
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, sizeof(in));
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(test_overwrite_and_append_change_content_and_size)
{
	char buf[8192], out[8192];
	memset(buf, 'a', 4096);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", buf, 4096);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_WRONLY | O_APPEND, &root_cred, &f), 0);
	memset(buf, 'b', 100);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, buf, 100, &root_cred), 100);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	memset(buf, 'c', 10);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 5, buf, 10, &root_cred), 10);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), 4196);
	ck_assert_int_eq(out[0], 'a');
	ck_assert_int_eq(out[5], 'c');
	ck_assert_int_eq(out[14], 'c');
	ck_assert_int_eq(out[15], 'a');
	ck_assert_int_eq(out[4096], 'b');
	ck_assert_int_eq(out[4195], 'b');
	pgdax_vol_release(vol, &f);
}
END_TEST

START_TEST(test_namespace_survives_remount)
{
	struct stat st;
	char data[5000], out[5000];
	fill_pattern(data, sizeof(data), 3);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "d", 0755, &root_cred, &st), 0);
	uint64_t d = st.st_ino;
	pgdax_vol_iput(vol, d, 1);
	uint64_t ino = create_file(d, "file", data, sizeof(data));
	ck_assert_int_eq(pgdax_vol_symlink(vol, d, "ln", "file", &root_cred, &st), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	remount();
	ck_assert_uint_eq(lookup_ino(PGDAX_ROOT_INO, "d"), d);
	ck_assert_uint_eq(lookup_ino(d, "file"), ino);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), (ssize_t)sizeof(data));
	ck_assert(memcmp(data, out, sizeof(data)) == 0);
	pgdax_vol_release(vol, &f);
	char tgt[64];
	uint64_t l = lookup_ino(d, "ln");
	ck_assert_int_eq(pgdax_vol_readlink(vol, l, tgt, sizeof(tgt)), 4);
	ck_assert_str_eq(tgt, "file");
	ck_assert_int_eq(pgdax_vol_getattr(vol, PGDAX_ROOT_INO, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 3);
}
END_TEST

struct names {
	char list[64][32];
	uint64_t offs[64];
	int n;
	int stop_after;
};

static int collect(void *ctx, const char *name, const struct stat *st, uint64_t next_off)
{
	struct names *c = ctx;
	(void)st;
	if (c->stop_after && c->n >= c->stop_after)
		return 1;
	snprintf(c->list[c->n], 32, "%s", name);
	c->offs[c->n] = next_off;
	c->n++;
	return 0;
}

static bool has_name(struct names *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->list[i], name))
			return true;
	return false;
}

START_TEST(test_readdir_lists_entries_and_resumes_at_offset)
{
	char nm[32];
	for (int i = 0; i < 20; i++) {
		snprintf(nm, sizeof(nm), "e%02d", i);
		create_file(PGDAX_ROOT_INO, nm, NULL, 0);
	}
	struct names all = { 0 };
	ck_assert_int_eq(pgdax_vol_readdir(vol, PGDAX_ROOT_INO, 0, false, collect, &all), 0);
	ck_assert_int_eq(all.n, 22);
	ck_assert(has_name(&all, "."));
	ck_assert(has_name(&all, ".."));
	ck_assert(has_name(&all, "e19"));
	/* stop after 7, then resume: together exactly the whole list */
	struct names a = { .stop_after = 7 }, b = { 0 };
	ck_assert_int_eq(pgdax_vol_readdir(vol, PGDAX_ROOT_INO, 0, false, collect, &a), 0);
	ck_assert_int_eq(a.n, 7);
	/* remove an entry already returned and one not yet returned */
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, a.list[3]), 0);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "e15"), 0);
	ck_assert_int_eq(pgdax_vol_readdir(vol, PGDAX_ROOT_INO, a.offs[6], false, collect, &b),
			 0);
	ck_assert_int_eq(a.n + b.n, 21);
	for (int i = 0; i < b.n; i++)
		ck_assert(!has_name(&a, b.list[i]));	/* nothing repeated */
	ck_assert(!has_name(&b, "e15"));
}
END_TEST

START_TEST(test_readdirplus_takes_a_reference_per_entry)
{
	uint64_t ino = create_file(PGDAX_ROOT_INO, "x", NULL, 0);
	struct names all = { 0 };
	ck_assert_int_eq(pgdax_vol_readdir(vol, PGDAX_ROOT_INO, 0, true, collect, &all), 0);
	ck_assert_int_eq(all.n, 3);
	/* the entry got a reference: unlink leaves an orphan until iput */
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "x"), 0);
	struct pgdax_vol_stats s;
	pgdax_vol_get_stats(vol, &s);
	ck_assert_uint_eq(s.orphans, 1);
	pgdax_vol_iput(vol, ino, 1);
	pgdax_vol_get_stats(vol, &s);
	ck_assert_uint_eq(s.orphans, 0);
}
END_TEST

START_TEST(test_namespace_errors_are_clean_errnos)
{
	struct stat st;
	char longname[300];
	memset(longname, 'n', 256);
	longname[256] = 0;
	create_file(PGDAX_ROOT_INO, "file", "x", 1);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "dir", 0755, &root_cred, &st), 0);
	uint64_t dir = st.st_ino;
	pgdax_vol_iput(vol, dir, 1);
	create_file(dir, "inner", NULL, 0);
	uint64_t file = lookup_ino(PGDAX_ROOT_INO, "file");

	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, "nope", &st), -ENOENT);
	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, longname, &st), -ENAMETOOLONG);
	ck_assert_int_eq(pgdax_vol_lookup(vol, file, "x", &st), -ENOTDIR);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "file", 0755, &root_cred, &st),
			 -EEXIST);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, longname, 0755, &root_cred, &st),
			 -ENAMETOOLONG);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, file, "x", 0755, &root_cred, &st), -ENOTDIR);
	ck_assert_int_eq(pgdax_vol_mknod(vol, PGDAX_ROOT_INO, "a/b", S_IFREG | 0644, 0,
					 &root_cred, &st), -EINVAL);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "dir"), -EISDIR);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "nope"), -ENOENT);
	ck_assert_int_eq(pgdax_vol_rmdir(vol, PGDAX_ROOT_INO, "file"), -ENOTDIR);
	ck_assert_int_eq(pgdax_vol_rmdir(vol, PGDAX_ROOT_INO, "dir"), -ENOTEMPTY);
	ck_assert_int_eq(pgdax_vol_rmdir(vol, PGDAX_ROOT_INO, "."), -EINVAL);
	ck_assert_int_eq(pgdax_vol_rename(vol, PGDAX_ROOT_INO, "nope", PGDAX_ROOT_INO, "x", 0),
			 -ENOENT);
	ck_assert_int_eq(pgdax_vol_rename(vol, PGDAX_ROOT_INO, "file", PGDAX_ROOT_INO, "dir", 0),
			 -EISDIR);
	ck_assert_int_eq(pgdax_vol_rename(vol, PGDAX_ROOT_INO, "dir", dir, "sub", 0), -EINVAL);
	ck_assert_int_eq(pgdax_vol_rename(vol, PGDAX_ROOT_INO, "file", PGDAX_ROOT_INO, "dir",
					  RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(pgdax_vol_rename(vol, PGDAX_ROOT_INO, "file", PGDAX_ROOT_INO, "y",
					  0x80), -EINVAL);
	ck_assert_int_eq(pgdax_vol_link(vol, dir, PGDAX_ROOT_INO, "dl", &st), -EPERM);
	ck_assert_int_eq(pgdax_vol_link(vol, file, PGDAX_ROOT_INO, "dir", &st), -EEXIST);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, dir, O_RDWR, &root_cred, &f), -EISDIR);
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "file", 0644, O_RDWR, &root_cred,
					  &st, &f), -EEXIST);
	char buf[16];
	ck_assert_int_eq(pgdax_vol_readlink(vol, file, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(pgdax_vol_getattr(vol, 999, &st), -ESTALE);
	/* nothing above changed the tree */
	ck_assert_int_eq(vol_test_count_entries(vol, PGDAX_ROOT_INO), 4);
	ck_assert_int_eq(vol_test_count_entries(vol, dir), 3);
}
END_TEST

START_TEST(test_unlink_frees_space_and_inode)
{
	static char data[1 << 20];
	uint64_t before = free_blocks();
	struct statvfs sv0, sv1;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv0), 0);
	create_file(PGDAX_ROOT_INO, "big", data, sizeof(data));
	ck_assert_uint_le(free_blocks(), before - 256);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "big"), 0);
	ck_assert_uint_eq(lookup_ino(PGDAX_ROOT_INO, "big"), 0);
	/* the root directory keeps its one block (and extent block) */
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv1), 0);
	ck_assert_uint_ge(sv1.f_bfree + 2, before);
	ck_assert_uint_eq(sv1.f_ffree, sv0.f_ffree);
	remount();
	ck_assert_uint_ge(free_blocks() + 2, before);
}
END_TEST

START_TEST(test_rename_moves_replaces_and_exchanges)
{
	struct stat st;
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "a", 0755, &root_cred, &st), 0);
	uint64_t a = st.st_ino;
	pgdax_vol_iput(vol, a, 1);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "b", 0755, &root_cred, &st), 0);
	uint64_t b = st.st_ino;
	pgdax_vol_iput(vol, b, 1);
	uint64_t f1 = create_file(a, "f1", "one", 3);
	uint64_t f2 = create_file(b, "f2", "two", 3);
	/* move a directory under another: link counts and ".." follow */
	ck_assert_int_eq(pgdax_vol_mkdir(vol, a, "sub", 0755, &root_cred, &st), 0);
	uint64_t sub = st.st_ino;
	pgdax_vol_iput(vol, sub, 1);
	ck_assert_int_eq(pgdax_vol_rename(vol, a, "sub", b, "sub2", 0), 0);
	ck_assert_uint_eq(lookup_ino(b, "sub2"), sub);
	ck_assert_uint_eq(lookup_ino(sub, ".."), b);
	ck_assert_int_eq(pgdax_vol_getattr(vol, a, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(pgdax_vol_getattr(vol, b, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 3);
	/* replace: f1 over f2, f2 freed */
	ck_assert_int_eq(pgdax_vol_rename(vol, a, "f1", b, "f2", 0), 0);
	ck_assert_uint_eq(lookup_ino(b, "f2"), f1);
	ck_assert_uint_eq(lookup_ino(a, "f1"), 0);
	ck_assert_int_eq(pgdax_vol_getattr(vol, f2, &st), -ESTALE);
	/* exchange a file and a directory */
	create_file(a, "g", NULL, 0);
	ck_assert_int_eq(pgdax_vol_rename(vol, a, "g", b, "sub2", RENAME_EXCHANGE), 0);
	ck_assert_uint_eq(lookup_ino(a, "g"), sub);
	ck_assert_uint_eq(lookup_ino(sub, ".."), a);
	ck_assert_int_eq(pgdax_vol_getattr(vol, b, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(pgdax_vol_getattr(vol, a, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 3);
	/* rename over an empty directory removes it */
	ck_assert_int_eq(pgdax_vol_mkdir(vol, b, "empty", 0755, &root_cred, &st), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	ck_assert_int_eq(pgdax_vol_rename(vol, a, "g", b, "empty", 0), 0);
	ck_assert_uint_eq(lookup_ino(b, "empty"), sub);
	remount();
	ck_assert_uint_eq(lookup_ino(b, "empty"), sub);
	ck_assert_uint_eq(lookup_ino(b, "f2"), f1);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

START_TEST(test_hard_link_counts_and_survives_unlink_of_one_name)
{
	struct stat st;
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", "data", 4);
	ck_assert_int_eq(pgdax_vol_link(vol, ino, PGDAX_ROOT_INO, "g", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	pgdax_vol_iput(vol, ino, 1);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "f"), 0);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 1);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_uint_eq(lookup_ino(PGDAX_ROOT_INO, "g"), ino);
}
END_TEST

START_TEST(test_symlink_short_and_long_targets)
{
	struct stat st;
	char tgt[3000], out[4096];
	memset(tgt, 'x', sizeof(tgt) - 1);
	tgt[sizeof(tgt) - 1] = 0;
	ck_assert_int_eq(pgdax_vol_symlink(vol, PGDAX_ROOT_INO, "s", "short/target", &root_cred,
					   &st), 0);
	uint64_t s = st.st_ino;
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(st.st_size, 12);
	ck_assert_int_eq(pgdax_vol_symlink(vol, PGDAX_ROOT_INO, "l", tgt, &root_cred, &st), 0);
	uint64_t l = st.st_ino;
	remount();
	ck_assert_int_eq(pgdax_vol_readlink(vol, s, out, sizeof(out)), 12);
	ck_assert_str_eq(out, "short/target");
	ck_assert_int_eq(pgdax_vol_readlink(vol, l, out, sizeof(out)), (int)strlen(tgt));
	ck_assert_str_eq(out, tgt);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "l"), 0);
}
END_TEST

START_TEST(test_setattr_chmod_chown_truncate_and_times)
{
	char data[10000], out[10000];
	fill_pattern(data, sizeof(data), 1);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	struct stat a = { 0 }, st;
	a.st_mode = 04755;
	a.st_uid = 1000;
	a.st_gid = 100;
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_MODE | PGDAX_SET_UID |
					   PGDAX_SET_GID, &root_cred, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 04755);
	ck_assert_uint_eq(st.st_uid, 1000);
	a.st_size = 5000;
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), 0);
	ck_assert_int_eq(st.st_size, 5000);
	a.st_size = 9000;	/* growing again reads zeros past the old end */
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), 0);
	a.st_mtim.tv_sec = 12345;
	a.st_mtim.tv_nsec = 678;
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_MTIME, &root_cred, &st), 0);
	remount();
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, 9000);
	ck_assert_int_eq(st.st_mtim.tv_sec, 12345);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 678);
	ck_assert_uint_eq(st.st_gid, 100);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), 9000);
	ck_assert(memcmp(out, data, 5000) == 0);
	for (int i = 5000; i < 9000; i++)
		ck_assert_int_eq(out[i], 0);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_setattr(vol, PGDAX_ROOT_INO, &a, PGDAX_SET_SIZE, &root_cred,
					   &st), -EISDIR);
}
END_TEST

START_TEST(test_write_by_non_root_clears_setuid)
{
	struct pgdax_cred user = { .uid = 1000, .gid = 1000 };
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", "x", 1);
	struct stat a = { .st_mode = 06755 }, st;
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_MODE, &root_cred, &st), 0);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "y", 1, &root_cred), 1);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 06755);	/* root keeps them */
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "z", 1, &user), 1);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	pgdax_vol_release(vol, &f);
}
END_TEST

START_TEST(test_open_with_o_trunc_empties_the_file)
{
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", "hello", 5);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR | O_TRUNC, &root_cred, &f), 0);
	struct stat st;
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(st.st_blocks, 0);
	pgdax_vol_release(vol, &f);
}
END_TEST

START_TEST(test_sparse_file_beyond_4gib_reads_zeros_in_holes)
{
	char buf[4096], out[4096];
	uint64_t far = 5ULL << 30;
	fill_pattern(buf, sizeof(buf), 9);
	struct stat st;
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "sparse", 0644, O_RDWR,
					  &root_cred, &st, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, far, buf, sizeof(buf), &root_cred), 4096);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "head", 4, &root_cred), 4);
	ck_assert_int_eq(pgdax_vol_getattr(vol, st.st_ino, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)far + 4096);
	ck_assert_int_le(st.st_blocks * 512, 64 << 20);
	ck_assert_int_eq(rd(f, far, out, sizeof(out)), 4096);
	ck_assert(memcmp(buf, out, 4096) == 0);
	ck_assert_int_eq(rd(f, 3ULL << 30, out, sizeof(out)), 4096);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(out[i], 0);
	uint64_t r;
	ck_assert_int_eq(pgdax_vol_lseek(vol, st.st_ino, 4096 * 1024, SEEK_DATA, &r), 0);
	ck_assert_uint_eq(r, far);
	ck_assert_int_eq(pgdax_vol_lseek(vol, st.st_ino, 0, SEEK_HOLE, &r), 0);
	ck_assert_uint_lt(r, far);
	ck_assert_int_eq(pgdax_vol_lseek(vol, st.st_ino, far + 8192, SEEK_DATA, &r), -ENXIO);
	ck_assert_int_eq(pgdax_vol_lseek(vol, st.st_ino, 0, SEEK_SET, &r), -EINVAL);
	pgdax_vol_release(vol, &f);
	remount();
	ck_assert_int_eq(pgdax_vol_open(vol, st.st_ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, far, out, sizeof(out)), 4096);
	ck_assert(memcmp(buf, out, 4096) == 0);
	pgdax_vol_release(vol, &f);
}
END_TEST

START_TEST(test_punch_hole_frees_blocks_and_zeroes_edges)
{
	static char data[1 << 20], out[1 << 20];
	fill_pattern(data, sizeof(data), 5);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	uint64_t before = free_blocks();
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     100, 512 * 1024, &root_cred), 0);
	ck_assert_uint_ge(free_blocks(), before + 120);
	struct stat st;
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, sizeof(data));
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), (ssize_t)sizeof(data));
	ck_assert(memcmp(out, data, 100) == 0);
	static const char zeros[512 * 1024];
	ck_assert(memcmp(out + 100, zeros, sizeof(zeros)) == 0);
	ck_assert(memcmp(out + 100 + 512 * 1024, data + 100 + 512 * 1024,
			 sizeof(data) - 100 - 512 * 1024) == 0);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, FALLOC_FL_PUNCH_HOLE, 0, 10, &root_cred),
			 -EOPNOTSUPP);
	/* fallocate allocates zeroed blocks and extends the size */
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, 0, 2 << 20, 1 << 20, &root_cred), 0);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, 3 << 20);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

START_TEST(test_xattrs_set_get_list_remove)
{
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", NULL, 0);
	char buf[256];
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.a", "1234", 4, 0), 0);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "trusted.b", "xy", 2, XATTR_CREATE), 0);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.a", "9", 1, XATTR_CREATE), -EEXIST);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.zz", "9", 1, XATTR_REPLACE), -ENODATA);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "bogus.x", "9", 1, 0), -EOPNOTSUPP);
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.a", NULL, 0), 4);
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.a", buf, 2), -ERANGE);
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.a", buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "1234", 4) == 0);
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.none", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, NULL, 0), 17);
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, buf, 5), -ERANGE);
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, buf, sizeof(buf)), 17);
	ck_assert_str_eq(buf, "user.a");
	ck_assert_str_eq(buf + 7, "trusted.b");
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.a", "replaced", 8, XATTR_REPLACE), 0);
	/* values up to XATTR_SIZE_MAX (format 1.4; tests/check_xattr.c has more) */
	static char big[65537];
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, 8192, 0), 0);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, sizeof(big), 0), -E2BIG);
	remount();
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.a", buf, sizeof(buf)), 8);
	ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, "user.a"), 0);
	ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, "user.a"), -ENODATA);
	ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, "trusted.b"), 0);
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.big", NULL, 0), 8192);
	ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, "user.big"), 0);
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

START_TEST(test_copy_range_copies_bytes)
{
	static char data[200000], out[200000];
	fill_pattern(data, sizeof(data), 11);
	uint64_t a = create_file(PGDAX_ROOT_INO, "a", data, sizeof(data));
	uint64_t b = create_file(PGDAX_ROOT_INO, "b", NULL, 0);
	ck_assert_int_eq(pgdax_vol_copy_range(vol, a, 1000, b, 10, 150000, &root_cred), 150000);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, b, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), 150010);
	ck_assert(memcmp(out + 10, data + 1000, 150000) == 0);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_copy_range(vol, a, 0, a, 100, 1000, &root_cred), -EINVAL);
	ck_assert_int_eq(pgdax_vol_copy_range(vol, a, 0, PGDAX_ROOT_INO, 0, 10, &root_cred),
			 -EISDIR);
}
END_TEST

START_TEST(test_inode_exhaustion_is_enospc_and_unlink_gives_one_back)
{
	struct stat st;
	struct statvfs sv;
	char nm[32];
	int n = 0, rc;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	uint64_t avail = sv.f_ffree;
	for (;; n++) {
		snprintf(nm, sizeof(nm), "i%d", n);
		rc = pgdax_vol_mknod(vol, PGDAX_ROOT_INO, nm, S_IFREG | 0600, 0, &root_cred, &st);
		if (rc)
			break;
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_int_eq(n, (int)avail);
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	ck_assert_uint_eq(sv.f_ffree, 0);
	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, nm, &st), -ENOENT);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "i7"), 0);
	ck_assert_int_eq(pgdax_vol_mknod(vol, PGDAX_ROOT_INO, "again", S_IFREG | 0600, 0,
					 &root_cred, &st), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	remount();
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv), 0);
	ck_assert_uint_eq(sv.f_ffree, 0);
	ck_assert_int_eq(vol_test_count_entries(vol, PGDAX_ROOT_INO), n + 2);
}
END_TEST

/* ---- orphans ---- */

START_TEST(test_unlinked_open_file_lives_until_release)
{
	char data[8192], out[8192];
	fill_pattern(data, sizeof(data), 2);
	struct stat st;
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "f", 0644, O_RDWR, &root_cred,
					  &st, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, data, sizeof(data), &root_cred), 8192);
	pgdax_vol_iput(vol, st.st_ino, 1);
	uint64_t before = free_blocks();
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "f"), 0);
	ck_assert_uint_eq(free_blocks(), before);	/* still open */
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), 8192);
	ck_assert(memcmp(data, out, sizeof(out)) == 0);
	struct pgdax_vol_stats s;
	pgdax_vol_get_stats(vol, &s);
	ck_assert_uint_eq(s.orphans, 1);
	pgdax_vol_release(vol, &f);
	ck_assert_uint_ge(free_blocks(), before + 2);
	pgdax_vol_get_stats(vol, &s);
	ck_assert_uint_eq(s.orphans, 0);
}
END_TEST

/*
 * The freeing of an unlinked inode waits without a time limit for its
 * extents to go idle; a reference that never comes back (a leak) must not
 * hang it silently: every stall_report_ms it logs the inode and the
 * extents still referenced and counts itself in stalled_reclaims.
 */
static struct {
	pthread_mutex_t lock;
	char last[1024];
	int reports;
} stall_log = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void capture_stall(int priority, const char *msg, void *arg)
{
	(void)priority;
	(void)arg;
	if (!strstr(msg, "still referenced"))
		return;
	pthread_mutex_lock(&stall_log.lock);
	snprintf(stall_log.last, sizeof(stall_log.last), "%s", msg);
	stall_log.reports++;
	pthread_mutex_unlock(&stall_log.lock);
}

static void *last_iput(void *arg)
{
	pgdax_vol_iput(vol, *(uint64_t *)arg, 1);	/* reclaims, here */
	return NULL;
}

START_TEST(test_reclaim_waiting_on_a_referenced_extent_reports_it)
{
	struct pgdax_vol_opts vo = { .break_timeout_ms = 300, .stall_report_ms = 100 };
	struct pgdax_vol_stats s;
	struct pgdax_vol_file *f;
	struct pgdax_io io = { 0 };
	struct iovec iov[8];
	struct stat st;
	char buf[8192], want[64];
	int niov = 0, reports = 0, level = pgdax_log_get_level();
	pthread_t th;
	uint64_t ino;

	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	ck_assert_int_eq(pgdax_vol_mount(devpath, &vo, &vol), 0);
	fill_pattern(buf, sizeof(buf), 9);
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "leak", 0644, O_RDWR, &root_cred,
					  &st, &f), 0);
	ino = st.st_ino;
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, buf, sizeof(buf), &root_cred),
			 (ssize_t)sizeof(buf));
	/* the "leak": a read's extent references that outlive every handle */
	ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, sizeof(buf), iov, 8, &niov, &io),
			 (ssize_t)sizeof(buf));
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "leak"), 0);

	pgdax_log_set_level(LOG_WARNING);
	pgdax_log_set_fn(capture_stall, NULL);
	ck_assert_int_eq(pthread_create(&th, NULL, last_iput, &ino), 0);
	/* bounded poll for the report (10 s; it comes after 100 ms) */
	for (int i = 0; i < 1000; i++) {
		pgdax_vol_get_stats(vol, &s);
		pthread_mutex_lock(&stall_log.lock);
		reports = stall_log.reports;
		pthread_mutex_unlock(&stall_log.lock);
		if (s.stalled_reclaims == 1 && reports >= 1)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	ck_assert_uint_eq(s.stalled_reclaims, 1);
	ck_assert_int_ge(reports, 1);
	snprintf(want, sizeof(want), "inode %llu ", (unsigned long long)ino);
	pthread_mutex_lock(&stall_log.lock);
	ck_assert_msg(strstr(stall_log.last, want) && strstr(stall_log.last, "block "),
		      "report does not name the inode and its extents: %s", stall_log.last);
	pthread_mutex_unlock(&stall_log.lock);
	ck_assert_uint_eq(s.orphans, 1);

	/* the reference comes back: the reclaim completes, the count drops */
	pgdax_vol_io_done(vol, &io);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	pgdax_log_set_fn(NULL, NULL);
	pgdax_log_set_level(level);
	pgdax_vol_get_stats(vol, &s);
	ck_assert_uint_eq(s.stalled_reclaims, 0);
	ck_assert_uint_eq(s.orphans, 0);
}
END_TEST

START_TEST(test_orphan_left_by_a_dead_process_is_reclaimed_at_mount)
{
	static char data[1 << 20];
	uint64_t before = free_blocks();
	struct statvfs sv0;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv0), 0);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pgdax_vol *v;
		struct stat st;
		struct pgdax_vol_file *f;
		if (pgdax_vol_mount(devpath, NULL, &v) ||
		    pgdax_vol_create(v, PGDAX_ROOT_INO, "f", 0644, O_RDWR, &root_cred, &st, &f) ||
		    pgdax_vol_write(v, f, 0, data, sizeof(data), &root_cred) != sizeof(data) ||
		    pgdax_vol_unlink(v, PGDAX_ROOT_INO, "f"))
			_exit(1);
		_exit(0);	/* dies holding the file: an orphan on the medium */
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* without the reclaim at mount, 256+ blocks would be gone */
	do_mount();
	struct statvfs sv1;
	ck_assert_int_eq(pgdax_vol_statfs(vol, &sv1), 0);
	ck_assert_uint_ge(sv1.f_bfree + 2, before);
	ck_assert_uint_eq(sv1.f_ffree, sv0.f_ffree);
	struct pgdax_vol_stats s;
	pgdax_vol_get_stats(vol, &s);
	ck_assert_uint_eq(s.orphans, 0);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

/* ---- layout break ---- */

START_TEST(test_truncate_of_referenced_extent_times_out_with_ebusy_and_changes_nothing)
{
	char data[16384], out[16384];
	fill_pattern(data, sizeof(data), 4);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	struct iovec iov[8];
	struct pgdax_io io = { 0 };
	int niov;
	ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, 4096, iov, 8, &niov, &io), 4096);
	ck_assert_int_ge(io.nfolios, 1);
	uint64_t before = free_blocks();
	struct stat a = { .st_size = 0 }, st;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), -EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert(el >= 0.25);	/* it waited for the 300 ms break timeout */
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, sizeof(data));
	ck_assert_uint_eq(free_blocks(), before);
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     0, 16384, &root_cred), -EBUSY);
	pgdax_vol_io_done(vol, &io);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), 16384);
	ck_assert(memcmp(data, out, sizeof(out)) == 0);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_uint_gt(free_blocks(), before);
	pgdax_vol_release(vol, &f);
}
END_TEST

struct later_put {
	struct pgdax_vol *vol;
	struct pgdax_io *io;
};

static void *put_later(void *arg)
{
	struct later_put *lp = arg;
	usleep(100 * 1000);
	pgdax_vol_io_done(lp->vol, lp->io);
	return NULL;
}

START_TEST(test_truncate_waits_for_reference_to_go)
{
	char data[8192];
	fill_pattern(data, sizeof(data), 4);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	struct iovec iov[8];
	struct pgdax_io io = { 0 };
	int niov;
	ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, 8192, iov, 8, &niov, &io), 8192);
	struct later_put lp = { vol, &io };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, put_later, &lp), 0);
	struct stat a = { .st_size = 0 }, st;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* it returned only after the put, 100 ms later (timeout is 300 ms) */
	double el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(el >= 0.09, "truncate returned after %.3f s", el);
	ck_assert_int_eq(st.st_size, 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(io.nfolios, 0);
	pgdax_vol_release(vol, &f);
}
END_TEST

/* ---- idle is asked of the core: FREEING is busy (invariant 11) ---- */

#define FOLIO_WAITERS	(1u << 31)	/* lib/core/folio.c F_WAITERS */

/*
 * page_free of one extent (the hook runs on the thread dropping its last
 * reference, while it is FREEING) stays there until the thread changing
 * the file either sleeps on that extent (WAITERS on its word: it found
 * the extent busy) or returns (it took FREEING for idle), and records
 * which, and the free block count at that moment.
 */
struct freeing_probe {
	uint64_t pgoff;
	atomic_bool in_page_free, other_done;
	bool saw_waiter, saw_done;
	uint64_t free_in_page_free;
};

static void probe_page_free(uint64_t pgoff, unsigned order, void *arg)
{
	struct freeing_probe *pr = arg;
	struct pgdax_pgmap *pgmap = pgdax_vol_pgmap(vol);

	(void)order;
	/* only the first page_free of the extent: the one under test (a
	 * relayout puts its own hold on the old extent afterwards) */
	if (pgoff != pr->pgoff || atomic_exchange(&pr->in_page_free, true))
		return;
	for (int i = 0; i < 10000 && !pr->saw_waiter && !pr->saw_done; i++) {
		pr->saw_waiter = pgmap_folio_word(pgmap, pgoff) & FOLIO_WAITERS;
		pr->saw_done = atomic_load(&pr->other_done);
		if (!pr->saw_waiter && !pr->saw_done)
			usleep(1000);	/* bounded: 10 s */
	}
	pr->free_in_page_free = free_blocks();
}

static void *io_done_thread(void *arg)
{
	pgdax_vol_io_done(vol, arg);	/* the last put: page_free runs here */
	return NULL;
}

/* Start dropping the only reference to the extent at file page 0 of @f,
 * and return once its page_free is running. */
static void start_freeing(struct pgdax_vol_file *f, uint64_t ino, struct freeing_probe *pr,
			  struct pgdax_io *io, pthread_t *th)
{
	struct iovec iov[8];
	int niov;

	pr->pgoff = vol_test_dir_block(vol, ino, 0);
	ck_assert_uint_ne(pr->pgoff, 0);
	ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, 4096, iov, 8, &niov, io), 4096);
	ck_assert_int_eq(io->nfolios, 1);
	vol_test_set_page_free_hook(vol, probe_page_free, pr);
	ck_assert_int_eq(pthread_create(th, NULL, io_done_thread, io), 0);
	for (int i = 0; i < 10000 && !atomic_load(&pr->in_page_free); i++)
		usleep(1000);
	ck_assert(atomic_load(&pr->in_page_free));
}

static void end_freeing(struct freeing_probe *pr, pthread_t th, uint64_t free_before)
{
	atomic_store(&pr->other_done, true);
	pthread_join(th, NULL);
	vol_test_set_page_free_hook(vol, NULL, NULL);
	ck_assert_msg(!pr->saw_done, "the change went through while page_free ran");
	ck_assert_msg(pr->saw_waiter, "nobody waited for the FREEING extent");
	ck_assert_uint_eq(pr->free_in_page_free, free_before);
}

START_TEST(test_truncate_waits_for_page_free_before_freeing_blocks)
{
	char data[8192];
	fill_pattern(data, sizeof(data), 6);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	struct pgdax_vol_file *f;
	struct freeing_probe pr = { 0 };
	struct pgdax_io io = { 0 };
	pthread_t th;

	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	uint64_t before = free_blocks();
	start_freeing(f, ino, &pr, &io, &th);
	/* the extent's count is 0 but it is FREEING: not idle */
	struct stat a = { .st_size = 0 }, st;
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), 0);
	end_freeing(&pr, th, before);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_uint_gt(free_blocks(), before);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

static int put_unit(void *ctx, const struct pgdax_vol_dax_ext *e)
{
	(void)ctx;
	if (e->folio)
		folio_put(e->folio);
	return 0;
}

START_TEST(test_relayout_waits_for_page_free_before_freeing_blocks)
{
	static const struct pgdax_vol_dax_ops ops = { .unit = put_unit };
	char data[8192];
	fill_pattern(data, sizeof(data), 7);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	struct pgdax_vol_file *f;
	struct freeing_probe pr = { 0 };
	struct pgdax_io io = { 0 };
	pthread_t th;

	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	uint64_t before = free_blocks();
	start_freeing(f, ino, &pr, &io, &th);
	/* a 2 MiB unit over the file's small extent: relaid out once idle */
	ck_assert_int_eq(pgdax_vol_dax_layout(vol, f, 0, 2 << 20, 8192, 2 << 20, 0,
					      &ops, NULL), 0);
	end_freeing(&pr, th, before);
	ck_assert_int_eq(vol_test_extents_of_order(vol, ino, 9), 1);
	char out[8192];
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), 8192);
	ck_assert(memcmp(data, out, sizeof(out)) == 0);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

/* ---- space ---- */

START_TEST(test_enospc_is_clean_and_delete_gives_space_back)
{
	static char chunk[1 << 20];
	uint64_t before = free_blocks();
	int n = 0;
	ssize_t w = 0;
	char nm[32];
	struct stat st;
	for (;; n++) {
		struct pgdax_vol_file *f;
		snprintf(nm, sizeof(nm), "fill%d", n);
		int rc = pgdax_vol_create(vol, PGDAX_ROOT_INO, nm, 0644, O_RDWR, &root_cred, &st, &f);
		if (rc) {
			ck_assert_int_eq(rc, -ENOSPC);
			break;
		}
		pgdax_vol_iput(vol, st.st_ino, 1);
		w = pgdax_vol_write(vol, f, 0, chunk, sizeof(chunk), &root_cred);
		pgdax_vol_release(vol, &f);
		if (w != (ssize_t)sizeof(chunk))
			break;
		ck_assert_int_lt(n, 1000);
	}
	ck_assert(w == -ENOSPC || (w >= 0 && w < (ssize_t)sizeof(chunk)));
	ck_assert_uint_lt(free_blocks(), 8);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	/* a full volume can still delete */
	for (int i = 0; i <= n; i++) {
		snprintf(nm, sizeof(nm), "fill%d", i);
		int rc = pgdax_vol_unlink(vol, PGDAX_ROOT_INO, nm);
		ck_assert(rc == 0 || rc == -ENOENT);
	}
	ck_assert_uint_ge(free_blocks() + 8, before);
	remount();
	ck_assert_uint_ge(free_blocks() + 8, before);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

/* ---- big directory ---- */

START_TEST(test_directory_of_100000_entries_has_constant_time_lookup)
{
	struct stat st;
	char nm[32];
	const int N = 100000;
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "big", 0755, &root_cred, &st), 0);
	uint64_t d = st.st_ino;
	for (int i = 0; i < N; i++) {
		snprintf(nm, sizeof(nm), "entry-%d", i);
		ck_assert_int_eq(pgdax_vol_mknod(vol, d, nm, S_IFREG | 0644, 0, &root_cred, &st), 0);
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "small", 0755, &root_cred, &st), 0);
	uint64_t small = st.st_ino;
	for (int i = 0; i < 10; i++) {
		snprintf(nm, sizeof(nm), "entry-%d", i);
		ck_assert_int_eq(pgdax_vol_mknod(vol, small, nm, S_IFREG | 0644, 0, &root_cred, &st),
				 0);
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	remount();	/* the index is rebuilt from the medium */
	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, "big", &st), 0);
	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, "small", &st), 0);
	/* N lookups in a 10-entry directory, then N in the N-entry one: a
	 * hashed lookup costs the same; a linear scan would be ~5000x slower */
	double t_small = 0, t_big = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t dir = pass ? d : small;
		int mod = pass ? N : 10;
		struct timespec t0, t1;
		ck_assert_int_eq(pgdax_vol_lookup(vol, dir, "entry-0", &st), 0); /* builds the index */
		pgdax_vol_iput(vol, st.st_ino, 1);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < N; i++) {
			snprintf(nm, sizeof(nm), "entry-%d", (i * 7919) % mod);
			ck_assert_int_eq(pgdax_vol_lookup(vol, dir, nm, &st), 0);
			pgdax_vol_iput(vol, st.st_ino, 1);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		*(pass ? &t_big : &t_small) = el;
	}
	ck_assert_int_eq(pgdax_vol_lookup(vol, d, "entry-100000", &st), -ENOENT);
	fprintf(stderr, "%d lookups: %.3f s in a 10-entry directory, %.3f s in a %d-entry one\n",
		N, t_small, t_big, N);
	/* the big directory's inodes are mostly not cached: allow for that */
	ck_assert_msg(t_big < 10 * t_small + 0.1, "lookups: %.3f s in 10 entries, %.3f s in %d",
		      t_small, t_big, N);
	ck_assert_int_eq(vol_test_count_entries(vol, d), N + 2);
	pgdax_vol_iput(vol, d, 1);
	pgdax_vol_iput(vol, small, 1);
}
END_TEST

/* ---- superblock ---- */

static int mount_fails_with(void)
{
	struct pgdax_vol *v = NULL;
	int rc = pgdax_vol_mount(devpath, NULL, &v);
	if (!rc)
		pgdax_vol_unmount(&v);
	return rc;
}

static void poke(uint64_t off, const void *p, size_t n)
{
	int fd = open(devpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void peek(uint64_t off, void *p, size_t n)
{
	int fd = open(devpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, p, n, (off_t)off), (ssize_t)n);
	close(fd);
}

START_TEST(test_bad_superblock_magic_and_backup_fails_mount_with_euclean)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_sb sb;
	peek(0, &sb, sizeof(sb));
	uint64_t boff = (le64toh(sb.s_blocks) - 1) * le32toh(sb.s_block_size);
	uint64_t zero = 0;
	poke(0, &zero, 8);
	poke(boff, &zero, 8);
	ck_assert_int_eq(mount_fails_with(), -EUCLEAN);
}
END_TEST

START_TEST(test_unknown_major_version_is_refused)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_sb sb;
	peek(0, &sb, sizeof(sb));
	sb.s_major = htole16(PGDAX_FMT_MAJOR + 1);
	sb.s_crc = htole32(pgdax_struct_crc(&sb, offsetof(struct pgdax_sb, s_crc)));
	poke(0, &sb, sizeof(sb));
	ck_assert_int_eq(mount_fails_with(), -EPROTONOSUPPORT);
}
END_TEST

START_TEST(test_newer_minor_version_mounts)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_sb sb;
	peek(0, &sb, sizeof(sb));
	sb.s_minor = htole16(PGDAX_FMT_MINOR + 3);
	sb.s_crc = htole32(pgdax_struct_crc(&sb, offsetof(struct pgdax_sb, s_crc)));
	poke(0, &sb, sizeof(sb));
	ck_assert_int_eq(mount_fails_with(), 0);
}
END_TEST

START_TEST(test_damaged_primary_superblock_uses_backup_and_repairs)
{
	uint64_t ino = create_file(PGDAX_ROOT_INO, "keep", "abc", 3);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_sb sb;
	peek(0, &sb, sizeof(sb));
	char garbage[64];
	memset(garbage, 0x5a, sizeof(garbage));
	poke(100, garbage, sizeof(garbage));	/* crc now fails */
	do_mount();
	ck_assert_uint_eq(lookup_ino(PGDAX_ROOT_INO, "keep"), ino);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_sb fixed;
	peek(0, &fixed, sizeof(fixed));
	char why[128];
	ck_assert_int_eq(pgdax_sb_validate(&fixed, 0, why, sizeof(why)), 0);
	ck_assert(memcmp(&fixed, &sb, offsetof(struct pgdax_sb, s_state)) == 0);
}
END_TEST

START_TEST(test_corrupt_inode_fails_lookup_cleanly)
{
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", "abc", 3);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_sb sb;
	peek(0, &sb, sizeof(sb));
	uint64_t off = le64toh(sb.s_itable_start) * le32toh(sb.s_block_size) + ino * 256 + 8;
	uint32_t bad = 0xdeadbeef;
	poke(off, &bad, 4);
	do_mount();
	struct stat st;
	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, "f", &st), -EUCLEAN);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), -EUCLEAN);
}
END_TEST

START_TEST(test_corrupt_directory_record_fails_cleanly)
{
	create_file(PGDAX_ROOT_INO, "f", "abc", 3);
	/* find the root's directory block and break a record length */
	uint64_t blk = vol_test_dir_block(vol, PGDAX_ROOT_INO, 0);
	ck_assert_uint_gt(blk, 0);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	uint16_t bad = 3;
	poke(blk * 4096 + 8, &bad, 2);
	do_mount();
	struct stat st;
	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, "f", &st), -EUCLEAN);
}
END_TEST

/* ---- mkfs ---- */

START_TEST(test_mkfs_refuses_existing_filesystem_without_force)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_mkfs_opts o = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), -EEXIST);
	o.force = true;
	o.label = "again";
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	struct pgdax_sb sb;
	peek(0, &sb, sizeof(sb));
	ck_assert_str_eq(sb.s_label, "again");
}
END_TEST

START_TEST(test_mkfs_refuses_device_held_by_a_mount)
{
	struct pgdax_mkfs_opts o = { .quiet = true, .force = true };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), -EBUSY);
	struct pgdax_vol *v2;
	ck_assert_int_eq(pgdax_vol_mount(devpath, NULL, &v2), -EBUSY);
}
END_TEST

START_TEST(test_mkfs_of_1tib_sparse_device_writes_little_and_mounts)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/pgdax-vol-test-tib-%d", getpid());
	unlink(path);
	ck_assert_int_eq(pgdax_dev_create_emulated(path, 1ULL << 40, 2 << 20), 0);
	struct pgdax_mkfs_opts o = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(path, &o), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	/* bitmaps of 40 MiB would be the worst case; only the used words and
	 * metadata pages are written */
	ck_assert_int_lt((long long)st.st_blocks * 512, 16LL << 20);
	struct pgdax_vol *v;
	ck_assert_int_eq(pgdax_vol_mount(path, NULL, &v), 0);
	struct statvfs sv;
	ck_assert_int_eq(pgdax_vol_statfs(v, &sv), 0);
	ck_assert_uint_gt(sv.f_bfree, (1ULL << 40) / 4096 * 9 / 10);
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_lt((long long)st.st_blocks * 512, 64LL << 20);
	unlink(path);
}
END_TEST

START_TEST(test_mkfs_rejects_bad_geometry)
{
	struct pgdax_mkfs_opts o = { .block_size = 3000 };
	struct pgdax_sb sb;
	ck_assert_int_eq(pgdax_mkfs_layout(64 << 20, 4096, &o, &sb), -EINVAL);
	o.block_size = 4096;
	ck_assert_int_eq(pgdax_mkfs_layout(64 << 10, 4096, &o, &sb), -EINVAL);
	o.label = "this label is definitely far too long to fit in sixty four bytes ....";
	ck_assert_int_eq(pgdax_mkfs_layout(64 << 20, 4096, &o, &sb), -EINVAL);
	o.label = NULL;
	ck_assert_int_eq(pgdax_mkfs_layout(64 << 20, 4096, &o, &sb), 0);
	char why[128];
	ck_assert_int_eq(pgdax_sb_validate(&sb, 64 << 20, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_block_size_8k_volume_works)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_mkfs_opts o = { .quiet = true, .force = true, .block_size = 8192 };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	do_mount();
	static char data[100000], out[100000];
	fill_pattern(data, sizeof(data), 8);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	remount();
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), (ssize_t)sizeof(data));
	ck_assert(memcmp(data, out, sizeof(data)) == 0);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

/* ---- concurrency ---- */

struct worker {
	int id;
	uint64_t dir;
	int errors;
	int first_line, first_i;	/* where the first error happened */
};

#define WERR(w, i) do { if (!(w)->errors++) { (w)->first_line = __LINE__; (w)->first_i = (i); } } while (0)

static atomic_int stop_readers;

static void *churn(void *arg)
{
	struct worker *w = arg;
	static char data[4][70000];
	char *buf = data[w->id], out[70000], nm[32], nm2[32];
	fill_pattern(buf, sizeof(data[0]), (unsigned)w->id);
	for (int i = 0; i < 150; i++) {
		struct stat st;
		struct pgdax_vol_file *f;
		size_t n = 1000 + (size_t)((i * 7919 + w->id * 131) % 69000);
		snprintf(nm, sizeof(nm), "w%d-%d", w->id, i);
		snprintf(nm2, sizeof(nm2), "w%d-%d-renamed", w->id, i);
		if (pgdax_vol_create(vol, w->dir, nm, 0644, O_RDWR, &root_cred, &st, &f)) {
			WERR(w, i);
			continue;
		}
		if (pgdax_vol_write(vol, f, 0, buf, n, &root_cred) != (ssize_t)n)
			WERR(w, i);
		else if (rd(f, 0, out, n) != (ssize_t)n)
			WERR(w, i);
		else if (memcmp(out, buf, n))
			WERR(w, i);
		pgdax_vol_release(vol, &f);
		if (pgdax_vol_rename(vol, w->dir, nm, w->dir, nm2, 0))
			WERR(w, i);
		if (i % 3 && pgdax_vol_unlink(vol, w->dir, nm2))
			WERR(w, i);
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	return NULL;
}

static int count_only(void *ctx, const char *name, const struct stat *st, uint64_t next_off)
{
	(void)name;
	(void)st;
	(void)next_off;
	(*(int *)ctx)++;
	return 0;
}

static void *lister(void *arg)
{
	struct worker *w = arg;
	while (!stop_readers) {
		int n = 0;
		if (pgdax_vol_readdir(vol, w->dir, 0, false, count_only, &n) || n < 2)
			WERR(w, 0);
		struct stat st;
		int rc = pgdax_vol_lookup(vol, w->dir, "w0-1-renamed", &st);
		if (rc == 0)
			pgdax_vol_iput(vol, st.st_ino, 1);
		else if (rc != -ENOENT)
			WERR(w, 0);
	}
	return NULL;
}

START_TEST(test_concurrent_namespace_and_data_operations_stay_consistent)
{
	struct stat st;
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "shared", 0755, &root_cred, &st),
			 0);
	struct worker w[5];
	pthread_t th[5];
	stop_readers = 0;
	for (int i = 0; i < 5; i++) {
		w[i] = (struct worker){ .id = i, .dir = st.st_ino };
		ck_assert_int_eq(pthread_create(&th[i], NULL, i < 4 ? churn : lister, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	stop_readers = 1;
	pthread_join(th[4], NULL);
	for (int i = 0; i < 5; i++)
		ck_assert_msg(w[i].errors == 0, "worker %d: %d errors, first at line %d, i %d", i,
			      w[i].errors, w[i].first_line, w[i].first_i);
	/* 4 workers x 50 files kept (i % 3 == 0) */
	ck_assert_int_eq(vol_test_count_entries(vol, st.st_ino), 4 * 50 + 2);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
	remount();
	ck_assert_int_eq(vol_test_count_entries(vol, st.st_ino), 4 * 50 + 2);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

START_TEST(test_large_sequential_write_uses_2mib_aligned_extents)
{
	static char chunk[128 << 10];
	struct stat st;
	struct pgdax_vol_file *f;
	fill_pattern(chunk, sizeof(chunk), 6);
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "big", 0644, O_RDWR, &root_cred,
					  &st, &f), 0);
	for (int i = 0; i < 64; i++)	/* 8 MiB in 128 KiB writes, like FUSE sends */
		ck_assert_int_eq(pgdax_vol_write(vol, f, (uint64_t)i * sizeof(chunk), chunk,
						 sizeof(chunk), &root_cred), sizeof(chunk));
	pgdax_vol_release(vol, &f);
	/* the first MiB grows in small extents, the rest is in 2 MiB ones */
	ck_assert_int_ge(vol_test_extents_of_order(vol, st.st_ino, 9), 3);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	pgdax_vol_iput(vol, st.st_ino, 1);
}
END_TEST

START_TEST(test_read_only_mount_refuses_changes)
{
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", "abc", 3);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_vol_opts vo = { .flags = PGDAX_VOL_RDONLY, .break_timeout_ms = 100 };
	ck_assert_int_eq(pgdax_vol_mount(devpath, &vo, &vol), 0);
	struct stat st;
	struct pgdax_vol_file *f;
	ck_assert_uint_eq(lookup_ino(PGDAX_ROOT_INO, "f"), ino);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "d", 0755, &root_cred, &st), -EROFS);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "f"), -EROFS);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), -EROFS);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	char out[8];
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), 3);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.x", "1", 1, 0), -EROFS);
}
END_TEST

static bool always_interrupted(void *arg)
{
	(void)arg;
	return true;
}

START_TEST(test_interrupted_truncate_wait_returns_eintr_and_changes_nothing)
{
	char data[8192];
	fill_pattern(data, sizeof(data), 4);
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	struct iovec iov[8];
	struct pgdax_io io = { 0 };
	int niov;
	ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, 8192, iov, 8, &niov, &io), 8192);
	struct pgdax_cred c = { .uid = 0, .interrupted = always_interrupted };
	struct stat a = { .st_size = 0 }, st;
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &c, &st), -EINTR);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, 8192);
	pgdax_vol_io_done(vol, &io);
	pgdax_vol_release(vol, &f);
}
END_TEST

START_TEST(test_block_size_64k_volume_works)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	struct pgdax_mkfs_opts o = { .quiet = true, .force = true, .block_size = 65536 };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	do_mount();
	struct stat st;
	char nm[64];
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "d", 0755, &root_cred, &st), 0);
	uint64_t d = st.st_ino;
	for (int i = 0; i < 3000; i++) {	/* several 64 KiB directory blocks */
		snprintf(nm, sizeof(nm), "name-%d", i);
		ck_assert_int_eq(pgdax_vol_mknod(vol, d, nm, S_IFREG | 0644, 0, &root_cred, &st), 0);
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	for (int i = 0; i < 3000; i += 2) {
		snprintf(nm, sizeof(nm), "name-%d", i);
		ck_assert_int_eq(pgdax_vol_unlink(vol, d, nm), 0);
	}
	static char data[200000], out[200000];
	fill_pattern(data, sizeof(data), 8);
	uint64_t ino = create_file(d, "f", data, sizeof(data));
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.x", "y", 1, 0), 0);
	remount();
	ck_assert_int_eq(vol_test_count_entries(vol, d), 1500 + 1 + 2);
	ck_assert_uint_eq(lookup_ino(d, "name-2999"), lookup_ino(d, "name-2999"));
	ck_assert_uint_eq(lookup_ino(d, "name-2998"), 0);
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, out, sizeof(out)), (ssize_t)sizeof(data));
	ck_assert(memcmp(data, out, sizeof(data)) == 0);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}
END_TEST

/* ------------------------------------------------------------ device loss */

/* Wait (bounded, for the device's watcher thread) until the volume is dead. */
static bool wait_dead(int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		if (pgdax_vol_is_dead(vol))
			return true;
		usleep(10000);
	}
	return pgdax_vol_is_dead(vol);
}

static int dead_calls;
static char dead_why[512];
static void on_dead(void *arg, const char *why)
{
	(void)arg;
	dead_calls++;
	snprintf(dead_why, sizeof(dead_why), "%s", why);
}

START_TEST(test_cut_device_makes_every_call_fail_eio_and_unmount_enodev)
{
	static const char data[] = "acknowledged before the cut";
	uint64_t ino = create_file(PGDAX_ROOT_INO, "f", data, sizeof(data));
	struct pgdax_vol_file *f, *g = NULL;
	struct stat st;
	char buf[64];

	char tail[4096];
	int fd;

	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &root_cred, &f), 0);
	dead_calls = 0;
	pgdax_vol_on_dead(vol, on_dead, NULL);
	ck_assert(!pgdax_vol_is_dead(vol));
	/* the last block (the backup superblock) goes: kept to put back */
	fd = open(devpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, tail, sizeof(tail), (64 << 20) - 4096), (ssize_t)sizeof(tail));
	ck_assert_int_eq(ftruncate(fd, (64 << 20) - 4096), 0);
	ck_assert(wait_dead(10));
	ck_assert_ptr_nonnull(strstr(dead_why, "was cut to"));
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), -EIO);
	ck_assert_int_eq(pgdax_vol_lookup(vol, PGDAX_ROOT_INO, "f", &st), -EIO);
	ck_assert_int_eq(rd(f, 0, buf, sizeof(buf)), -EIO);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "x", 1, &root_cred), -EIO);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &g), -EIO);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "new", 0644, O_RDWR, &root_cred,
					  &st, &g), -EIO);
	ck_assert_int_eq(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "d", 0755, &root_cred, &st), -EIO);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "f"), -EIO);
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, 0, 0, 1 << 20, &root_cred), -EIO);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.a", "b", 1, 0), -EIO);
	/* an open file can still be closed, and the volume released */
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), -ENODEV);
	ck_assert_ptr_null(vol);
	ck_assert_int_eq(dead_calls, 1);
	/* the device comes back whole: what was acknowledged is there */
	ck_assert_int_eq(pwrite(fd, tail, sizeof(tail), (64 << 20) - 4096), (ssize_t)sizeof(tail));
	close(fd);
	do_mount();
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	ck_assert_int_eq(rd(f, 0, buf, sizeof(data)), (ssize_t)sizeof(data));
	ck_assert_str_eq(buf, data);
	pgdax_vol_release(vol, &f);
}
END_TEST

static Suite *vol_suite(void)
{
	Suite *s = suite_create("vol");
	TCase *tc;

	tc = tcase_create("namespace");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fresh_volume_has_empty_root_directory);
	tcase_add_test(tc, test_namespace_survives_remount);
	tcase_add_test(tc, test_readdir_lists_entries_and_resumes_at_offset);
	tcase_add_test(tc, test_readdirplus_takes_a_reference_per_entry);
	tcase_add_test(tc, test_namespace_errors_are_clean_errnos);
	tcase_add_test(tc, test_rename_moves_replaces_and_exchanges);
	tcase_add_test(tc, test_hard_link_counts_and_survives_unlink_of_one_name);
	tcase_add_test(tc, test_symlink_short_and_long_targets);
	tcase_add_test(tc, test_setattr_chmod_chown_truncate_and_times);
	tcase_add_test(tc, test_xattrs_set_get_list_remove);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_written_data_reads_back);
	tcase_add_test(tc, test_overwrite_and_append_change_content_and_size);
	tcase_add_test(tc, test_unlink_frees_space_and_inode);
	tcase_add_test(tc, test_write_by_non_root_clears_setuid);
	tcase_add_test(tc, test_open_with_o_trunc_empties_the_file);
	tcase_add_test(tc, test_sparse_file_beyond_4gib_reads_zeros_in_holes);
	tcase_add_test(tc, test_punch_hole_frees_blocks_and_zeroes_edges);
	tcase_add_test(tc, test_copy_range_copies_bytes);
	tcase_add_test(tc, test_enospc_is_clean_and_delete_gives_space_back);
	tcase_add_test(tc, test_inode_exhaustion_is_enospc_and_unlink_gives_one_back);
	tcase_add_test(tc, test_block_size_8k_volume_works);
	tcase_add_test(tc, test_block_size_64k_volume_works);
	suite_add_tcase(s, tc);

	tc = tcase_create("orphans_and_layout_break");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unlinked_open_file_lives_until_release);
	tcase_add_test(tc, test_orphan_left_by_a_dead_process_is_reclaimed_at_mount);
	tcase_add_test(tc, test_reclaim_waiting_on_a_referenced_extent_reports_it);
	tcase_add_test(tc, test_truncate_of_referenced_extent_times_out_with_ebusy_and_changes_nothing);
	tcase_add_test(tc, test_truncate_waits_for_reference_to_go);
	tcase_add_test(tc, test_interrupted_truncate_wait_returns_eintr_and_changes_nothing);
	tcase_add_test(tc, test_truncate_waits_for_page_free_before_freeing_blocks);
	tcase_add_test(tc, test_relayout_waits_for_page_free_before_freeing_blocks);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency_and_large_files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_concurrent_namespace_and_data_operations_stay_consistent);
	tcase_add_test(tc, test_large_sequential_write_uses_2mib_aligned_extents);
	tcase_add_test(tc, test_read_only_mount_refuses_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("big_directory");
	tcase_add_checked_fixture(tc, setup_many_inodes, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_directory_of_100000_entries_has_constant_time_lookup);
	suite_add_tcase(s, tc);

	tc = tcase_create("superblock_and_corruption");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bad_superblock_magic_and_backup_fails_mount_with_euclean);
	tcase_add_test(tc, test_unknown_major_version_is_refused);
	tcase_add_test(tc, test_newer_minor_version_mounts);
	tcase_add_test(tc, test_damaged_primary_superblock_uses_backup_and_repairs);
	tcase_add_test(tc, test_corrupt_inode_fails_lookup_cleanly);
	tcase_add_test(tc, test_corrupt_directory_record_fails_cleanly);
	suite_add_tcase(s, tc);

	tc = tcase_create("device_loss");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cut_device_makes_every_call_fail_eio_and_unmount_enodev);
	suite_add_tcase(s, tc);

	tc = tcase_create("mkfs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mkfs_refuses_existing_filesystem_without_force);
	tcase_add_test(tc, test_mkfs_refuses_device_held_by_a_mount);
	tcase_add_test(tc, test_mkfs_of_1tib_sparse_device_writes_little_and_mounts);
	tcase_add_test(tc, test_mkfs_rejects_bad_geometry);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	pgdax_log_set_level(LOG_CRIT);	/* the corruption tests log on purpose */
	SRunner *sr = srunner_create(vol_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
