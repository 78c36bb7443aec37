/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes beyond one block (issue 17, item 4; format 1.4):
 * thousands of attributes on one file and values up to 64 KiB
 * (XATTR_SIZE_MAX), set, replaced and removed through lib/vol/vol.h, with
 * the kernel's errors (E2BIG past 64 KiB, ERANGE for a short buffer), a
 * full device that answers ENOSPC and leaves the set as it was, an image of
 * an older minor that keeps its single block, and a crash at EVERY persist
 * barrier of a set, a replace and a remove (PGDAX_CRASH_AT, as
 * tests/check_trim.c does) leaving the old set or the new one, exactly,
 * with the space accounted and fsck -n clean.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "dev/dev.h"
#include "fsck/fsck.h"
#include "util/log.h"
#include "vol/format.h"
#include "vol/mkfs.h"
#include "vol/vol.h"
#include "vol/vol_test.h"

#define DEV_SIZE	(32u << 20)
#define BIG		65536u
#define SMALL_LEN	40u

static char devpath[256], orig[256], shadow[256], ycopy[256], countpath[256], rangepath[256];
static struct pgdax_cred cred = { .uid = 0, .gid = 0 };
static struct pgdax_vol *vol;
static uint64_t ino;

static void mkdev(const char *path, uint64_t size)
{
	unlink(path);
	ck_assert_int_eq(pgdax_dev_create_emulated(path, size, 4096), 0);
	struct pgdax_mkfs_opts o = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(path, &o), 0);
}

static void setup(void)
{
	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-xattr-%d", getpid());
	snprintf(orig, sizeof(orig), "/dev/shm/pgdax-xattr-%d.orig", getpid());
	snprintf(shadow, sizeof(shadow), "/dev/shm/pgdax-xattr-%d.shadow", getpid());
	snprintf(ycopy, sizeof(ycopy), "/dev/shm/pgdax-xattr-%d.y", getpid());
	snprintf(countpath, sizeof(countpath), "/dev/shm/pgdax-xattr-%d.count", getpid());
	snprintf(rangepath, sizeof(rangepath), "/dev/shm/pgdax-xattr-%d.range", getpid());
	mkdev(devpath, DEV_SIZE);
	vol = NULL;
}

static void teardown(void)
{
	if (vol)
		pgdax_vol_unmount(&vol);
	unlink(devpath);
	unlink(orig);
	unlink(shadow);
	unlink(ycopy);
	unlink(countpath);
	unlink(rangepath);
}

static int fsck(const char *dev, unsigned flags, struct pgdax_fsck_result *res)
{
	FILE *out = fopen(getenv("CHECK_XATTR_FSCK_OUT") ? "/dev/stderr" : "/dev/null", "w");
	struct pgdax_fsck_opts fo = { .flags = PGDAX_FSCK_FORCE | flags, .out = out };
	int ec = pgdax_fsck_device(dev, 0, &fo, res);
	fclose(out);
	return ec;
}

static void fsck_clean(const char *dev, const char *ctx)
{
	struct pgdax_fsck_result res;
	int ec = fsck(dev, 0, &res);
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

static void mount_vol(void)
{
	ck_assert_int_eq(pgdax_vol_mount(devpath, NULL, &vol), 0);
	ino = lookup(vol, "f");
}

static void unmount_vol(void)
{
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
}

/* A fresh volume with an empty file "f" */
static void mount_with_file(void)
{
	struct pgdax_vol_file *f;
	struct stat st;
	mount_vol();
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "f", 0644, O_RDWR, &cred, &st,
					  &f), 0);
	pgdax_vol_release(vol, &f);
	pgdax_vol_iput(vol, st.st_ino, 1);
	ino = st.st_ino;
}

static void small_name(char *n, size_t len, unsigned i)
{
	snprintf(n, len, "user.small.%05u", i);
}

static void small_value(unsigned char *v, unsigned i)
{
	for (unsigned j = 0; j < SMALL_LEN; j++)
		v[j] = (unsigned char)(i * 7 + j);
}

static int set_small(struct pgdax_vol *v, uint64_t in, unsigned i, int flags)
{
	char n[64];
	unsigned char val[SMALL_LEN];
	small_name(n, sizeof(n), i);
	small_value(val, i);
	return pgdax_vol_setxattr(v, in, n, val, sizeof(val), flags);
}

static uint64_t free_blocks(struct pgdax_vol *v)
{
	struct pgdax_vol_stats s;
	pgdax_vol_get_stats(v, &s);
	return s.free_blocks;
}

