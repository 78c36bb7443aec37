/* SPDX-License-Identifier: MIT */
/*
 * Crash consistency of the volume: a child process runs a fixed sequence
 * of metadata and data operations and is killed at persist barrier N
 * (PGDAX_CRASH_AT) for every N; the image a power cut would have left
 * (PGDAX_CRASH_SHADOW) must then mount (rolling back the journal),
 * account for every block, and show each operation either done or not.
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
#include <sys/xattr.h>
#include <unistd.h>

#include "dev/dev.h"
#include "fsck/fsck.h"
#include "util/log.h"
#include "vol/mkfs.h"
#include "vol/vol.h"
#include "vol/vol_test.h"

static char devpath[256], shadow[256], countpath[256];
static struct pgdax_cred cred = { .uid = 0, .gid = 0 };
static char pat_a[8192], pat_c[65536];

static void fill(char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)((i * 131 + seed) >> 3);
}

static void setup(void)
{
	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-jtest-%d", getpid());
	snprintf(shadow, sizeof(shadow), "/dev/shm/pgdax-jtest-%d.shadow", getpid());
	snprintf(countpath, sizeof(countpath), "/dev/shm/pgdax-jtest-%d.count", getpid());
	unlink(devpath);
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, 32 << 20, 4096), 0);
	struct pgdax_mkfs_opts o = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	fill(pat_a, sizeof(pat_a), 1);
	fill(pat_c, sizeof(pat_c), 2);

	struct pgdax_vol *v;
	struct stat st;
	struct pgdax_vol_file *f;
	ck_assert_int_eq(pgdax_vol_mount(devpath, NULL, &v), 0);
	ck_assert_int_eq(pgdax_vol_mkdir(v, PGDAX_ROOT_INO, "d", 0755, &cred, &st), 0);
	ck_assert_int_eq(pgdax_vol_create(v, PGDAX_ROOT_INO, "a", 0644, O_RDWR, &cred, &st, &f), 0);
	ck_assert_int_eq(pgdax_vol_write(v, f, 0, pat_a, sizeof(pat_a), &cred), sizeof(pat_a));
	pgdax_vol_release(v, &f);
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
}

static void teardown(void)
{
	unlink(devpath);
	unlink(shadow);
	unlink(countpath);
}

static uint64_t lookup(struct pgdax_vol *v, uint64_t dir, const char *name)
{
	struct stat st;
	if (pgdax_vol_lookup(v, dir, name, &st))
		return 0;
	pgdax_vol_iput(v, st.st_ino, 1);
	return st.st_ino;
}

/* The operations the child runs (and is killed in the middle of). */
static int scenario(void)
{
	struct pgdax_vol *v;
	struct stat st;
	struct pgdax_vol_file *f;
	if (pgdax_vol_mount(devpath, NULL, &v))
		return 1;
	uint64_t d = lookup(v, PGDAX_ROOT_INO, "d");
	if (!d || pgdax_vol_rename(v, PGDAX_ROOT_INO, "a", d, "b", 0))
		return 2;
	if (pgdax_vol_create(v, PGDAX_ROOT_INO, "c", 0644, O_RDWR, &cred, &st, &f))
		return 3;
	if (pgdax_vol_write(v, f, 0, pat_c, sizeof(pat_c), &cred) != sizeof(pat_c))
		return 4;
	if (pgdax_vol_unlink(v, d, "b"))
		return 5;
	if (pgdax_vol_setxattr(v, st.st_ino, "user.k", "value", 5, 0))
		return 6;
	struct stat a = { .st_size = 10000 }, out;
	if (pgdax_vol_setattr(v, st.st_ino, &a, PGDAX_SET_SIZE, &cred, &out))
		return 7;
	pgdax_vol_release(v, &f);
	if (pgdax_vol_mkdir(v, PGDAX_ROOT_INO, "e", 0755, &cred, &st))
		return 8;
	if (pgdax_vol_unmount(&v))
		return 9;
	return 0;
}

/*
 * Scenario 2: directory growth past one block, a large file whose 2 MiB
 * extent is split by truncate and punched, rename over an existing file,
 * hard links, a symlink stored in a block, fallocate.
 */
