/* SPDX-License-Identifier: MIT */
/*
 * No old byte becomes readable after a crash in the middle of a truncate,
 * a punch-hole or a zero-range (issue 14, defect 1).
 *
 * A child process writes 256 KiB of 0xAA into a file and then truncates it
 * to 100 bytes (or punches / zero-ranges part of it); it is killed at
 * persist barrier N (PGDAX_CRASH_AT) for EVERY barrier of that one
 * operation (the counting run reports the first and last barrier), and
 * PGDAX_CRASH_SHADOW keeps the image a power cut would have left. For each
 * image:
 *   - fsck -n finds nothing wrong (a pending truncate is consistent) and
 *     says how many truncates are pending; fsck -y on a copy finishes them
 *     (0 problems), after which a read-only mount (which finishes nothing
 *     itself) shows no non-zero byte past EOF on the medium;
 *   - the mount finishes what is pending; then, on the medium, no allocated
 *     byte past EOF is non-zero (vol_test_nonzero_past_eof), the range
 *     reads old-or-zero (punch / zero-range), bytes outside it are old,
 *     and growing the file (to 256 KiB and beyond) reads zeros past the
 *     old EOF; after unmount fsck -n is clean with nothing pending.
 * The same for an rmdir whose directory had held entries: its reclaim
 * frees the directory block before the inode, and fsck must take the
 * unlinked directory in between (size > blocks) for what it is.
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
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/pgmap.h"
#include "dev/dev.h"
#include "fsck/fsck.h"
#include "util/log.h"
#include "vol/mkfs.h"
#include "vol/vol.h"
#include "vol/vol_test.h"

#define DEV_SIZE	(16u << 20)
#define FILE_SIZE	(256u << 10)
#define TRUNC_TO	100u
#define PUNCH_OFF	5000u
#define PUNCH_END	200000u
#define ZERO_OFF	5000u
#define ZERO_END	300000u	/* past EOF: the size grows (no KEEP_SIZE) */

enum kind { K_TRUNCATE, K_PUNCH, K_ZERO, K_RMDIR, K_NKINDS };
static const char *const kind_name[] = { "truncate", "punch", "zero", "rmdir" };

static char devpath[256], orig[256], shadow[256], ycopy[256], countpath[256], rangepath[256];
static struct pgdax_cred cred = { .uid = 0, .gid = 0 };

static void setup(void)
{
	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-trim-%d", getpid());
	snprintf(orig, sizeof(orig), "/dev/shm/pgdax-trim-%d.orig", getpid());
	snprintf(shadow, sizeof(shadow), "/dev/shm/pgdax-trim-%d.shadow", getpid());
	snprintf(ycopy, sizeof(ycopy), "/dev/shm/pgdax-trim-%d.y", getpid());
	snprintf(countpath, sizeof(countpath), "/dev/shm/pgdax-trim-%d.count", getpid());
	snprintf(rangepath, sizeof(rangepath), "/dev/shm/pgdax-trim-%d.range", getpid());
	unlink(devpath);
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, DEV_SIZE, 4096), 0);
	struct pgdax_mkfs_opts o = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
}

static void teardown(void)
{
	unlink(devpath);
	unlink(orig);
	unlink(shadow);
	unlink(ycopy);
	unlink(countpath);
	unlink(rangepath);
}

/* Sparse copy of an emulated device (with its alignment). */
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

static uint64_t lookup(struct pgdax_vol *v, const char *name)
{
	struct stat st;
	if (pgdax_vol_lookup(v, PGDAX_ROOT_INO, name, &st))
		return 0;
	pgdax_vol_iput(v, st.st_ino, 1);
	return st.st_ino;
}

/* ---------------------------------------------------------------- child */

/* The child: create "f" = 256 KiB of 0xAA, then the operation. In the
 * counting run, write the barrier numbers around the operation to @range
 * (PGDAX_CRASH_COUNT's file gets the total at close). */