/* Is the value of @name @len bytes of @byte? (-errno if it cannot be read) */
static int value_is(struct pgdax_vol *v, uint64_t in, const char *name, size_t len,
		    unsigned char byte)
{
	static unsigned char buf[BIG];
	ssize_t r = pgdax_vol_getxattr(v, in, name, buf, sizeof(buf));
	if (r < 0)
		return (int)r;
	if ((size_t)r != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != byte)
			return 0;
	return 1;
}

START_TEST(test_five_thousand_attributes_on_one_file_survive_remount)
{
	enum { N = 5000 };
	static char list[1 << 17];
	mount_with_file();
	uint64_t free0 = free_blocks(vol);
	for (unsigned i = 0; i < N; i++) {
		int rc = set_small(vol, ino, i, XATTR_CREATE);
		ck_assert_msg(rc == 0, "attribute %u: %s", i, strerror(-rc));
	}
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	unmount_vol();
	fsck_clean(devpath, "5000 attributes");
	mount_vol();
	ssize_t n = pgdax_vol_listxattr(vol, ino, NULL, 0);
	ck_assert_int_eq(n, N * (ssize_t)sizeof("user.small.00000"));
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, list, (size_t)n - 1), -ERANGE);
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, list, sizeof(list)), n);
	static unsigned char seen[N];
	memset(seen, 0, sizeof(seen));
	for (ssize_t p = 0; p < n; p += (ssize_t)strlen(list + p) + 1) {
		unsigned i;
		ck_assert_int_eq(sscanf(list + p, "user.small.%05u", &i), 1);
		ck_assert_uint_lt(i, N);
		ck_assert_int_eq(seen[i]++, 0);
	}
	for (unsigned i = 0; i < N; i++) {
		char nm[64];
		unsigned char want[SMALL_LEN], got[SMALL_LEN];
		small_name(nm, sizeof(nm), i);
		small_value(want, i);
		ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, nm, got, sizeof(got)), SMALL_LEN);
		ck_assert_msg(!memcmp(got, want, SMALL_LEN), "value of %s", nm);
	}
	/* remove every other one, then the rest: the blocks come back */
	for (unsigned i = 0; i < N; i += 2) {
		char nm[64];
		small_name(nm, sizeof(nm), i);
		ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, nm), 0);
	}
	ck_assert_int_eq(set_small(vol, ino, 1, XATTR_CREATE), -EEXIST);
	ck_assert_int_eq(set_small(vol, ino, 2, XATTR_REPLACE), -ENODATA);
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, NULL, 0),
			 N / 2 * (ssize_t)sizeof("user.small.00000"));
	for (unsigned i = 1; i < N; i += 2) {
		char nm[64];
		small_name(nm, sizeof(nm), i);
		ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, nm), 0);
	}
	ck_assert_int_eq(pgdax_vol_listxattr(vol, ino, NULL, 0), 0);
	ck_assert_uint_eq(free_blocks(vol), free0);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	unmount_vol();
	fsck_clean(devpath, "all removed");
}
END_TEST