static int scenario2(void)
{
	struct pgdax_vol *v;
	struct stat st;
	struct pgdax_vol_file *f;
	char nm[64];
	static char big[3 << 20];
	if (pgdax_vol_mount(devpath, NULL, &v))
		return 1;
	uint64_t d = lookup(v, PGDAX_ROOT_INO, "d");
	for (int i = 0; i < 160; i++) {	/* > one directory block */
		snprintf(nm, sizeof(nm), "entry-with-a-name-of-some-length-%d", i);
		if (pgdax_vol_mknod(v, d, nm, S_IFREG | 0644, 0, &cred, &st))
			return 2;
		pgdax_vol_iput(v, st.st_ino, 1);
	}
	memset(big, 0x5a, sizeof(big));
	if (pgdax_vol_create(v, PGDAX_ROOT_INO, "big", 0644, O_RDWR, &cred, &st, &f))
		return 3;
	for (size_t o = 0; o < sizeof(big); o += 131072)
		if (pgdax_vol_write(v, f, o, big + o, 131072, &cred) != 131072)
			return 4;
	struct stat a = { .st_size = (3 << 20) - (700 << 10) }, out;
	if (pgdax_vol_setattr(v, st.st_ino, &a, PGDAX_SET_SIZE, &cred, &out))
		return 5;
	if (pgdax_vol_fallocate(v, st.st_ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(1 << 20) + 100, 300 << 10, &cred))
		return 6;
	if (pgdax_vol_fallocate(v, st.st_ino, 0, 3 << 20, 64 << 10, &cred))
		return 7;
	pgdax_vol_release(v, &f);
	if (pgdax_vol_link(v, st.st_ino, d, "big-link", &out))
		return 8;
	pgdax_vol_iput(v, st.st_ino, 1);
	if (pgdax_vol_rename(v, PGDAX_ROOT_INO, "a", PGDAX_ROOT_INO, "big", 0))
		return 9;	/* "big" loses a link, survives through big-link */
	char target[300];
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	if (pgdax_vol_symlink(v, d, "sym", target, &cred, &st))
		return 10;
	for (int i = 0; i < 160; i += 2) {
		snprintf(nm, sizeof(nm), "entry-with-a-name-of-some-length-%d", i);
		if (pgdax_vol_unlink(v, d, nm))
			return 11;
	}
	if (pgdax_vol_unlink(v, d, "big-link"))
		return 12;
	if (pgdax_vol_unmount(&v))
		return 13;
	return 0;
}

static const char *scenario_arg = "--scenario";

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
		/* a fresh process: the barrier count starts at zero */
		execl("/proc/self/exe", "check_journal", scenario_arg, devpath, (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Sparse copy of an emulated device (with its alignment). */
static void copy_dev(const char *from, const char *to)
{
	static char buf[1 << 16];
	unlink(to);
	ck_assert_int_eq(pgdax_dev_create_emulated(to, 32 << 20, 4096), 0);
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY);
	ck_assert(in >= 0 && out >= 0);
	for (off_t off = 0;; off += sizeof(buf)) {
		ssize_t r = pread(in, buf, sizeof(buf), off);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i += 4096) {
			static const char zero[4096];
			if (memcmp(buf + i, zero, 4096))
				ck_assert_int_eq(pwrite(out, buf + i, 4096, off + i), 4096);
		}
	}
	close(in);
	close(out);
}

static int rollbacks;

static void count_rollbacks(int prio, const char *msg, void *arg)
{
	(void)prio;
	(void)arg;
	if (strstr(msg, "rolled back"))
		rollbacks++;
}

static void read_all(struct pgdax_vol *v, uint64_t ino, char *buf, size_t n, size_t *got)
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