static int child(enum kind k, const char *dev, const char *range)
{
	static char buf[FILE_SIZE];
	struct pgdax_vol *v;
	struct pgdax_vol_file *f;
	struct stat st;
	int rc;

	if (pgdax_vol_mount(dev, NULL, &v))
		return 1;
	if (pgdax_vol_create(v, PGDAX_ROOT_INO, "f", 0644, O_RDWR, &cred, &st, &f))
		return 2;
	memset(buf, 0xAA, sizeof(buf));
	if (pgdax_vol_write(v, f, 0, buf, sizeof(buf), &cred) != (ssize_t)sizeof(buf))
		return 3;
	struct stat dst;
	if (k == K_RMDIR) {	/* a directory that held an entry: one block */
		struct pgdax_vol_file *xf;
		struct stat xst;
		if (pgdax_vol_mkdir(v, PGDAX_ROOT_INO, "d", 0755, &cred, &dst) ||
		    pgdax_vol_create(v, dst.st_ino, "x", 0644, O_RDWR, &cred, &xst, &xf))
			return 7;
		pgdax_vol_release(v, &xf);
		pgdax_vol_iput(v, xst.st_ino, 1);
		if (pgdax_vol_unlink(v, dst.st_ino, "x"))
			return 8;
	}
	uint64_t b0 = pgdax_dev_barriers(pgdax_vol_dev(v));
	if (k == K_RMDIR) {
		rc = pgdax_vol_rmdir(v, PGDAX_ROOT_INO, "d");
		pgdax_vol_iput(v, dst.st_ino, 1);	/* the last reference: reclaim */
	} else if (k == K_TRUNCATE) {
		struct stat a = { .st_size = TRUNC_TO }, out;
		rc = pgdax_vol_setattr(v, st.st_ino, &a, PGDAX_SET_SIZE, &cred, &out);
	} else if (k == K_PUNCH) {
		rc = pgdax_vol_fallocate(v, st.st_ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 PUNCH_OFF, PUNCH_END - PUNCH_OFF, &cred);
	} else {
		rc = pgdax_vol_fallocate(v, st.st_ino, FALLOC_FL_ZERO_RANGE, ZERO_OFF,
					 ZERO_END - ZERO_OFF, &cred);
	}
	if (rc)
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

static int run_child(enum kind k, uint64_t crash_at)
{
	pid_t pid = fork();
	if (pid == 0) {
		char n[32];
		if (crash_at) {
			snprintf(n, sizeof(n), "%llu", (unsigned long long)crash_at);
			setenv("PGDAX_CRASH_AT", n, 1);
			setenv("PGDAX_CRASH_SHADOW", shadow, 1);
		} else {
			setenv("PGDAX_CRASH_COUNT", countpath, 1);	/* counts barriers */
		}
		/* a fresh process: the barrier count starts at zero */
		execl("/proc/self/exe", "check_trim", "--child", kind_name[k], devpath,
		      crash_at ? "" : rangepath, (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---------------------------------------------------------------- checks */

static void read_all(struct pgdax_vol *v, uint64_t ino, unsigned char *buf, size_t n,
		     size_t *got)
{
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_open(v, ino, O_RDONLY, &cred, &f), 0);
	*got = 0;
	for (;;) {
		struct iovec iov[64];
		struct pgdax_io io = { 0 };
		int niov;
		ssize_t r = pgdax_vol_read_map(v, f, *got, n - *got, iov, 64, &niov, &io);
		ck_assert_int_ge(r, 0);
		for (int i = 0; i < niov; i++) {
			memcpy(buf + *got, iov[i].iov_base, iov[i].iov_len);
			*got += iov[i].iov_len;
		}
		pgdax_vol_io_done(v, &io);
		if (r == 0 || *got == n)
			break;
	}
	pgdax_vol_release(v, &f);
}

/* The rule on the medium: no allocated byte past EOF is non-zero. */
static void check_past_eof(struct pgdax_vol *v, uint64_t ino, const char *ctx)
{
	uint64_t where = 0, end = 0;
	int r = vol_test_nonzero_past_eof(v, ino, &where, &end);
	ck_assert_msg(r == 0, "%s: byte %llu past EOF is not zero on the medium (%d)", ctx,
		      (unsigned long long)where, r);
}

/* May byte @i of "f" (size @size) hold @x after kind @k crashed? */
static bool byte_ok(enum kind k, size_t i, uint64_t size, unsigned char x)
{
	if (i >= size)
		return x == 0;
	switch (k) {
	case K_TRUNCATE:	/* old size (crash before the shrink) or the new */
		return x == 0xAA || (i >= TRUNC_TO && x == 0);
	case K_PUNCH:
		return x == 0xAA || (i >= PUNCH_OFF && i < PUNCH_END && x == 0);
	case K_ZERO:
		return (i < FILE_SIZE && x == 0xAA) || (i >= ZERO_OFF && x == 0);
	default:
		return x == 0xAA;
	}
	return false;
}

static void check_contents(struct pgdax_vol *v, uint64_t ino, enum kind k, const char *ctx)
{
	static unsigned char buf[1 << 20];
	struct stat st;
	size_t got;

	ck_assert_int_eq(pgdax_vol_getattr(v, ino, &st), 0);
	uint64_t size = (uint64_t)st.st_size;
	if (k == K_TRUNCATE)
		ck_assert_msg(size == FILE_SIZE || size == TRUNC_TO, "%s: size %llu", ctx,
			      (unsigned long long)size);
	else if (k == K_PUNCH || k == K_RMDIR)
		ck_assert_msg(size == FILE_SIZE, "%s: size %llu", ctx, (unsigned long long)size);
	else
		ck_assert_msg(size == FILE_SIZE || size == ZERO_END, "%s: size %llu", ctx,
			      (unsigned long long)size);
	read_all(v, ino, buf, sizeof(buf), &got);
	ck_assert_uint_eq(got, size);
	/* (plain ifs: every ck_assert costs a write to Check's pipe) */
	for (size_t i = 0; i < got; i++)
		if (!byte_ok(k, i, size, buf[i]))
			ck_abort_msg("%s: byte %zu is %#x (size %llu)", ctx, i, buf[i],
				     (unsigned long long)size);
	check_past_eof(v, ino, ctx);

	/* grow the file: what was past EOF must read as zeros */
	uint64_t grown = size < FILE_SIZE ? FILE_SIZE : 2 * size;
	struct stat a = { .st_size = (off_t)grown }, out;
	ck_assert_int_eq(pgdax_vol_setattr(v, ino, &a, PGDAX_SET_SIZE, &cred, &out), 0);
	read_all(v, ino, buf, sizeof(buf), &got);
	ck_assert_uint_eq(got, grown);
	for (size_t i = size; i < grown; i++)
		if (buf[i])
			ck_abort_msg("%s: extended to %llu: byte %zu is %#x (old size %llu)", ctx,
				     (unsigned long long)grown, i, buf[i], (unsigned long long)size);
}

static int fsck(const char *dev, unsigned flags, struct pgdax_fsck_result *res)
{
	FILE *out = fopen("/dev/null", "w");
	struct pgdax_fsck_opts fo = { .flags = PGDAX_FSCK_FORCE | flags, .out = out };
	int ec = pgdax_fsck_device(dev, 0, &fo, res);
	fclose(out);
	return ec;
}

/* One crashed image; returns how many truncates fsck -n found pending. */
static uint64_t check_crash_image(enum kind k, uint64_t n)
{
	struct pgdax_fsck_result res;
	struct pgdax_vol *v;
	char ctx[96];
	int ec;

	snprintf(ctx, sizeof(ctx), "%s, crash at barrier %llu", kind_name[k],
		 (unsigned long long)n);
	copy_dev(shadow, ycopy);	/* the crash image, for fsck below */

	/* the mount finishes what is pending: then nothing old is readable */
	ck_assert_msg(pgdax_vol_mount(shadow, NULL, &v) == 0, "%s: mount failed", ctx);
	ck_assert_msg(vol_test_check_blocks(v) == 0, "%s: block accounting", ctx);
	uint64_t ino = lookup(v, "f");
	ck_assert_uint_ne(ino, 0);
	check_contents(v, ino, k, ctx);
	uint64_t d = lookup(v, "d");
	if (k == K_RMDIR && d)	/* the rmdir did not commit: still empty */
		ck_assert_int_eq(vol_test_count_entries(v, d), 2);
	ck_assert_int_eq(vol_test_trim_pending(v, ino), 0);
	struct pgdax_vol_stats s;
	pgdax_vol_get_stats(v, &s);
	ck_assert_uint_eq(s.orphans, 0);
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);

	/* clean after the mount: nothing pending, nothing wrong */
	ec = fsck(shadow, 0, &res);
	ck_assert_msg(ec == PGDAX_FSCK_EXIT_OK && res.problems == 0 && res.trims_pending == 0,
		      "%s: fsck -n after mount: exit %d, %llu problems, %llu pending", ctx, ec,
		      (unsigned long long)res.problems, (unsigned long long)res.trims_pending);

	/* fsck -n on the crash image: consistent as it is (a pending
	 * truncate is no problem) */
	ec = fsck(ycopy, 0, &res);
	ck_assert_msg(ec == PGDAX_FSCK_EXIT_OK && res.problems == 0,
		      "%s: fsck -n exit %d, %llu problems", ctx, ec,
		      (unsigned long long)res.problems);
	uint64_t pending = res.trims_pending;

	/* fsck -y finishes it; a read-only mount (which finishes nothing
	 * itself) then sees the medium exactly as fsck left it */
	ec = fsck(ycopy, PGDAX_FSCK_REPAIR, &res);
	ck_assert_msg(ec <= PGDAX_FSCK_EXIT_CORRECTED && res.problems == 0,
		      "%s: fsck -y exit %d, %llu problems", ctx, ec,
		      (unsigned long long)res.problems);
	ck_assert_uint_eq(res.trims_finished, pending);
	struct pgdax_vol_opts ro = { .flags = PGDAX_VOL_RDONLY };
	ck_assert_int_eq(pgdax_vol_mount(ycopy, &ro, &v), 0);
	ino = lookup(v, "f");
	ck_assert_uint_ne(ino, 0);
	ck_assert_int_eq(vol_test_trim_pending(v, ino), 0);
	check_past_eof(v, ino, ctx);
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
	return pending;
}

/* Crash at every barrier of operation @k; returns the crash images that
 * held a pending truncate. */
static uint64_t crash_every_barrier(enum kind k)
{
	unsigned long long b0 = 0, b1 = 0;
	uint64_t pending = 0;

	copy_dev(devpath, orig);
	ck_assert_int_eq(run_child(k, 0), 0);	/* the counting run */
	FILE *fp = fopen(rangepath, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fscanf(fp, "%llu %llu", &b0, &b1), 2);
	fclose(fp);
	ck_assert_uint_gt(b1, b0);
	for (uint64_t n = b0 + 1; n <= b1; n++) {
		unlink(shadow);
		copy_dev(orig, devpath);	/* every run starts from the same image */
		int rc = run_child(k, n);
		ck_assert_msg(rc == -SIGKILL, "%s: crash at %llu: child ended with %d",
			      kind_name[k], (unsigned long long)n, rc);
		pending += check_crash_image(k, n) > 0;
	}
	fprintf(stderr, "%s: barriers %llu..%llu, %llu crash images with a pending truncate\n",
		kind_name[k], b0 + 1, b1, (unsigned long long)pending);
	return pending;
}

START_TEST(test_crash_at_any_barrier_of_a_truncate_never_exposes_old_bytes)
{
	/* the window the defect lived in (shrunk, blocks not yet freed) was
	 * actually hit, and fsck saw it as a pending truncate */
	ck_assert_uint_gt(crash_every_barrier(K_TRUNCATE), 0);
}
END_TEST

START_TEST(test_crash_at_any_barrier_of_a_punch_leaves_old_or_zero_bytes)
{
	ck_assert_uint_eq(crash_every_barrier(K_PUNCH), 0);
}
END_TEST

START_TEST(test_crash_at_any_barrier_of_a_zero_range_leaves_old_or_zero_bytes)
{
	ck_assert_uint_eq(crash_every_barrier(K_ZERO), 0);
}
END_TEST

START_TEST(test_crash_while_an_rmdir_frees_the_directory_is_consistent_for_fsck)
{
	ck_assert_uint_eq(crash_every_barrier(K_RMDIR), 0);
}
END_TEST

/* ---------------------------------------------------------------- failure */

/*
 * free_range failing at run time (ENOMEM, a journal error) leaves the
 * shrunk file with its blocks past EOF allocated: the truncate reports the
 * error, the trim stays pending, and nothing may grow the file before the
 * trim is finished.
 */
static struct pgdax_vol *vol;

static void mount_vol(void)
{
	struct pgdax_vol_opts vo = { .break_timeout_ms = 300 };
	ck_assert_int_eq(pgdax_vol_mount(devpath, &vo, &vol), 0);
}

/* "name" = 256 KiB of 0xAA, truncated to 100 bytes with free_range failing. */
static uint64_t failed_truncate(const char *name)
{
	static char buf[FILE_SIZE];
	struct pgdax_vol_file *f;
	struct stat st, out;

	memset(buf, 0xAA, sizeof(buf));
	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, name, 0644, O_RDWR, &cred, &st,
					  &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, buf, sizeof(buf), &cred), sizeof(buf));
	pgdax_vol_release(vol, &f);
	pgdax_vol_iput(vol, st.st_ino, 1);
	vol_test_fail_free_range(vol, ENOMEM);
	struct stat a = { .st_size = TRUNC_TO };
	ck_assert_int_eq(pgdax_vol_setattr(vol, st.st_ino, &a, PGDAX_SET_SIZE, &cred, &out),
			 -ENOMEM);
	vol_test_fail_free_range(vol, 0);
	ck_assert_int_eq(pgdax_vol_getattr(vol, st.st_ino, &out), 0);
	ck_assert_int_eq(out.st_size, TRUNC_TO);	/* the size change itself committed */
	return st.st_ino;
}

/* The file grew to @size by some means: old bytes before 100, zeros after. */
static void check_grown(uint64_t ino, uint64_t size, const char *how)
{
	static unsigned char buf[1 << 20];
	size_t got;

	read_all(vol, ino, buf, sizeof(buf), &got);
	ck_assert_msg(got == size, "%s: size %zu, want %llu", how, got, (unsigned long long)size);
	for (size_t i = 0; i < got; i++)
		if (buf[i] != (i < TRUNC_TO ? 0xAA : 0) && !(i >= TRUNC_TO && buf[i] == 0x11))
			ck_abort_msg("%s: byte %zu is %#x", how, i, buf[i]);
	check_past_eof(vol, ino, how);
	ck_assert_int_eq(vol_test_trim_pending(vol, ino), 0);
	ck_assert_int_eq(vol_test_check_blocks(vol), 0);
}

static int put_unit(void *ctx, const struct pgdax_vol_dax_ext *e)
{
	(void)ctx;
	if (e->folio)
		folio_put(e->folio);
	return 0;
}

START_TEST(test_failed_trim_is_finished_before_anything_grows_the_file)
{
	struct stat a = { .st_size = FILE_SIZE }, out;
	struct pgdax_vol_file *f;
	unsigned char one = 0x11;
	uint64_t ino;

	mount_vol();
	/* truncate up */
	ino = failed_truncate("up");
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &cred, &out), 0);
	check_grown(ino, FILE_SIZE, "truncate up");

	/* a write past EOF (into what was the old extent) */
	ino = failed_truncate("write");
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &cred, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 200000, &one, 1, &cred), 1);
	pgdax_vol_release(vol, &f);
	check_grown(ino, 200001, "write past EOF");

	/* fallocate that grows the size */
	ino = failed_truncate("falloc");
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, 0, 0, FILE_SIZE, &cred), 0);
	check_grown(ino, FILE_SIZE, "fallocate");

	/* zero-range past EOF grows the size */
	ino = failed_truncate("zero");
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, FALLOC_FL_ZERO_RANGE, 150000, 10000,
					     &cred), 0);
	check_grown(ino, 160000, "zero-range");

	/* a DAX layout (a pin) that grows the file, like a write fault */
	ino = failed_truncate("pin");
	struct pgdax_vol_dax_ops ops = { .unit = put_unit };
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &cred, &f), 0);
	ck_assert_int_eq(pgdax_vol_dax_layout(vol, f, 0, FILE_SIZE, FILE_SIZE, 4096,
					      PGDAX_VOL_DAX_WRITE | PGDAX_VOL_DAX_EXTEND,
					      &ops, NULL), 0);
	pgdax_vol_release(vol, &f);
	check_grown(ino, FILE_SIZE, "dax layout");

	/* while freeing still fails, growing is refused and exposes nothing */
	ino = failed_truncate("refused");
	ck_assert_int_eq(vol_test_trim_pending(vol, ino), 1);
	vol_test_fail_free_range(vol, ENOMEM);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &cred, &out), -ENOMEM);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR, &cred, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(vol, f, 200000, &one, 1, &cred), -ENOMEM);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &out), 0);
	ck_assert_int_eq(out.st_size, TRUNC_TO);
	vol_test_fail_free_range(vol, 0);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &cred, &out), 0);
	check_grown(ino, FILE_SIZE, "truncate up after a refusal");
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
}
END_TEST