START_TEST(test_64k_values_set_replace_remove_with_the_kernel_errors)
{
	static unsigned char big[BIG + 1], buf[BIG];
	mount_with_file();
	uint64_t free0 = free_blocks(vol);
	memset(big, 0x11, sizeof(big));
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG + 1, 0), -E2BIG);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG, 0), 0);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG, XATTR_CREATE), -EEXIST);
	/* a few at 64 KiB, and small ones beside them */
	for (unsigned k = 0; k < 8; k++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "trusted.big%u", k);
		memset(big, 0x20 + (int)k, BIG);
		ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, nm, big, BIG - k, 0), 0);
		ck_assert_int_eq(set_small(vol, ino, k, 0), 0);
	}
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.big", NULL, 0), BIG);
	ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, "user.big", buf, BIG - 1), -ERANGE);
	ck_assert_int_eq(value_is(vol, ino, "user.big", BIG, 0x11), 1);
	/* a 255-byte name; 256 is refused */
	char longname[300];
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "user.", 5);
	longname[255] = 0;
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, longname, big, 3000, 0), 0);
	longname[255] = 'n';
	longname[256] = 0;
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, longname, big, 3000, 0), -ERANGE);
	/* replace: big -> small -> big -> other big, checked after remount */
	memset(big, 0x33, BIG);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, 10, XATTR_REPLACE), 0);
	ck_assert_int_eq(value_is(vol, ino, "user.big", 10, 0x33), 1);
	memset(big, 0x44, BIG);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, 5000, XATTR_REPLACE), 0);
	memset(big, 0x55, BIG);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG, XATTR_REPLACE), 0);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	unmount_vol();
	fsck_clean(devpath, "64 KiB values");
	mount_vol();
	ck_assert_int_eq(value_is(vol, ino, "user.big", BIG, 0x55), 1);
	for (unsigned k = 0; k < 8; k++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "trusted.big%u", k);
		ck_assert_int_eq(value_is(vol, ino, nm, BIG - k, (unsigned char)(0x20 + k)), 1);
		ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, nm), 0);
		ck_assert_int_eq(pgdax_vol_getxattr(vol, ino, nm, NULL, 0), -ENODATA);
	}
	ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, "user.big"), 0);
	ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, "user.big"), -ENODATA);
	longname[255] = 0;
	ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, longname), 0);
	for (unsigned k = 0; k < 8; k++) {
		char nm[64];
		small_name(nm, sizeof(nm), k);
		ck_assert_int_eq(pgdax_vol_removexattr(vol, ino, nm), 0);
	}
	ck_assert_uint_eq(free_blocks(vol), free0);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	/* unlinking a file with big values gives everything back */
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG, 0), 0);
	for (unsigned i = 0; i < 300; i++)
		ck_assert_int_eq(set_small(vol, ino, i, 0), 0);
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "f"), 0);
	ck_assert_uint_eq(free_blocks(vol), free0 + 0);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	unmount_vol();
	fsck_clean(devpath, "file unlinked");
}
END_TEST

/* Snapshot of the set: list and every value */
struct snap {
	ssize_t n;
	char list[1 << 14];
	uint32_t crc[512];
};

static void snap_take(struct pgdax_vol *v, uint64_t in, struct snap *s)
{
	static unsigned char buf[BIG];
	s->n = pgdax_vol_listxattr(v, in, s->list, sizeof(s->list));
	ck_assert_int_ge(s->n, 0);
	unsigned k = 0;
	for (ssize_t p = 0; p < s->n; p += (ssize_t)strlen(s->list + p) + 1, k++) {
		ssize_t r = pgdax_vol_getxattr(v, in, s->list + p, buf, sizeof(buf));
		ck_assert_int_ge(r, 0);
		ck_assert_uint_lt(k, 512);
		s->crc[k] = pgdax_crc32c((uint32_t)r, buf, (size_t)r);
	}
}

static void snap_same(const struct snap *a, const struct snap *b)
{
	ck_assert_int_eq(a->n, b->n);
	ck_assert(!memcmp(a->list, b->list, (size_t)a->n));
	unsigned k = 0;
	for (ssize_t p = 0; p < a->n; p += (ssize_t)strlen(a->list + p) + 1, k++)
		ck_assert_msg(a->crc[k] == b->crc[k], "value of %s changed", a->list + p);
}

START_TEST(test_enospc_on_a_full_device_leaves_the_set_unchanged)
{
	static unsigned char big[BIG];
	static struct snap before, after;
	struct pgdax_vol_file *f;
	struct stat st;
	mount_with_file();
	memset(big, 0x77, sizeof(big));
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG, 0), 0);
	unsigned i = 0;
	for (; i < 95; i++)	/* the first block nearly full */
		ck_assert_int_eq(set_small(vol, ino, i, 0), 0);
	/* fill the device with a file, block by block */
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, "fill", 0644, O_RDWR, &cred,
					  &st, &f), 0);
	static char chunk[4096];
	memset(chunk, 1, sizeof(chunk));
	for (off_t off = 0;; off += (off_t)sizeof(chunk))
		if (pgdax_vol_write(vol, f, off, chunk, sizeof(chunk), &cred) < 0)
			break;
	pgdax_vol_release(vol, &f);
	pgdax_vol_iput(vol, st.st_ino, 1);
	ck_assert_uint_eq(free_blocks(vol), 0);
	snap_take(vol, ino, &before);
	/* a new value extent, a replacing one, and a block the chain needs */
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big2", big, BIG, 0), -ENOSPC);
	memset(big, 0x78, sizeof(big));
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG, XATTR_REPLACE),
			 -ENOSPC);
	snap_take(vol, ino, &after);
	snap_same(&before, &after);
	int rc = 0;
	for (; i < 400 && !rc; i++)
		rc = set_small(vol, ino, i, 0);
	ck_assert_int_eq(rc, -ENOSPC);
	i--;
	snap_take(vol, ino, &after);
	ck_assert_int_eq(after.n, before.n + (ssize_t)((i - 95) * sizeof("user.small.00000")));
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
	/* removing frees space, and the set works again */
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "fill"), 0);
	ck_assert_int_eq(set_small(vol, ino, i, 0), 0);
	ck_assert_int_eq(value_is(vol, ino, "user.big", BIG, 0x77), 1);
	unmount_vol();
	fsck_clean(devpath, "after ENOSPC");
}
END_TEST