/* What a crashed image must look like: every operation all or nothing. */
static void check_image(uint64_t n)
{
	struct pgdax_vol *v;
	static char buf[1 << 17];
	size_t got;
	struct stat st;

	ck_assert_msg(pgdax_vol_mount(shadow, NULL, &v) == 0, "crash at %llu: mount failed",
		      (unsigned long long)n);
	ck_assert_msg(vol_test_check_blocks(v) == 0, "crash at %llu: blocks leaked or doubly "
		      "owned", (unsigned long long)n);
	uint64_t d = lookup(v, PGDAX_ROOT_INO, "d");
	ck_assert_uint_ne(d, 0);
	uint64_t a = lookup(v, PGDAX_ROOT_INO, "a"), b = lookup(v, d, "b");
	uint64_t c = lookup(v, PGDAX_ROOT_INO, "c"), e = lookup(v, PGDAX_ROOT_INO, "e");
	ck_assert_msg(!(a && b), "crash at %llu: file in both places", (unsigned long long)n);
	if (!a && !b)	/* only once unlinked, i.e. after c's data was written */
		ck_assert_msg(c, "crash at %llu: a vanished early", (unsigned long long)n);
	if (a || b) {
		read_all(v, a ? a : b, buf, sizeof(buf), &got);
		ck_assert_uint_eq(got, sizeof(pat_a));
		ck_assert(memcmp(buf, pat_a, got) == 0);
	}
	if (c) {
		ck_assert_int_eq(pgdax_vol_getattr(v, c, &st), 0);
		ck_assert_msg(st.st_size == 0 || st.st_size == (off_t)sizeof(pat_c) ||
			      st.st_size == 10000, "crash at %llu: c has size %lld",
			      (unsigned long long)n, (long long)st.st_size);
		read_all(v, c, buf, sizeof(buf), &got);
		ck_assert_uint_eq(got, (size_t)st.st_size);
		ck_assert(memcmp(buf, pat_c, got) == 0);
		ssize_t x = pgdax_vol_getxattr(v, c, "user.k", buf, sizeof(buf));
		ck_assert(x == -ENODATA || (x == 5 && !memcmp(buf, "value", 5)));
	}
	if (e)
		ck_assert_msg(c && !a && !b, "crash at %llu: e before earlier steps",
			      (unsigned long long)n);
	struct pgdax_vol_stats s;
	pgdax_vol_get_stats(v, &s);
	ck_assert_uint_eq(s.orphans, 0);	/* reclaimed at mount */
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
}

