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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "dev.h"
#include "log.h"
#include "mkfs.h"
#include "vol.h"
#include "vol_test.h"

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
		execl("/proc/self/exe", "check_journal", "--scenario", devpath, (char *)NULL);
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

static Suite *journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_crash_at_every_barrier_leaves_a_consistent_volume);
	tcase_add_test(tc, test_corrupt_journal_header_fails_mount_with_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--scenario")) {
		snprintf(devpath, sizeof(devpath), "%s", argv[2]);
		fill(pat_a, sizeof(pat_a), 1);
		fill(pat_c, sizeof(pat_c), 2);
		return scenario();
	}
	pgdax_log_set_level(LOG_CRIT);
	SRunner *sr = srunner_create(journal_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