/* An image of minor 3 (no PGDAX_FEAT_INCOMPAT_XATTR_MULTI) keeps one block
 * per inode, readable by the drivers that wrote it. */
START_TEST(test_older_minor_image_keeps_the_single_block)
{
	static unsigned char big[BIG];
	struct pgdax_sb sb;
	int fd = open(devpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &sb, sizeof(sb), 0), (ssize_t)sizeof(sb));
	ck_assert(le64toh(sb.s_feat_incompat) & PGDAX_FEAT_INCOMPAT_XATTR_MULTI);
	ck_assert_int_eq(le16toh(sb.s_minor), 4);
	sb.s_minor = htole16(3);
	sb.s_feat_incompat &= ~htole64(PGDAX_FEAT_INCOMPAT_XATTR_MULTI);
	sb.s_crc = htole32(pgdax_struct_crc(&sb, offsetof(struct pgdax_sb, s_crc)));
	ck_assert_int_eq(pwrite(fd, &sb, sizeof(sb), 0), (ssize_t)sizeof(sb));
	/* the backup too (fsck compares them) */
	uint64_t bb = pgdax_sb_backup_blk(&sb);
	struct pgdax_sb bk;
	ck_assert_int_eq(pread(fd, &bk, sizeof(bk), (off_t)(bb * 4096)), (ssize_t)sizeof(bk));
	memcpy(&bk, &sb, offsetof(struct pgdax_sb, s_crc) + 4);
	ck_assert_int_eq(pwrite(fd, &bk, sizeof(bk), (off_t)(bb * 4096)), (ssize_t)sizeof(bk));
	close(fd);
	mount_with_file();
	memset(big, 0x42, sizeof(big));
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.v", big, 3000, 0), 0);
	ck_assert_int_eq(pgdax_vol_setxattr(vol, ino, "user.big", big, BIG, 0), -ENOSPC);
	unsigned i = 0;
	while (set_small(vol, ino, i, 0) == 0)
		i++;
	ck_assert_uint_lt(i, 30);
	struct stat st;
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_blocks, 4096 / 512);	/* one block, no value extent */
	ck_assert_int_eq(value_is(vol, ino, "user.v", 3000, 0x42), 1);
	unmount_vol();
	fsck_clean(devpath, "minor 3 image");
}
END_TEST

/* ---------------------------------------------------------------- crash */

enum kind { K_SET, K_REPLACE, K_REMOVE, K_GROW, K_SHRINK, K_NKINDS };
static const char *const kind_name[] = { "set", "replace", "remove", "grow-chain",
					 "shrink-chain" };

/* The state before the operation: small attributes 0..nsmall-1, "user.big"
 * of BIG bytes of 0x11; whether "user.big2" exists, and its byte. */
struct xstate {
	unsigned nsmall;
	bool big2;
	unsigned char big2_byte;
	bool big;
};

/* Blocks of "f" (st_blocks in 4 KiB units) */
static uint64_t f_blocks(struct pgdax_vol *v, uint64_t in)
{
	struct stat st;
	if (pgdax_vol_getattr(v, in, &st))
		return 0;
	return (uint64_t)st.st_blocks / 8;
}

/* The child: build the old state, then one operation of kind @k between
 * two barrier counts written to @range (counting run). The number of small
 * attributes that just opens a new chain block goes to @range too. */
