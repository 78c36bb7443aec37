/* SPDX-License-Identifier: MIT */
/*
 * Crash consistency of staged writes (lib/stage.c): a child process
 * overwrites both halves of a 2 MiB file with two whole-MiB staged writes
 * (block exchanges) and is killed at every persist barrier in turn
 * (PGDAX_CRASH_AT); the image a power cut would have left (the shadow)
 * must mount with every block accounted for, each MiB holding its old or
 * its new bytes (never a mix, never another file's), in order, and every
 * write the child saw acknowledged must be there.
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
#include <unistd.h>

#include "dev.h"
#include "log.h"
#include "mkfs.h"
#include "vol.h"
#include "vol_test.h"

#define DEV_SIZE	(320ULL << 20)	/* room for a stage (lib/stage.c) */
#define MIB		(1u << 20)

static char devpath[256], shadow[256], countpath[256], ackpath[256];
static struct pgdax_cred cred = { .uid = 0, .gid = 0 };

static void fill(char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)((i * 131 + seed) >> 3);
}

static uint64_t lookup(struct pgdax_vol *v, const char *name)
{
	struct stat st;
	return pgdax_vol_lookup(v, PGDAX_ROOT_INO, name, &st) ? 0 : st.st_ino;
}

/* The crashing child: two exchanges, an ack after each. */
static int scenario(void)
{
	struct pgdax_vol *v;
	struct pgdax_vol_file *f;
	struct pgdax_vol_stage st;
	struct pgdax_vol_stats s;
	int ack = open(ackpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (ack < 0 || pgdax_vol_mount(devpath, NULL, &v))
		return 2;
	uint64_t ino = lookup(v, "f");
	if (!ino || pgdax_vol_open(v, ino, O_RDWR, &cred, &f) || pgdax_vol_stage_get(v, &st))
		return 3;
	for (unsigned half = 0; half < 2; half++) {
		fill(st.addr, MIB, 10 + half);
		if (pgdax_vol_write_staged(v, f, (uint64_t)half * MIB, &st, MIB, &cred) != MIB)
			return 4;
		if (write(ack, half ? "2" : "1", 1) != 1 || fsync(ack))
			return 5;
	}
	pgdax_vol_get_stats(v, &s);
	if (s.writes_adopted != 2)
		return 6;	/* the test would prove nothing */
	pgdax_vol_stage_put(v, &st);
	pgdax_vol_release(v, &f);
	pgdax_vol_iput(v, ino, 1);
	return pgdax_vol_unmount(&v) ? 7 : 0;
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
		execl("/proc/self/exe", "check_stage_crash", "--scenario", devpath, ackpath,
		      (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Copy the data segments of an emulated device (with its alignment). */
static void copy_dev(const char *from, const char *to)
{
	static char buf[1 << 16];
	unlink(to);
	ck_assert_int_eq(pgdax_dev_create_emulated(to, DEV_SIZE, 4096), 0);
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY);
	ck_assert(in >= 0 && out >= 0);
	off_t off = 0;
	for (;;) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0)
			break;
		off_t hole = lseek(in, data, SEEK_HOLE);
		ck_assert_int_gt(hole, data);
		for (off = data; off < hole;) {
			size_t n = hole - off < (off_t)sizeof(buf) ? (size_t)(hole - off) : sizeof(buf);
			ck_assert_int_eq(pread(in, buf, n, off), (ssize_t)n);
			ck_assert_int_eq(pwrite(out, buf, n, off), (ssize_t)n);
			off += (off_t)n;
		}
	}
	close(in);
	close(out);
}

static void setup(void)
{
	static char mib[MIB];
	struct pgdax_vol *v;
	struct pgdax_vol_file *f;
	struct stat st;

	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-stest-%d", getpid());
	snprintf(shadow, sizeof(shadow), "/dev/shm/pgdax-stest-%d.shadow", getpid());
	snprintf(countpath, sizeof(countpath), "/dev/shm/pgdax-stest-%d.count", getpid());
	snprintf(ackpath, sizeof(ackpath), "/dev/shm/pgdax-stest-%d.ack", getpid());
	unlink(devpath);
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, DEV_SIZE, 4096), 0);
	struct pgdax_mkfs_opts o = { .quiet = true };
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	ck_assert_int_eq(pgdax_vol_mount(devpath, NULL, &v), 0);
	ck_assert_int_eq(pgdax_vol_create(v, PGDAX_ROOT_INO, "f", 0644, O_RDWR, &cred, &st, &f), 0);
	fill(mib, sizeof(mib), 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pgdax_vol_write(v, f, (uint64_t)i * MIB, mib, MIB, &cred), MIB);
	pgdax_vol_release(v, &f);
	pgdax_vol_iput(v, st.st_ino, 1);
	ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
}

static void teardown(void)
{
	unlink(devpath);
	unlink(shadow);
	unlink(countpath);
	unlink(ackpath);
}