START_TEST(test_failed_trim_is_finished_by_unmount_or_the_next_mount)
{
	struct stat a = { .st_size = FILE_SIZE }, out;
	struct pgdax_fsck_result res;

	mount_vol();
	uint64_t ino = failed_truncate("f");
	uint64_t ino2 = failed_truncate("g");
	/* freeing still fails: the unmount cannot finish them either */
	vol_test_fail_free_range(vol, ENOMEM);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	/* an image with pending truncates: consistent, and fsck says so */
	ck_assert_int_eq(fsck(devpath, 0, &res), PGDAX_FSCK_EXIT_OK);
	ck_assert_uint_eq(res.problems, 0);
	ck_assert_uint_eq(res.trims_pending, 2);
	ck_assert(!res.was_clean);
	/* the mount finishes both before serving */
	mount_vol();
	ck_assert_int_eq(vol_test_trim_pending(vol, ino), 0);
	ck_assert_int_eq(vol_test_trim_pending(vol, ino2), 0);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &cred, &out), 0);
	check_grown(ino, FILE_SIZE, "after remount");
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino2, &a, PGDAX_SET_SIZE, &cred, &out), 0);
	check_grown(ino2, FILE_SIZE, "after remount");
	/* a plain unmount finishes a pending truncate and marks the volume clean */
	uint64_t ino3 = failed_truncate("h");
	ck_assert_int_eq(vol_test_trim_pending(vol, ino3), 1);
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	ck_assert_int_eq(fsck(devpath, 0, &res), PGDAX_FSCK_EXIT_OK);
	ck_assert_uint_eq(res.problems, 0);
	ck_assert_uint_eq(res.trims_pending, 0);
	ck_assert(res.was_clean);
	mount_vol();
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino3, &a, PGDAX_SET_SIZE, &cred, &out), 0);
	check_grown(ino3, FILE_SIZE, "after unmount");
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
}
END_TEST

static Suite *trim_suite(void)
{
	Suite *s = suite_create("trim");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_truncate_never_exposes_old_bytes);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_punch_leaves_old_or_zero_bytes);
	tcase_add_test(tc, test_crash_at_any_barrier_of_a_zero_range_leaves_old_or_zero_bytes);
	tcase_add_test(tc, test_crash_while_an_rmdir_frees_the_directory_is_consistent_for_fsck);
	suite_add_tcase(s, tc);
	tc = tcase_create("failure");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_failed_trim_is_finished_before_anything_grows_the_file);
	tcase_add_test(tc, test_failed_trim_is_finished_by_unmount_or_the_next_mount);
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
	SRunner *sr = srunner_create(trim_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