static int child(enum kind k, const char *dev, const char *range)
{
	static unsigned char big[BIG];
	struct pgdax_vol *v;
	struct pgdax_vol_file *f;
	struct stat st;
	int rc;

	if (pgdax_vol_mount(dev, NULL, &v))
		return 1;
	if (pgdax_vol_create(v, PGDAX_ROOT_INO, "f", 0644, O_RDWR, &cred, &st, &f))
		return 2;
	pgdax_vol_release(v, &f);
	memset(big, 0x11, sizeof(big));
	if (pgdax_vol_setxattr(v, st.st_ino, "user.big", big, BIG, 0))
		return 3;
	memset(big, 0x22, sizeof(big));
	if (pgdax_vol_setxattr(v, st.st_ino, "user.big2", big, BIG, 0))
		return 3;
	/* small ones until one opens a new block: that one is the last */
	unsigned n = 0;
	uint64_t blocks = f_blocks(v, st.st_ino);
	for (;; n++) {
		if (set_small(v, st.st_ino, n, 0))
			return 4;
		if (f_blocks(v, st.st_ino) > blocks)
			break;
	}
	n++;	/* small 0..n-1; n-1 alone in the newest block */
	if (k == K_GROW) {	/* old: without it; the operation sets it again */
		char nm[64];
		small_name(nm, sizeof(nm), n - 1);
		if (pgdax_vol_removexattr(v, st.st_ino, nm))
			return 5;
	}
	uint64_t b0 = pgdax_dev_barriers(pgdax_vol_dev(v));
	char nm[64];
	switch (k) {
	case K_SET:
		memset(big, 0x33, sizeof(big));
		rc = pgdax_vol_setxattr(v, st.st_ino, "user.big3", big, BIG, XATTR_CREATE);
		break;
	case K_REPLACE:
		memset(big, 0x44, sizeof(big));
		rc = pgdax_vol_setxattr(v, st.st_ino, "user.big2", big, BIG, XATTR_REPLACE);
		break;
	case K_REMOVE:
		rc = pgdax_vol_removexattr(v, st.st_ino, "user.big2");
		break;
	case K_GROW:
		rc = set_small(v, st.st_ino, n - 1, XATTR_CREATE);
		break;
	default:
		small_name(nm, sizeof(nm), n - 1);
		rc = pgdax_vol_removexattr(v, st.st_ino, nm);
		break;
	}
	if (rc)
		return 6;
	uint64_t b1 = pgdax_dev_barriers(pgdax_vol_dev(v));
	if (range) {
		FILE *fp = fopen(range, "w");
		if (!fp || fprintf(fp, "%llu %llu %u\n", (unsigned long long)b0,
				   (unsigned long long)b1, n) < 0 || fclose(fp))
			return 7;
	}
	pgdax_vol_iput(v, st.st_ino, 1);
	return pgdax_vol_unmount(&v) ? 8 : 0;
}