START_TEST(test_crash_at_every_barrier_leaves_a_consistent_volume)
{
	char buf[64];
	ck_assert_int_eq(run_child(0), 0);	/* count the barriers */
	FILE *fp = fopen(countpath, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	uint64_t total = strtoull(buf, NULL, 10);
	ck_assert_uint_gt(total, 20);
	/* fresh device again: the counting run changed it */
	teardown();
	setup();
	char orig[300];
	snprintf(orig, sizeof(orig), "%s.orig", devpath);
	copy_dev(devpath, orig);

	pgdax_log_set_level(LOG_NOTICE);
	pgdax_log_set_fn(count_rollbacks, NULL);
	rollbacks = 0;
	for (uint64_t n = 1; n <= total; n++) {
		unlink(shadow);
		copy_dev(orig, devpath);	/* every run starts from the same image */
		int rc = run_child(n);
		ck_assert_msg(rc == -SIGKILL, "crash at %llu: child ended with %d",
			      (unsigned long long)n, rc);
		check_image(n);
	}
	pgdax_log_set_fn(NULL, NULL);
	pgdax_log_set_level(LOG_CRIT);
	copy_dev(orig, devpath);
	unlink(orig);
	/* the journal was actually exercised: some crashes needed a rollback */
	fprintf(stderr, "crash points: %llu, journal rollbacks at mount: %d\n",
		(unsigned long long)total, rollbacks);
	ck_assert_int_gt(rollbacks, 0);
	/* and the device itself (never crashed) is untouched by all this */
	struct pgdax_vol *v;
	ck_assert_int_eq(pgdax_vol_mount(devpath, NULL, &v), 0);
	ck_assert_uint_ne(lookup(v, PGDAX_ROOT_INO, "a"), 0);
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
}
END_TEST

/* Any crashed image: mounts, accounts for every block, walks, and the
 * checker (lib/fsck/fsck.c) finds nothing wrong after the recovery mount. */
static int walk_cb(void *ctx, const char *name, const struct stat *st, uint64_t next)
{
	(void)name;
	(void)next;
	(void)st;
	(*(int *)ctx)++;
	return 0;
}

static void check_image_generic(uint64_t n)
{
	struct pgdax_vol *v;
	ck_assert_msg(pgdax_vol_mount(shadow, NULL, &v) == 0, "crash at %llu: mount failed",
		      (unsigned long long)n);
	ck_assert_msg(vol_test_check_blocks(v) == 0, "crash at %llu: block accounting",
		      (unsigned long long)n);
	uint64_t d = lookup(v, PGDAX_ROOT_INO, "d");
	ck_assert_uint_ne(d, 0);
	int entries = 0;
	ck_assert_int_eq(pgdax_vol_readdir(v, d, 0, false, walk_cb, &entries), 0);
	uint64_t big = lookup(v, PGDAX_ROOT_INO, "big");
	if (big) {
		static char buf[4 << 20];
		size_t got;
		struct stat st;
		ck_assert_int_eq(pgdax_vol_getattr(v, big, &st), 0);
		read_all(v, big, buf, sizeof(buf), &got);
		ck_assert_uint_eq(got, (size_t)st.st_size);
		/* "big" is a's data after the rename, or the pattern file with
		 * zeros where a truncate/punch (possibly in progress) reached */
		if (st.st_size == (off_t)sizeof(pat_a) && !memcmp(buf, pat_a, got))
			got = 0;
		for (size_t i = 0; i < got; i++)
			if (buf[i] != 0 && buf[i] != 0x5a)
				ck_abort_msg("crash at %llu: big[%zu] = %d", (unsigned long long)n,
					     i, buf[i]);
	}
	struct pgdax_vol_stats s;
	pgdax_vol_get_stats(v, &s);
	ck_assert_uint_eq(s.orphans, 0);
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
	struct pgdax_fsck_opts fo = { .flags = PGDAX_FSCK_FORCE | PGDAX_FSCK_QUIET };
	struct pgdax_fsck_result res;
	int ec = pgdax_fsck_device(shadow, 0, &fo, &res);
	ck_assert_msg(ec == PGDAX_FSCK_EXIT_OK, "crash at %llu: fsck exit %d, %llu problems",
		      (unsigned long long)n, ec, (unsigned long long)res.problems);
}

START_TEST(test_crash_during_directory_growth_splits_and_renames_recovers_cleanly)
{
	char buf[64];
	scenario_arg = "--scenario2";
	char orig[300];
	snprintf(orig, sizeof(orig), "%s.orig", devpath);
	copy_dev(devpath, orig);
	ck_assert_int_eq(run_child(0), 0);
	FILE *fp = fopen(countpath, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	uint64_t total = strtoull(buf, NULL, 10);
	ck_assert_uint_gt(total, 100);
	/* every crash point in the first 120 (directory growth), then every
	 * 7th (prime: no aliasing with an operation's barrier count), so the
	 * run time stays bounded and every phase is covered */
	int checked = 0;
	for (uint64_t n = 1; n <= total; n += n < 120 ? 1 : 7) {
		unlink(shadow);
		copy_dev(orig, devpath);
		int rc = run_child(n);
		ck_assert_msg(rc == -SIGKILL, "crash at %llu: child ended with %d",
			      (unsigned long long)n, rc);
		check_image_generic(n);
		checked++;
	}
	fprintf(stderr, "scenario 2: %llu barriers, %d crash points checked\n",
		(unsigned long long)total, checked);
	unlink(orig);
	scenario_arg = "--scenario";
}
END_TEST

START_TEST(test_corrupt_journal_header_fails_mount_with_message)
{
	struct pgdax_vol *v;
	int fd = open(devpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	uint64_t junk = 0x1234;
	ck_assert_int_eq(pwrite(fd, &junk, 8, 4096), 8);	/* journal magic */
	close(fd);
	ck_assert_int_eq(pgdax_vol_mount(devpath, NULL, &v), -EUCLEAN);
}
END_TEST

/*
 * A transaction journals only what it changes (issue 14): orphan_remove
 * takes an inode off the orphan list by rewriting the PREVIOUS entry's
 * slot, without that inode's lock; its hot i_size may meanwhile grow by an
 * acknowledged write (a store, no transaction). If the transaction then
 * aborts (journal full, an error) or a crash rolls it back, the size must
 * stay the acknowledged one.
 */
struct extend_ctx {
	struct pgdax_vol *v;
	struct pgdax_vol_file *f;
	ssize_t written;
};

static void extend_meanwhile(void *arg)
{
	struct extend_ctx *c = arg;
	/* into blocks fallocated earlier: no allocation, no transaction */
	c->written = pgdax_vol_write(c->v, c->f, 0, pat_a, 5000, &cred);
}

START_TEST(test_aborted_orphan_list_edit_keeps_a_concurrent_size_extension)
{
	struct extend_ctx c = { 0 };
	struct pgdax_vol_file *fq;
	struct stat sp, sq;
	static char buf[8192];
	size_t got;

	ck_assert_int_eq(pgdax_vol_mount(devpath, NULL, &c.v), 0);
	ck_assert_int_eq(pgdax_vol_create(c.v, PGDAX_ROOT_INO, "p", 0644, O_RDWR, &cred, &sp,
					  &c.f), 0);
	ck_assert_int_eq(pgdax_vol_fallocate(c.v, sp.st_ino, FALLOC_FL_KEEP_SIZE, 0, 65536,
					     &cred), 0);
	ck_assert_int_eq(pgdax_vol_create(c.v, PGDAX_ROOT_INO, "q", 0644, O_RDWR, &cred, &sq,
					  &fq), 0);
	/* both unlinked while open: orphan list p -> q */
	ck_assert_int_eq(pgdax_vol_unlink(c.v, PGDAX_ROOT_INO, "q"), 0);
	ck_assert_int_eq(pgdax_vol_unlink(c.v, PGDAX_ROOT_INO, "p"), 0);
	/* take q off the list (rewrites p's slot), p grows, the tx aborts */
	ck_assert_int_eq(vol_test_orphan_remove_aborted(c.v, sq.st_ino, extend_meanwhile, &c), 0);
	ck_assert_int_eq(c.written, 5000);
	ck_assert_int_eq(pgdax_vol_getattr(c.v, sp.st_ino, &sp), 0);
	ck_assert_msg(sp.st_size == 5000, "acknowledged size 5000 rolled back to %lld",
		      (long long)sp.st_size);
	read_all(c.v, sp.st_ino, buf, sizeof(buf), &got);
	ck_assert_uint_eq(got, 5000);
	ck_assert(memcmp(buf, pat_a, 5000) == 0);
	pgdax_vol_release(c.v, &fq);
	pgdax_vol_release(c.v, &c.f);
	pgdax_vol_iput(c.v, sq.st_ino, 1);
	pgdax_vol_iput(c.v, sp.st_ino, 1);
	ck_assert_int_eq(vol_test_check_blocks(c.v), 0);
	ck_assert_int_eq(pgdax_vol_unmount(&c.v), 0);
}
END_TEST

static Suite *journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_crash_at_every_barrier_leaves_a_consistent_volume);
	tcase_add_test(tc, test_corrupt_journal_header_fails_mount_with_message);
	tcase_add_test(tc, test_aborted_orphan_list_edit_keeps_a_concurrent_size_extension);
	tcase_add_test(tc, test_crash_during_directory_growth_splits_and_renames_recovers_cleanly);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strncmp(argv[1], "--scenario", 10)) {
		snprintf(devpath, sizeof(devpath), "%s", argv[2]);
		fill(pat_a, sizeof(pat_a), 1);
		fill(pat_c, sizeof(pat_c), 2);
		return strcmp(argv[1], "--scenario2") ? scenario() : scenario2();
	}
	pgdax_log_set_level(LOG_CRIT);
	SRunner *sr = srunner_create(journal_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