/* Which pattern MiB @half of the file holds: 1 old, 10/11 new, -1 other. */
static int pattern_of(struct pgdax_vol *v, struct pgdax_vol_file *f, unsigned half)
{
	static char got[MIB], want[MIB];
	size_t done = 0;

	while (done < MIB) {
		struct iovec iov[64];
		struct pgdax_io io = { 0 };
		int niov;
		ssize_t r = pgdax_vol_read_map(v, f, (uint64_t)half * MIB + done, MIB - done,
					       iov, 64, &niov, &io);
		ck_assert_int_gt(r, 0);
		for (int i = 0; i < niov; i++) {
			memcpy(got + done, iov[i].iov_base, iov[i].iov_len);
			done += iov[i].iov_len;
		}
		pgdax_vol_io_done(v, &io);
	}
	unsigned seeds[] = { 1, 10 + half };
	for (unsigned i = 0; i < 2; i++) {
		fill(want, MIB, seeds[i]);
		if (!memcmp(got, want, MIB))
			return (int)seeds[i];
	}
	return -1;
}

static int acked(void)
{
	char c = '0';
	int fd = open(ackpath, O_RDONLY);
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		if (end > 0)
			ck_assert_int_eq(pread(fd, &c, 1, end - 1), 1);
		close(fd);
	}
	return c - '0';
}

START_TEST(test_crash_at_every_barrier_of_two_exchanges_keeps_old_or_new_data)
{
	char buf[64], orig[300];
	int seen[3] = { 0 };

	ck_assert_int_eq(run_child(0), 0);	/* count the barriers */
	FILE *fp = fopen(countpath, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	uint64_t total = strtoull(buf, NULL, 10);
	ck_assert_uint_gt(total, 4);
	teardown();
	setup();
	snprintf(orig, sizeof(orig), "/dev/shm/pgdax-stest-%d.orig", getpid());
	copy_dev(devpath, orig);

	for (uint64_t n = 1; n <= total; n++) {
		struct pgdax_vol *v;
		struct pgdax_vol_file *f;
		struct stat st;

		unlink(shadow);
		unlink(ackpath);
		copy_dev(orig, devpath);
		int rc = run_child(n);
		ck_assert_msg(rc == -SIGKILL, "crash at %llu: child ended with %d",
			      (unsigned long long)n, rc);
		ck_assert_msg(pgdax_vol_mount(shadow, NULL, &v) == 0, "crash at %llu: mount failed",
			      (unsigned long long)n);
		ck_assert_msg(vol_test_check_blocks(v) == 0, "crash at %llu: blocks leaked or "
			      "doubly owned", (unsigned long long)n);
		uint64_t ino = lookup(v, "f");
		ck_assert_uint_ne(ino, 0);
		ck_assert_int_eq(pgdax_vol_getattr(v, ino, &st), 0);
		ck_assert_int_eq(st.st_size, 2 * MIB);
		ck_assert_int_eq(pgdax_vol_open(v, ino, O_RDONLY, &cred, &f), 0);
		int a = pattern_of(v, f, 0), b = pattern_of(v, f, 1), k = acked();
		ck_assert_msg(a == 1 || a == 10, "crash at %llu: first MiB torn (%d)",
			      (unsigned long long)n, a);
		ck_assert_msg(b == 1 || b == 11, "crash at %llu: second MiB torn (%d)",
			      (unsigned long long)n, b);
		ck_assert_msg(b == 1 || a == 10, "crash at %llu: second write before the first",
			      (unsigned long long)n);
		ck_assert_msg(k < 1 || a == 10, "crash at %llu: acknowledged write 1 lost",
			      (unsigned long long)n);
		ck_assert_msg(k < 2 || b == 11, "crash at %llu: acknowledged write 2 lost",
			      (unsigned long long)n);
		seen[(a == 10) + (b == 11)]++;
		pgdax_vol_release(v, &f);
		ck_assert_int_eq(pgdax_vol_unmount(&v), 0);
	}
	unlink(orig);
	fprintf(stderr, "crash points: %llu; images with 0/1/2 writes: %d/%d/%d\n",
		(unsigned long long)total, seen[0], seen[1], seen[2]);
	/* the crash points covered both exchanges */
	ck_assert_int_gt(seen[0], 0);
	ck_assert_int_gt(seen[1], 0);
	ck_assert_int_gt(seen[2], 0);
}
END_TEST

static Suite *stage_suite(void)
{
	Suite *s = suite_create("stage_crash");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_crash_at_every_barrier_of_two_exchanges_keeps_old_or_new_data);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--scenario")) {
		snprintf(devpath, sizeof(devpath), "%s", argv[2]);
		snprintf(ackpath, sizeof(ackpath), "%s", argv[3]);
		return scenario();
	}
	pgdax_log_set_level(LOG_CRIT);
	SRunner *sr = srunner_create(stage_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