static int run_child(enum kind k, uint64_t crash_at)
{
	pid_t pid = fork();
	if (pid == 0) {
		char nb[32];
		if (crash_at) {
			snprintf(nb, sizeof(nb), "%llu", (unsigned long long)crash_at);
			setenv("PGDAX_CRASH_AT", nb, 1);
			setenv("PGDAX_CRASH_SHADOW", shadow, 1);
		} else {
			setenv("PGDAX_CRASH_COUNT", countpath, 1);
		}
		execl("/proc/self/exe", "check_xattr", "--child", kind_name[k], devpath,
		      crash_at ? "" : rangepath, (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

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

/* Does the mounted set equal @s exactly? */
static bool state_is(struct pgdax_vol *v, uint64_t in, const struct xstate *s)
{
	ssize_t want = (ssize_t)(s->nsmall * sizeof("user.small.00000")) +
		       (s->big ? (ssize_t)sizeof("user.big") : 0) +
		       (s->big2 ? (ssize_t)sizeof("user.big2") : 0);
	if (pgdax_vol_listxattr(v, in, NULL, 0) != want)
		return false;
	if (value_is(v, in, "user.big", BIG, 0x11) != (s->big ? 1 : -ENODATA))
		return false;
	if (s->big2 && value_is(v, in, "user.big2", BIG, s->big2_byte) != 1)
		return false;
	if (!s->big2 && pgdax_vol_getxattr(v, in, "user.big2", NULL, 0) != -ENODATA)
		return false;
	for (unsigned i = 0; i < s->nsmall; i++) {
		char nm[64];
		unsigned char w[SMALL_LEN], g[SMALL_LEN];
		small_name(nm, sizeof(nm), i);
		small_value(w, i);
		if (pgdax_vol_getxattr(v, in, nm, g, sizeof(g)) != SMALL_LEN || memcmp(g, w, sizeof(g)))
			return false;
	}
	return true;
}

/* The set "user.big3" in K_SET counts as big2' below: checked by name */
static void check_crash_image(enum kind k, uint64_t nb, unsigned n)
{
	struct pgdax_vol *v;
	char ctx[96];
	struct xstate old = { .nsmall = n, .big = true, .big2 = true, .big2_byte = 0x22 };
	struct xstate new = old;

	snprintf(ctx, sizeof(ctx), "%s, crash at barrier %llu", kind_name[k],
		 (unsigned long long)nb);
	switch (k) {
	case K_REPLACE: new.big2_byte = 0x44; break;
	case K_REMOVE: new.big2 = false; break;
	case K_GROW: old.nsmall = n - 1; break;
	case K_SHRINK: new.nsmall = n - 1; break;
	default: break;
	}
	copy_dev(shadow, ycopy);
	fsck_clean(ycopy, ctx);	/* the crash image as it is, journal rolled back */
	ck_assert_msg(pgdax_vol_mount(shadow, NULL, &v) == 0, "%s: mount failed", ctx);
	ck_assert_msg(vol_test_check_blocks(v) == 0, "%s: block accounting", ctx);
	uint64_t in = lookup(v, "f");
	ck_assert_uint_ne(in, 0);
	if (k == K_SET) {
		int r = value_is(v, in, "user.big3", BIG, 0x33);
		ck_assert_msg(r == 1 || r == -ENODATA, "%s: user.big3: %d", ctx, r);
		if (r == 1)
			ck_assert_int_eq(pgdax_vol_removexattr(v, in, "user.big3"), 0);
		ck_assert_msg(state_is(v, in, &old), "%s: not the old set", ctx);
	} else {
		ck_assert_msg(state_is(v, in, &old) || state_is(v, in, &new),
			      "%s: neither the old set nor the new one", ctx);
	}
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
	fsck_clean(shadow, ctx);
}

static void crash_every_barrier(enum kind k)
{
	unsigned long long b0 = 0, b1 = 0;
	unsigned n = 0;

	copy_dev(devpath, orig);
	ck_assert_int_eq(run_child(k, 0), 0);	/* the counting run */
	FILE *fp = fopen(rangepath, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fscanf(fp, "%llu %llu %u", &b0, &b1, &n), 3);
	fclose(fp);
	ck_assert_uint_gt(b1, b0);
	for (uint64_t b = b0 + 1; b <= b1; b++) {
		unlink(shadow);
		copy_dev(orig, devpath);
		int rc = run_child(k, b);
		ck_assert_msg(rc == -SIGKILL, "%s: crash at %llu: child ended with %d",
			      kind_name[k], (unsigned long long)b, rc);
		check_crash_image(k, b, n);
	}
	fprintf(stderr, "xattr %s: barriers %llu..%llu\n", kind_name[k], b0 + 1, b1);
}

START_TEST(test_crash_at_any_barrier_of_a_64k_set_leaves_old_or_new_set)
{
	crash_every_barrier(K_SET);
}
END_TEST

START_TEST(test_crash_at_any_barrier_of_a_64k_replace_leaves_old_or_new_set)
{
	crash_every_barrier(K_REPLACE);
}
END_TEST

START_TEST(test_crash_at_any_barrier_of_a_64k_remove_leaves_old_or_new_set)
{
	crash_every_barrier(K_REMOVE);
}
END_TEST

START_TEST(test_crash_at_any_barrier_of_a_set_that_grows_the_chain_leaves_old_or_new_set)
{
	crash_every_barrier(K_GROW);
}
END_TEST

START_TEST(test_crash_at_any_barrier_of_a_remove_that_empties_a_block_leaves_old_or_new_set)
{
	crash_every_barrier(K_SHRINK);
}
END_TEST

static Suite *xattr_suite(void)
{
	Suite *s = suite_create("xattr");
	TCase *tc = tcase_create("structure");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_five_thousand_attributes_on_one_file_survive_remount);
	tcase_add_test(tc, test_64k_values_set_replace_remove_with_the_kernel_errors);
	tcase_add_test(tc, test_enospc_on_a_full_device_leaves_the_set_unchanged);
	tcase_add_test(tc, test_older_minor_image_keeps_the_single_block);
	suite_add_tcase(s, tc);
	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_64k_set_leaves_old_or_new_set);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_64k_replace_leaves_old_or_new_set);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_64k_remove_leaves_old_or_new_set);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_set_that_grows_the_chain_leaves_old_or_new_set);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_remove_that_empties_a_block_leaves_old_or_new_set);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--child")) {
		for (int k = 0; k < K_NKINDS; k++)
			if (!strcmp(argv[2], kind_name[k]))
				return child(k, argv[3], *argv[4] ? argv[4] : NULL);
		return 2;
	}
	pgdax_log_set_level(LOG_CRIT);
	SRunner *sr = srunner_create(xattr_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
