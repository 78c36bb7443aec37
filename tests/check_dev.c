/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the device layer (the files of lib/dev/) and logging (lib/util/log.c).
 * Every test runs in its own forked process (Check's CK_FORK), on its own
 * emulated device file under /dev/shm, removed by the teardown.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "util/log.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define DEV_SIZE (64 * MiB)

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static char dev_path[128];
static char aux_path[128];	/* shadow, count file, other device: removed too */
static char aux_path2[128];
static char logbuf[8192];	/* every message logged during the test */

static void capture(int priority, const char *msg, void *arg)
{
	size_t n = strlen(logbuf);

	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static void setup(void)
{
	static int seq;

	snprintf(dev_path, sizeof(dev_path), "/dev/shm/pgdax-check-dev-%d-%d", getpid(), seq);
	snprintf(aux_path, sizeof(aux_path), "/dev/shm/pgdax-check-aux-%d-%d", getpid(), seq);
	snprintf(aux_path2, sizeof(aux_path2), "/dev/shm/pgdax-check-aux2-%d-%d", getpid(), seq++);
	logbuf[0] = '\0';
	pgdax_log_set_fn(capture, NULL);
	pgdax_log_set_level(LOG_WARNING);
}

static void teardown(void)
{
	unlink(dev_path);
	unlink(aux_path);
	unlink(aux_path2);
	pgdax_log_set_fn(NULL, NULL);
}

static struct pgdax_dev *open_new(uint64_t size, uint64_t align)
{
	struct pgdax_dev *dev = NULL;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, size, align), 0);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	ck_assert_ptr_nonnull(dev);
	return dev;
}

static void make_file(const char *path, uint64_t size, mode_t mode)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Run fn in a child; returns the raw wait status. */
static int run_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(fn(arg));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static int open_rc(const char *name, unsigned flags, uint64_t align)
{
	struct pgdax_dev *dev = NULL;
	int rc = pgdax_dev_open(name, flags, align, &dev);

	if (!rc)
		pgdax_dev_close(&dev);
	else
		ck_assert_ptr_null(dev);
	return rc;
}

/* ---------------------------------------------------------------- names */

START_TEST(test_open_missing_path_fails_enoent_naming_path)
{
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -ENOENT);
	ck_assert_ptr_nonnull(strstr(logbuf, dev_path));
}
END_TEST

START_TEST(test_open_directory_fails_eisdir)
{
	ck_assert_int_eq(open_rc("/dev/shm", 0, 0), -EISDIR);
	ck_assert_ptr_nonnull(strstr(logbuf, "/dev/shm is a directory"));
}
END_TEST

START_TEST(test_open_char_device_that_is_not_dax_fails_enodev)
{
	ck_assert_int_eq(open_rc("/dev/null", 0, 0), -ENODEV);
	ck_assert_ptr_nonnull(strstr(logbuf, "/dev/null is not a devdax device"));
}
END_TEST

START_TEST(test_open_block_device_fails_enodev_with_reconfigure_hint)
{
	/* A loop-device node of our own: never opened, the kind check refuses it first. */
	ck_assert_int_eq(mknod(dev_path, S_IFBLK | 0600, makedev(7, 0)), 0);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -ENODEV);
	ck_assert_ptr_nonnull(strstr(logbuf, "is a block device"));
	ck_assert_ptr_nonnull(strstr(logbuf, "-m devdax"));
}
END_TEST

START_TEST(test_open_fifo_fails_enodev_without_blocking)
{
	ck_assert_int_eq(mkfifo(dev_path, 0600), 0);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -ENODEV);
}
END_TEST

START_TEST(test_open_dax_name_without_devdax_fails_enoent_naming_it)
{
	ck_assert_int_eq(open_rc("dax987.654", 0, 0), -ENOENT);
	ck_assert_ptr_nonnull(strstr(logbuf, "dax987.654"));
	ck_assert_ptr_nonnull(strstr(logbuf, "daxctl list"));
}
END_TEST

START_TEST(test_open_namespace_name_without_namespace_fails_enoent_naming_it)
{
	ck_assert_int_eq(open_rc("namespace987.654", 0, 0), -ENOENT);
	ck_assert_ptr_nonnull(strstr(logbuf, "namespace987.654"));
	ck_assert_ptr_nonnull(strstr(logbuf, "ndctl"));
}
END_TEST

START_TEST(test_resolve_dax_name_maps_to_dev_path_when_present)
{
	char path[256];
	int rc = pgdax_dev_resolve("dax0.0", path, sizeof(path));

	if (access("/dev/dax0.0", F_OK) == 0) {
		ck_assert_int_eq(rc, 0);
		ck_assert_str_eq(path, "/dev/dax0.0");
	} else {
		ck_assert_int_eq(rc, -ENOENT);
	}
}
END_TEST

START_TEST(test_resolve_relative_path_gives_canonical_path)
{
	char path[256];

	make_file(dev_path, 16 * MiB, 0600);
	ck_assert_int_eq(chdir("/dev/shm"), 0);
	ck_assert_int_eq(pgdax_dev_resolve(strrchr(dev_path, '/') + 1, path, sizeof(path)), 0);
	ck_assert_str_eq(path, dev_path);
}
END_TEST

START_TEST(test_resolve_names_that_only_look_like_dax_are_paths)
{
	char path[256];

	/* "dax1" or "dax0.0x" are not dax names: they are taken as (missing) paths. */
	ck_assert_int_eq(pgdax_dev_resolve("dax1", path, sizeof(path)), 0);
	ck_assert_str_eq(path, "dax1");
	ck_assert_int_eq(pgdax_dev_resolve("namespace0.0x", path, sizeof(path)), 0);
	ck_assert_int_eq(open_rc("dax0.0x", 0, 0), -ENOENT);
}
END_TEST

START_TEST(test_open_empty_name_fails_einval)
{
	struct pgdax_dev *dev = (void *)1;

	ck_assert_int_eq(pgdax_dev_open("", 0, 0, &dev), -EINVAL);
	ck_assert_ptr_null(dev);
	ck_assert_int_eq(pgdax_dev_open(NULL, 0, 0, &dev), -EINVAL);
}
END_TEST

START_TEST(test_open_overlong_name_fails_enametoolong)
{
	char name[PATH_MAX + 64];

	memset(name, 'a', sizeof(name) - 1);
	name[0] = '/';
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(open_rc(name, 0, 0), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_create_emulated_in_missing_directory_fails_enoent_naming_path)
{
	ck_assert_int_eq(pgdax_dev_create_emulated("/dev/shm/no-such-dir-pgdax/dev", DEV_SIZE, 4096),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(logbuf, "/dev/shm/no-such-dir-pgdax/dev"));
}
END_TEST

START_TEST(test_open_file_smaller_than_16m_fails_einval)
{
	make_file(dev_path, 16 * MiB - 4096, 0600);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -EINVAL);
	ck_assert_ptr_nonnull(strstr(logbuf, "at least 16 MiB"));
	make_file(dev_path, 0, 0600);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -EINVAL);
}
END_TEST

START_TEST(test_open_size_not_multiple_of_alignment_fails_einval)
{
	make_file(dev_path, 17 * MiB, 0600);
	ck_assert_int_eq(open_rc(dev_path, 0, 2 * MiB), -EINVAL);
	ck_assert_ptr_nonnull(strstr(logbuf, "not a multiple of its alignment"));
	/* and fine at 4K */
	ck_assert_int_eq(open_rc(dev_path, 0, 4096), 0);
}
END_TEST

START_TEST(test_open_with_invalid_align_override_fails_einval)
{
	make_file(dev_path, 64 * MiB, 0600);
	ck_assert_int_eq(open_rc(dev_path, 0, 3 * MiB), -EINVAL);
	ck_assert_int_eq(open_rc(dev_path, 0, 8192), -EINVAL);
}
END_TEST

/* Nothing about a volume lives beside the file: the alignment xattr of
 * earlier versions, valid or not, changes nothing. */
START_TEST(test_align_xattr_of_earlier_versions_is_ignored)
{
	struct pgdax_dev *dev = NULL;

	make_file(dev_path, 64 * MiB, 0600);
	ck_assert_int_eq(setxattr(dev_path, "user.pgdax.align", "2M!", 3, 0), 0);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), 0);
	ck_assert_int_eq(setxattr(dev_path, "user.pgdax.align", "2097152", 7, 0), 0);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	ck_assert_uint_eq(pgdax_dev_info(dev)->align, 4096);
	pgdax_dev_close(&dev);
}
END_TEST

static int open_as_nobody(void *arg)
{
	if (setgid(65534) || setuid(65534))
		return 10;
	logbuf[0] = '\0';
	if (open_rc(dev_path, 0, 0) != -EACCES)
		return 1;
	if (!strstr(logbuf, "permission denied") || !strstr(logbuf, dev_path))
		return 2;
	if (open_rc(dev_path, PGDAX_DEV_RDONLY, 0) != -EACCES)
		return 3;
	return 0;
}

START_TEST(test_open_without_permission_fails_eacces)
{
	int st;

	ck_assert_int_eq(getuid(), 0);	/* the suite runs as root; nobody must be refused */
	make_file(dev_path, 64 * MiB, 0600);
	st = run_child(open_as_nobody, NULL);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* -------------------------------------------------------------- mapping */

START_TEST(test_round_trip_survives_close_and_reopen)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 2 * MiB);
	char *base = pgdax_dev_base(dev);
	static const char msg[] = "durable bytes";

	memcpy(base + 5 * MiB + 7, msg, sizeof(msg));
	pgdax_dev_persist(dev, base + 5 * MiB + 7, sizeof(msg));
	pgdax_dev_memset_persist(dev, base + DEV_SIZE - 4096, 0xab, 4096);
	pgdax_dev_close(&dev);
	ck_assert_ptr_null(dev);

	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	base = pgdax_dev_base(dev);
	ck_assert_str_eq(base + 5 * MiB + 7, msg);
	ck_assert_int_eq((unsigned char)base[DEV_SIZE - 1], 0xab);
	ck_assert_int_eq(base[DEV_SIZE - 4097], 0);
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_persisted_stores_reach_the_file)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);
	char *base = pgdax_dev_base(dev);
	char buf[16] = "";
	int fd;

	pgdax_dev_memcpy_persist(dev, base + 4096, "memcpy_persist", 15);
	pgdax_dev_memcpy_nodrain(dev, base + 8192, "memcpy_nodrain", 15);
	memcpy(base + 12288, "flush_drain___", 15);
	pgdax_dev_flush(dev, base + 12288, 15);
	pgdax_dev_drain(dev);

	fd = open(dev_path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 15, 4096), 15);
	ck_assert_str_eq(buf, "memcpy_persist");
	ck_assert_int_eq(pread(fd, buf, 15, 8192), 15);
	ck_assert_str_eq(buf, "memcpy_nodrain");
	ck_assert_int_eq(pread(fd, buf, 15, 12288), 15);
	ck_assert_str_eq(buf, "flush_drain___");
	close(fd);
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_emulated_device_on_disk_filesystem_round_trips_through_msync)
{
	struct pgdax_dev *dev = NULL;
	char path[128], *base;

	/* /var/tmp is a disk filesystem here: libpmem2's msync path, not the tmpfs one. */
	snprintf(path, sizeof(path), "/var/tmp/pgdax-check-dev-%d", getpid());
	ck_assert_int_eq(pgdax_dev_create_emulated(path, 16 * MiB, 2 * MiB), 0);
	ck_assert_int_eq(pgdax_dev_open(path, 0, 2 * MiB, &dev), 0);
	base = pgdax_dev_base(dev);
	pgdax_dev_memcpy_persist(dev, base + MiB, "on disk", 8);
	memcpy(base + 2 * MiB, "flushed", 8);
	pgdax_dev_flush(dev, base + 2 * MiB, 8);
	pgdax_dev_drain(dev);
	pgdax_dev_close(&dev);
	ck_assert_int_eq(pgdax_dev_open(path, PGDAX_DEV_RDONLY, 0, &dev), 0);
	base = pgdax_dev_base(dev);
	ck_assert_str_eq(base + MiB, "on disk");
	ck_assert_str_eq(base + 2 * MiB, "flushed");
	pgdax_dev_close(&dev);
	unlink(path);
}
END_TEST

START_TEST(test_info_reports_emulated_kind_size_name_and_flushing)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 2 * MiB);
	const struct pgdax_dev_info *in = pgdax_dev_info(dev);

	ck_assert_int_eq(in->kind, PGDAX_DEV_EMULATED);
	ck_assert_str_eq(in->path, dev_path);
	ck_assert_str_eq(in->name, strrchr(dev_path, '/') + 1);
	ck_assert_uint_eq(in->size, DEV_SIZE);
	ck_assert_uint_eq(pgdax_dev_size(dev), DEV_SIZE);
	ck_assert_int_eq(in->numa_node, -1);
	ck_assert_str_eq(in->granularity, "page");	/* tmpfs: msync */
	ck_assert(in->needs_flush);
	ck_assert_int_ge(pgdax_dev_fd(dev), 0);
	ck_assert_ptr_nonnull(pgdax_dev_base(dev));
	pgdax_dev_close(&dev);
}
END_TEST

/*
 * A devdax refuses read(2), write(2), ftruncate and private mappings; the
 * emulated device's descriptor refuses them too, so code that relies on
 * one (fsck -n once mapped the device MAP_PRIVATE) fails here, not only on
 * real hardware. Locks and fstat work, as on a devdax; the device layer's
 * own reads (pgdax_dev_read) still work, and views copy on write without a
 * private mapping.
 */
START_TEST(test_emulated_fd_refuses_what_devdax_refuses)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 2 * MiB);
	int fd = pgdax_dev_fd(dev);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 4096 };
	struct pgdax_dev_view *v = NULL;
	char buf[64] = "", *base = pgdax_dev_base(dev), *vb;
	struct stat st;
	void *p;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(read(fd, buf, sizeof(buf)), 0);
	ck_assert_int_lt(pread(fd, buf, sizeof(buf), 0), 0);
	ck_assert_int_lt(write(fd, buf, sizeof(buf)), 0);
	ck_assert_int_lt(pwrite(fd, buf, sizeof(buf), 0), 0);
	ck_assert_int_lt(ftruncate(fd, DEV_SIZE / 2), 0);
	p = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert_msg(p == MAP_FAILED, "a private mapping of the device was allowed");
	p = mmap(NULL, 2 * MiB, PROT_READ, MAP_PRIVATE, fd, 0);
	ck_assert_msg(p == MAP_FAILED, "a private read-only mapping was allowed");
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq((long long)st.st_size, (long long)DEV_SIZE);
	ck_assert_int_eq(fcntl(fd, F_OFD_GETLK, &fl), 0);

	memcpy(base + 3 * MiB, "device bytes", 12);
	pgdax_dev_persist(dev, base + 3 * MiB, 12);
	ck_assert_int_eq(pgdax_dev_read(dev, 3 * MiB, buf, 12), 0);
	ck_assert_int_eq(memcmp(buf, "device bytes", 12), 0);

	ck_assert_int_eq(pgdax_dev_view_open(dev, &v), 0);
	vb = pgdax_dev_view_base(v);
	ck_assert_int_eq(memcmp(vb + 3 * MiB, "device bytes", 12), 0);
	ck_assert_int_eq(pgdax_dev_view_cow(v, vb + 3 * MiB + 4, 2), 0);
	memcpy(vb + 3 * MiB, "scratch", 7);
	ck_assert_int_eq(memcmp(base + 3 * MiB, "device bytes", 12), 0);	/* not written */
	ck_assert_int_eq(memcmp(vb + 3 * MiB, "scratchbytes", 12), 0);
	ck_assert_int_eq(memcmp(vb + 5 * MiB, base + 5 * MiB, 4096), 0);
	pgdax_dev_view_close(&v);
	ck_assert_ptr_null(v);
	pgdax_dev_close(&dev);
}
END_TEST

/* The volume's alignment becomes an emulated device's, whatever the file. */
START_TEST(test_emulated_device_takes_the_volumes_alignment)
{
	struct pgdax_dev *dev;

	dev = open_new(DEV_SIZE, 2 * MiB);
	ck_assert_uint_eq(pgdax_dev_info(dev)->align, 4096);	/* nothing recorded on the file */
	ck_assert_int_eq(pgdax_dev_use_align(dev, 2 * MiB), 0);
	ck_assert_uint_eq(pgdax_dev_info(dev)->align, 2 * MiB);
	ck_assert_int_eq(pgdax_dev_use_align(dev, GiB), 0);
	ck_assert_uint_eq(pgdax_dev_info(dev)->align, GiB);
	ck_assert_int_eq(pgdax_dev_use_align(dev, 3 * MiB), -EINVAL);
	ck_assert_ptr_nonnull(strstr(logbuf, "run fsck.pgdaxfs"));
	ck_assert_uint_eq(pgdax_dev_info(dev)->align, GiB);
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_align_override_sets_emulated_alignment_at_open)
{
	struct pgdax_dev *dev = NULL;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 2 * MiB), 0);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 2 * MiB, &dev), 0);
	ck_assert_uint_eq(pgdax_dev_info(dev)->align, 2 * MiB);
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_file_opens_at_4k_until_a_volume_says_otherwise)
{
	struct pgdax_dev *dev = NULL;

	make_file(dev_path, DEV_SIZE, 0600);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	ck_assert_uint_eq(pgdax_dev_info(dev)->align, 4096);
	pgdax_dev_close(&dev);
}
END_TEST

/*
 * The devdax rule (lib/dev/dev_align.c): a device whose pages divide the
 * volume's units serves it (smaller pages: a notice); a device whose pages
 * are larger than a unit is refused, naming both ways out.
 */
START_TEST(test_devdax_alignment_equal_to_the_volumes_is_accepted_silently)
{
	char why[768] = "x";

	ck_assert_int_eq(pgdax_dev_align_compatible(2 * MiB, 2 * MiB, "/dev/dax0.0", why,
						    sizeof(why)), 0);
	ck_assert_str_eq(why, "");
	ck_assert_int_eq(pgdax_dev_align_compatible(GiB, GiB, "/dev/dax0.0", why, sizeof(why)), 0);
	ck_assert_int_eq(pgdax_dev_align_compatible(4096, 4096, "/dev/dax0.0", why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_devdax_alignment_dividing_the_volumes_is_accepted_with_a_notice)
{
	static const uint64_t ok[][2] = { { 4096, 2 * MiB }, { 4096, GiB }, { 2 * MiB, GiB } };
	char why[768];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		why[0] = '\0';
		ck_assert_int_eq(pgdax_dev_align_compatible(ok[i][0], ok[i][1], "/dev/dax0.0", why,
							    sizeof(why)), 0);
		ck_assert_ptr_nonnull(strstr(why, "divides it"));
	}
	ck_assert_ptr_nonnull(strstr(why, "formatted with alignment 1G"));
	ck_assert_ptr_nonnull(strstr(why, "with 2M pages"));
}
END_TEST

START_TEST(test_devdax_alignment_larger_than_the_volumes_is_refused_naming_both_fixes)
{
	static const uint64_t bad[][2] = { { 2 * MiB, 4096 }, { GiB, 4096 }, { GiB, 2 * MiB } };
	char why[768];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(pgdax_dev_align_compatible(bad[i][0], bad[i][1], "/dev/dax0.0",
							    why, sizeof(why)), -EINVAL);
	/* the last one: a volume formatted at 2M on a 1G namespace */
	ck_assert_ptr_nonnull(strstr(why, "/dev/dax0.0 was formatted with alignment 2M"));
	ck_assert_ptr_nonnull(strstr(why, "whole 1G pages"));
	ck_assert_ptr_nonnull(strstr(why, "mkfs.pgdaxfs -f /dev/dax0.0 formats at 1G"));
	ck_assert_ptr_nonnull(strstr(why, "-m devdax -a 2M"));
}
END_TEST

START_TEST(test_volume_alignment_that_is_not_4k_2m_or_1g_is_refused)
{
	char why[768];

	ck_assert_int_eq(pgdax_dev_align_compatible(2 * MiB, 0, "d", why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(pgdax_dev_align_compatible(2 * MiB, 4 * MiB, "d", why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not 4K, 2M or 1G"));
	ck_assert_int_eq(pgdax_dev_align_compatible(3 * MiB, 2 * MiB, "d", why, sizeof(why)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a power of two"));
}
END_TEST

START_TEST(test_create_emulated_rejects_bad_alignment_and_size)
{
	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 3 * MiB), -EINVAL);
	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 0), -EINVAL);
	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE + 4096, 2 * MiB), -EINVAL);
	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, 8 * MiB, 4096), -EINVAL);
	ck_assert_int_eq(pgdax_dev_create_emulated("", DEV_SIZE, 4096), -EINVAL);
	ck_assert_int_eq(pgdax_dev_create_emulated("/dev/shm", DEV_SIZE, 4096), -EISDIR);
	ck_assert_int_eq(access(dev_path, F_OK), -1);	/* nothing created on refusal */
}
END_TEST

START_TEST(test_create_emulated_is_sparse_and_resizes)
{
	struct stat st;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, GiB, 2 * MiB), 0);
	ck_assert_int_eq(stat(dev_path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)GiB);
	ck_assert_int_lt(st.st_blocks, 64);
	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 2 * MiB), 0);
	ck_assert_int_eq(stat(dev_path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)DEV_SIZE);
}
END_TEST

static int write_readonly_map(void *arg)
{
	struct pgdax_dev *dev = NULL;
	volatile char *base;

	if (pgdax_dev_open(dev_path, PGDAX_DEV_RDONLY, 0, &dev))
		return 10;
	base = pgdax_dev_base(dev);
	if (base[100] != 'x')	/* reads work */
		return 11;
	base[100] = 'y';	/* must fault */
	return 12;
}

START_TEST(test_readonly_open_maps_read_only)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);
	int st;

	pgdax_dev_memset_persist(dev, (char *)pgdax_dev_base(dev) + 100, 'x', 1);
	pgdax_dev_close(&dev);
	st = run_child(write_readonly_map, NULL);
	if (SANITIZED)
		ck_assert(!WIFEXITED(st) || WEXITSTATUS(st) == 1);	/* ASan's SEGV report */
	else
		ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}
END_TEST

START_TEST(test_close_nulls_pointer_and_is_null_safe)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);

	pgdax_dev_close(&dev);
	ck_assert_ptr_null(dev);
	pgdax_dev_close(&dev);
	pgdax_dev_close(NULL);
}
END_TEST

START_TEST(test_open_failure_leaves_out_null)
{
	struct pgdax_dev *dev = (void *)1;

	ck_assert_int_eq(pgdax_dev_open("/dev/null", 0, 0, &dev), -ENODEV);
	ck_assert_ptr_null(dev);
}
END_TEST

/* ----------------------------------------------------------------- lock */

static pid_t lock_holder;

static int second_excl_open(void *arg)
{
	char want[64];

	logbuf[0] = '\0';
	if (open_rc(dev_path, PGDAX_DEV_EXCL, 0) != -EBUSY)
		return 1;
	snprintf(want, sizeof(want), "in use by pid %d (", (int)lock_holder);
	if (!strstr(logbuf, want) || !strstr(logbuf, dev_path))
		return 2;
	if (open_rc(dev_path, 0, 0) != 0)	/* shared opens are not refused */
		return 3;
	return 0;
}

START_TEST(test_second_exclusive_open_fails_ebusy_naming_holder)
{
	struct pgdax_dev *dev = NULL;
	char comm[32], want[64];
	FILE *f;
	int st;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	ck_assert_int_eq(pgdax_dev_open(dev_path, PGDAX_DEV_EXCL, 0, &dev), 0);
	lock_holder = getpid();
	st = run_child(second_excl_open, NULL);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);

	/* Also in this process, and the message carries our comm. */
	f = fopen("/proc/self/comm", "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	logbuf[0] = '\0';
	ck_assert_int_eq(open_rc(dev_path, PGDAX_DEV_EXCL, 0), -EBUSY);
	snprintf(want, sizeof(want), "in use by pid %d (%s)", (int)getpid(), comm);
	ck_assert_msg(strstr(logbuf, want), "log '%s' lacks '%s'", logbuf, want);
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_exclusive_lock_is_released_on_close)
{
	struct pgdax_dev *dev = NULL;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	ck_assert_int_eq(pgdax_dev_open(dev_path, PGDAX_DEV_EXCL, 0, &dev), 0);
	pgdax_dev_close(&dev);
	ck_assert_int_eq(open_rc(dev_path, PGDAX_DEV_EXCL, 0), 0);
}
END_TEST

/* ---------------------------------------------------------------- guard */

/*
 * A media error (poison) on one page of a device that is otherwise whole:
 * the page of the device mapping at @addr is replaced by a shared mapping
 * of a one-page file that is then cut to nothing, so loads and stores there
 * raise SIGBUS exactly as a poisoned page does, while the device file keeps
 * its size. (Cutting the device file itself is a device that went away:
 * see the "loss" tests below.)
 */
static void poison_page(void *addr)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s.poison", dev_path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	ck_assert_ptr_eq(mmap(addr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0),
			 addr);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	close(fd);
	unlink(path);
}

static struct pgdax_dev *open_with_poison(const uint64_t *offs, int n)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);

	for (int i = 0; i < n; i++)
		poison_page((char *)pgdax_dev_base(dev) + offs[i]);
	return dev;
}

START_TEST(test_guarded_read_of_poisoned_page_returns_eio_and_records_range)
{
	static const uint64_t bad[] = { 40 * MiB, 50 * MiB };
	struct pgdax_dev *dev = open_with_poison(bad, 2);
	char *base = pgdax_dev_base(dev), buf[8192];
	uint64_t off[4], len[4];

	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, buf, base + 4096, sizeof(buf), false), 0);
	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, buf, base + 40 * MiB + 100, 64, false), -EIO);
	ck_assert_int_eq(pgdax_dev_badranges(dev, off, len, 4), 1);
	ck_assert_uint_eq(off[0], 40 * MiB);
	ck_assert_uint_eq(len[0], 4096);
	ck_assert(pgdax_dev_range_is_bad(dev, 40 * MiB + 4000, 1));
	ck_assert(pgdax_dev_range_is_bad(dev, 39 * MiB, 2 * MiB));
	ck_assert(!pgdax_dev_range_is_bad(dev, 0, 32 * MiB));
	ck_assert(!pgdax_dev_range_is_bad(dev, 40 * MiB + 4096, 4096));
	ck_assert_ptr_nonnull(strstr(logbuf, "media error"));
	/* a media error is not a lost device: the rest still reads */
	ck_assert(!pgdax_dev_is_lost(dev));
	/* Still alive, and the guard works again on the same thread. */
	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, buf, base + 50 * MiB, 64, false), -EIO);
	ck_assert_int_eq(pgdax_dev_badranges(dev, NULL, NULL, 0), 2);
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_guarded_write_to_poisoned_page_returns_eio)
{
	static const uint64_t bad[] = { 33 * MiB };
	struct pgdax_dev *dev = open_with_poison(bad, 1);
	char *base = pgdax_dev_base(dev), buf[64] = "data";

	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, base + 33 * MiB, buf, sizeof(buf), true), -EIO);
	ck_assert(pgdax_dev_range_is_bad(dev, 33 * MiB, 1));
	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, base + MiB, buf, sizeof(buf), true), 0);
	ck_assert_str_eq(base + MiB, "data");
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_adjacent_bad_pages_merge_into_one_range)
{
	static const uint64_t bad[] = { 40 * MiB, 40 * MiB + 4096, 40 * MiB + 8192 };
	struct pgdax_dev *dev = open_with_poison(bad, 3);
	char *base = pgdax_dev_base(dev), buf[64];
	uint64_t off[4], len[4];

	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, buf, base + 40 * MiB + 4096, 8, false), -EIO);
	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, buf, base + 40 * MiB + 8192, 8, false), -EIO);
	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, buf, base + 40 * MiB, 8, false), -EIO);
	ck_assert_int_eq(pgdax_dev_badranges(dev, off, len, 4), 1);
	ck_assert_uint_eq(off[0], 40 * MiB);
	ck_assert_uint_eq(len[0], 3 * 4096);
	pgdax_dev_close(&dev);
}
END_TEST

struct guard_thread {
	struct pgdax_dev *dev;
	uint64_t off;
	int rc;
};

static void *guard_thread_fn(void *p)
{
	struct guard_thread *g = p;
	char buf[64];
	int i;

	for (i = 0; i < 100; i++) {
		g->rc = pgdax_dev_copy_guarded(g->dev, buf, (char *)pgdax_dev_base(g->dev) + g->off,
					       sizeof(buf), false);
		if (g->rc != -EIO)
			break;
	}
	return NULL;
}

START_TEST(test_guard_is_per_thread)
{
	static const uint64_t bad[] = { 36 * MiB, 60 * MiB };
	struct pgdax_dev *dev = open_with_poison(bad, 2);
	struct guard_thread g[2] = { { dev, 36 * MiB, 0 }, { dev, 60 * MiB, 0 } };
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, guard_thread_fn, &g[i]), 0);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(g[i].rc, -EIO);
	}
	ck_assert_int_eq(pgdax_dev_badranges(dev, NULL, NULL, 0), 2);
	pgdax_dev_close(&dev);
}
END_TEST

/* A SIGBUS that is not at a device mapping (a bug elsewhere, or one sent
 * with kill/raise) still kills the process. */
static int unguarded_fault(void *arg)
{
	struct pgdax_dev *dev = NULL;
	volatile char *other;

	if (pgdax_dev_open(dev_path, 0, 0, &dev))
		return 1;
	other = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (other == MAP_FAILED)
		return 2;
	poison_page((void *)other);
	if (arg)
		raise(SIGBUS);
	else
		(void)other[10];
	return 3;	/* survived: the guard swallowed a real bug */
}

START_TEST(test_sigbus_outside_device_still_kills_process)
{
	int st, how;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	for (how = 0; how < 2; how++) {
		st = run_child(unguarded_fault, how ? (void *)1 : NULL);
		if (SANITIZED)	/* the sanitizer's own SIGBUS handler reports and exits */
			ck_assert(!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3));
		else
			ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
				      "how %d: status %#x", how, st);
	}
}
END_TEST

/* ---------------------------------------------------------------- loss */

static char lost_why[1024];
static int lost_calls;
static pthread_mutex_t lost_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lost_cond = PTHREAD_COND_INITIALIZER;

static void on_lost(void *arg, const char *why)
{
	pthread_mutex_lock(&lost_lock);
	snprintf(lost_why, sizeof(lost_why), "%s", why);
	lost_calls++;
	(void)arg;
	pthread_cond_broadcast(&lost_cond);
	pthread_mutex_unlock(&lost_lock);
}

/* Wait (event-driven, bounded) for the callback; the number of calls. */
static int wait_lost(int secs)
{
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&lost_lock);
	while (!lost_calls && pthread_cond_timedwait(&lost_cond, &lost_lock, &ts) == 0)
		;
	n = lost_calls;
	pthread_mutex_unlock(&lost_lock);
	return n;
}

static void lost_reset(void)
{
	pthread_mutex_lock(&lost_lock);
	lost_calls = 0;
	lost_why[0] = '\0';
	pthread_mutex_unlock(&lost_lock);
}

START_TEST(test_cut_device_file_is_noticed_without_any_access)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);
	char why[512];

	lost_reset();
	ck_assert_int_eq(pgdax_dev_watch(dev, on_lost, NULL), 0);
	ck_assert(!pgdax_dev_is_lost(dev));
	ck_assert_int_eq(truncate(dev_path, 32 * MiB), 0);
	ck_assert_int_eq(wait_lost(10), 1);
	ck_assert(pgdax_dev_is_lost(dev));
	ck_assert_ptr_nonnull(strstr(lost_why, "was cut to 33554432 bytes"));
	pgdax_dev_lost_reason(dev, why, sizeof(why));
	ck_assert_str_eq(why, lost_why);
	ck_assert_ptr_nonnull(strstr(logbuf, "went away"));
	pgdax_dev_close(&dev);
	ck_assert_int_eq(lost_calls, 1);	/* once */
}
END_TEST

/* A metadata (unguarded) access past the cut does not kill the process:
 * the mapping is fenced, the access reads zeros, and nothing reaches the
 * device from then on. */
START_TEST(test_unguarded_access_to_cut_device_survives_and_fences)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);
	volatile char *base = pgdax_dev_base(dev);
	char byte = 0;
	int fd;

	base[MiB] = 'A';
	pgdax_dev_persist(dev, (void *)(base + MiB), 1);
	lost_reset();
	ck_assert_int_eq(pgdax_dev_watch(dev, on_lost, NULL), 0);
	ck_assert_int_eq(truncate(dev_path, 32 * MiB), 0);
	ck_assert_int_eq(base[40 * MiB], 0);	/* faults, fenced, re-executed */
	ck_assert(pgdax_dev_is_lost(dev));
	base[MiB] = 'B';			/* lands in the fence */
	pgdax_dev_persist(dev, (void *)(base + MiB), 1);
	ck_assert_int_eq(wait_lost(10), 1);
	fd = open(dev_path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &byte, 1, MiB), 1);
	close(fd);
	ck_assert_int_eq(byte, 'A');		/* the device never saw the B */
	pgdax_dev_close(&dev);
}
END_TEST

/* A guarded copy that meets a cut device returns EIO and reports a lost
 * device, not a media error, even with no watcher running. */
START_TEST(test_guarded_copy_into_cut_device_reports_loss_not_media_error)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);
	char *base = pgdax_dev_base(dev), buf[64] = { 0 };

	ck_assert_int_eq(truncate(dev_path, 32 * MiB), 0);
	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, base + 40 * MiB, buf, sizeof(buf), true),
			 -EIO);
	ck_assert(pgdax_dev_is_lost(dev));
	ck_assert_int_eq(pgdax_dev_badranges(dev, NULL, NULL, 0), 0);
	ck_assert_ptr_nonnull(strstr(logbuf, "went away"));
	ck_assert_ptr_null(strstr(logbuf, "media error"));
	pgdax_dev_close(&dev);
}
END_TEST

/* ---------------------------------------------------------------- crash */

static int crash_child_counting(void *arg)
{
	int *pipefd = arg, i;
	struct pgdax_dev *dev = NULL;
	char *base;

	close(pipefd[0]);
	setenv("PGDAX_CRASH_AT", "3", 1);
	if (pgdax_dev_open(dev_path, 0, 0, &dev))
		return 1;
	base = pgdax_dev_base(dev);
	for (i = 0; i < 5; i++) {
		base[i * 4096] = 1;
		pgdax_dev_persist(dev, base + i * 4096, 1);
		if (write(pipefd[1], "x", 1) != 1)
			return 2;
	}
	return 0;
}

START_TEST(test_crash_at_3_kills_with_sigkill_before_third_barrier)
{
	int pipefd[2], st;
	char buf[16];
	ssize_t n;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	st = run_child(crash_child_counting, pipefd);
	close(pipefd[1]);
	n = read(pipefd[0], buf, sizeof(buf));
	close(pipefd[0]);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
	ck_assert_int_eq(n, 2);		/* barriers 1 and 2 completed, 3 did not */
}
END_TEST

static void pread_exact(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static int crash_child_shadow(void *arg)
{
	struct pgdax_dev *dev = NULL;
	char *base;

	setenv("PGDAX_CRASH_SHADOW", aux_path, 1);
	setenv("PGDAX_CRASH_AT", "3", 1);
	if (pgdax_dev_open(dev_path, 0, 0, &dev))
		return 1;
	base = pgdax_dev_base(dev);
	memcpy(base + 1 * MiB, "persisted-A", 12);
	memcpy(base + 2 * MiB, "volatile-B", 11);
	pgdax_dev_persist(dev, base + 1 * MiB, 12);		/* barrier 1 */
	memcpy(base + 3 * MiB, "flushed-C", 10);
	pgdax_dev_flush(dev, base + 3 * MiB, 10);
	pgdax_dev_drain(dev);					/* barrier 2 */
	memcpy(base + 4 * MiB, "flushed-D", 10);
	pgdax_dev_flush(dev, base + 4 * MiB, 10);
	pgdax_dev_drain(dev);					/* barrier 3: crash */
	return 0;
}

START_TEST(test_shadow_holds_only_persisted_ranges_after_crash)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 2 * MiB);
	char buf[16];
	struct stat st;
	int status;

	/* Persisted before the harness starts: the shadow copies it at open. */
	pgdax_dev_memcpy_persist(dev, (char *)pgdax_dev_base(dev) + 5 * MiB, "before", 7);
	pgdax_dev_close(&dev);

	status = run_child(crash_child_shadow, NULL);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	ck_assert_int_eq(stat(aux_path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)DEV_SIZE);
	pread_exact(aux_path, buf, 12, 1 * MiB);
	ck_assert_str_eq(buf, "persisted-A");
	pread_exact(aux_path, buf, 11, 2 * MiB);
	ck_assert_mem_eq(buf, "\0\0\0\0\0\0\0\0\0\0", 11);	/* never persisted */
	pread_exact(aux_path, buf, 10, 3 * MiB);
	ck_assert_str_eq(buf, "flushed-C");
	pread_exact(aux_path, buf, 10, 4 * MiB);
	ck_assert_mem_eq(buf, "\0\0\0\0\0\0\0\0\0\0", 10);	/* drain never completed */
	pread_exact(aux_path, buf, 7, 5 * MiB);
	ck_assert_str_eq(buf, "before");
	/* the device itself saw every store (shared memory) */
	pread_exact(dev_path, buf, 11, 2 * MiB);
	ck_assert_str_eq(buf, "volatile-B");
}
END_TEST

START_TEST(test_shadow_of_sparse_device_stays_sparse)
{
	struct pgdax_dev *dev = NULL;
	struct stat st;
	char buf[8];

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, GiB, 2 * MiB), 0);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	pgdax_dev_memcpy_persist(dev, (char *)pgdax_dev_base(dev) + 700 * MiB, "sparse", 7);
	pgdax_dev_close(&dev);

	setenv("PGDAX_CRASH_SHADOW", aux_path, 1);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	ck_assert_int_eq(stat(aux_path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)GiB);
	ck_assert_int_le(st.st_blocks, 64);	/* one 4K block, not 1 GiB */
	pread_exact(aux_path, buf, 7, 700 * MiB);
	ck_assert_str_eq(buf, "sparse");
	pgdax_dev_close(&dev);
	unsetenv("PGDAX_CRASH_SHADOW");
}
END_TEST

START_TEST(test_crash_count_file_records_barriers_at_close)
{
	struct pgdax_dev *dev;
	char *base, buf[32] = "";
	FILE *f;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	setenv("PGDAX_CRASH_COUNT", aux_path, 1);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	base = pgdax_dev_base(dev);
	pgdax_dev_persist(dev, base, 1);
	pgdax_dev_drain(dev);
	pgdax_dev_memset_persist(dev, base, 0, 10);
	pgdax_dev_memcpy_persist(dev, base, "x", 1);
	pgdax_dev_flush(dev, base, 1);			/* not a barrier */
	pgdax_dev_memcpy_nodrain(dev, base, "y", 1);	/* not a barrier */
	ck_assert_int_eq(pgdax_dev_copy_guarded(dev, base, "z", 1, true), 0);
	ck_assert_uint_eq(pgdax_dev_barriers(dev), 5);
	pgdax_dev_close(&dev);
	f = fopen(aux_path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "5\n");
	unsetenv("PGDAX_CRASH_COUNT");
}
END_TEST

static void *flush_only(void *arg)
{
	struct pgdax_dev *dev = arg;
	char *base = pgdax_dev_base(dev);

	memcpy(base + 6 * MiB, "other-thread", 13);
	pgdax_dev_flush(dev, base + 6 * MiB, 13);
	return NULL;
}

START_TEST(test_drain_persists_only_the_draining_threads_flushes)
{
	struct pgdax_dev *dev = NULL;
	char buf[16], *base;
	pthread_t t;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	setenv("PGDAX_CRASH_SHADOW", aux_path, 1);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	base = pgdax_dev_base(dev);
	ck_assert_int_eq(pthread_create(&t, NULL, flush_only, dev), 0);
	pthread_join(t, NULL);
	memcpy(base + 7 * MiB, "this-thread", 12);
	pgdax_dev_flush(dev, base + 7 * MiB, 12);
	pgdax_dev_drain(dev);
	pread_exact(aux_path, buf, 12, 7 * MiB);
	ck_assert_str_eq(buf, "this-thread");
	pread_exact(aux_path, buf, 13, 6 * MiB);	/* a drain orders its own thread only */
	ck_assert_mem_eq(buf, "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13);
	pgdax_dev_close(&dev);
	unsetenv("PGDAX_CRASH_SHADOW");
}
END_TEST

START_TEST(test_reopen_keeps_shadow_without_unpersisted_bytes)
{
	struct pgdax_dev *dev = NULL;
	char buf[16], *base;

	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	setenv("PGDAX_CRASH_SHADOW", aux_path, 1);
	setenv("PGDAX_CRASH_COUNT", aux_path2, 1);
	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	base = pgdax_dev_base(dev);
	pgdax_dev_memcpy_persist(dev, base + MiB, "kept", 5);
	memcpy(base + 2 * MiB, "unpersisted", 12);	/* in the file, not durable */
	pgdax_dev_close(&dev);

	ck_assert_int_eq(pgdax_dev_open(dev_path, 0, 0, &dev), 0);
	pgdax_dev_persist(dev, (char *)pgdax_dev_base(dev) + MiB, 5);
	ck_assert_uint_eq(pgdax_dev_barriers(dev), 2);	/* process-wide */
	pgdax_dev_close(&dev);
	pread_exact(aux_path, buf, 5, MiB);
	ck_assert_str_eq(buf, "kept");
	pread_exact(aux_path, buf, 12, 2 * MiB);
	ck_assert_mem_eq(buf, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
	pread_exact(aux_path2, buf, 2, 0);
	ck_assert_mem_eq(buf, "2\n", 2);

	/* A read-only open (pgdaxctl info, fsck -n) leaves the harness files alone. */
	ck_assert_int_eq(unlink(aux_path2), 0);
	ck_assert_int_eq(pgdax_dev_open(dev_path, PGDAX_DEV_RDONLY, 0, &dev), 0);
	pgdax_dev_close(&dev);
	ck_assert_int_eq(access(aux_path2, F_OK), -1);
	unsetenv("PGDAX_CRASH_SHADOW");
	unsetenv("PGDAX_CRASH_COUNT");
}
END_TEST

START_TEST(test_barriers_are_not_counted_without_harness)
{
	struct pgdax_dev *dev = open_new(DEV_SIZE, 4096);

	pgdax_dev_persist(dev, pgdax_dev_base(dev), 1);
	ck_assert_uint_eq(pgdax_dev_barriers(dev), 0);
	pgdax_dev_close(&dev);
}
END_TEST

START_TEST(test_invalid_crash_at_fails_open_einval)
{
	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	setenv("PGDAX_CRASH_AT", "soon", 1);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -EINVAL);
	ck_assert_ptr_nonnull(strstr(logbuf, "PGDAX_CRASH_AT=soon"));
	setenv("PGDAX_CRASH_AT", "0", 1);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -EINVAL);
	unsetenv("PGDAX_CRASH_AT");
}
END_TEST

START_TEST(test_shadow_that_is_the_device_is_refused)
{
	ck_assert_int_eq(pgdax_dev_create_emulated(dev_path, DEV_SIZE, 4096), 0);
	setenv("PGDAX_CRASH_SHADOW", dev_path, 1);
	ck_assert_int_eq(open_rc(dev_path, 0, 0), -EINVAL);
	unsetenv("PGDAX_CRASH_SHADOW");
}
END_TEST

/* ------------------------------------------------------------------ log */

START_TEST(test_log_level_parses_names_and_numbers)
{
	ck_assert_int_eq(pgdax_log_parse_level("err"), LOG_ERR);
	ck_assert_int_eq(pgdax_log_parse_level("warn"), LOG_WARNING);
	ck_assert_int_eq(pgdax_log_parse_level("WARNING"), LOG_WARNING);
	ck_assert_int_eq(pgdax_log_parse_level("notice"), LOG_NOTICE);
	ck_assert_int_eq(pgdax_log_parse_level("info"), LOG_INFO);
	ck_assert_int_eq(pgdax_log_parse_level("debug"), LOG_DEBUG);
	ck_assert_int_eq(pgdax_log_parse_level("0"), 0);
	ck_assert_int_eq(pgdax_log_parse_level("7"), 7);
	ck_assert_int_eq(pgdax_log_parse_level("8"), -EINVAL);
	ck_assert_int_eq(pgdax_log_parse_level("-1"), -EINVAL);
	ck_assert_int_eq(pgdax_log_parse_level("3x"), -EINVAL);
	ck_assert_int_eq(pgdax_log_parse_level("loud"), -EINVAL);
	ck_assert_int_eq(pgdax_log_parse_level(""), -EINVAL);
	ck_assert_int_eq(pgdax_log_parse_level(NULL), -EINVAL);
}
END_TEST

static int level_from_env_child(void *arg)
{
	setenv("PGDAX_LOG", arg, 1);
	return pgdax_log_get_level();
}

START_TEST(test_log_level_starts_from_environment)
{
	int st = run_child(level_from_env_child, "debug");

	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), LOG_DEBUG);
	st = run_child(level_from_env_child, "5");
	ck_assert_int_eq(WEXITSTATUS(st), LOG_NOTICE);
	st = run_child(level_from_env_child, "bogus");	/* ignored: default err */
	ck_assert_int_eq(WEXITSTATUS(st), LOG_ERR);
}
END_TEST

START_TEST(test_log_drops_messages_above_level)
{
	pgdax_log_set_level(LOG_WARNING);
	pgdax_info("quiet %d", 1);
	pgdax_dbg("quiet %d", 2);
	pgdax_warn("loud %d", 3);
	pgdax_err("loud %d\n", 4);
	ck_assert_str_eq(logbuf, "loud 3\nloud 4\n");
	ck_assert_int_eq(pgdax_log_get_level(), LOG_WARNING);
}
END_TEST

START_TEST(test_log_default_sink_prefixes_program_name)
{
	char buf[256] = "", want[128];
	int fd, saved;

	pgdax_log_set_fn(NULL, NULL);
	fd = open(aux_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	pgdax_err("device %s is sad", "x");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_gt(pread(fd, buf, sizeof(buf) - 1, 0), 0);
	close(fd);
	snprintf(want, sizeof(want), "%s: device x is sad\n", program_invocation_short_name);
	ck_assert_str_eq(buf, want);
}
END_TEST

START_TEST(test_log_preserves_errno)
{
	errno = EXDEV;
	pgdax_err("message");
	ck_assert_int_eq(errno, EXDEV);
}
END_TEST

static void *log_thread(void *arg)
{
	int i;

	for (i = 0; i < 1000; i++)
		pgdax_err("t%ld %d", (long)(intptr_t)arg, i);
	return NULL;
}

static int counted;
static pthread_mutex_t counted_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_sink(int priority, const char *msg, void *arg)
{
	pthread_mutex_lock(&counted_lock);
	counted += !!*msg;
	pthread_mutex_unlock(&counted_lock);
}

START_TEST(test_log_is_thread_safe)
{
	pthread_t t[4];
	long i;

	pgdax_log_set_fn(count_sink, NULL);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, log_thread, (void *)i), 0);
	for (i = 0; i < 4; i++) {
		pgdax_log_set_level(i % 2 ? LOG_ERR : LOG_DEBUG);
		pthread_join(t[i], NULL);
	}
	ck_assert_int_eq(counted, 4000);
}
END_TEST

static Suite *dev_suite(void)
{
	Suite *s = suite_create("dev");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_missing_path_fails_enoent_naming_path);
	tcase_add_test(tc, test_emulated_fd_refuses_what_devdax_refuses);
	tcase_add_test(tc, test_open_directory_fails_eisdir);
	tcase_add_test(tc, test_open_char_device_that_is_not_dax_fails_enodev);
	tcase_add_test(tc, test_open_block_device_fails_enodev_with_reconfigure_hint);
	tcase_add_test(tc, test_open_fifo_fails_enodev_without_blocking);
	tcase_add_test(tc, test_open_dax_name_without_devdax_fails_enoent_naming_it);
	tcase_add_test(tc, test_open_namespace_name_without_namespace_fails_enoent_naming_it);
	tcase_add_test(tc, test_resolve_dax_name_maps_to_dev_path_when_present);
	tcase_add_test(tc, test_resolve_relative_path_gives_canonical_path);
	tcase_add_test(tc, test_resolve_names_that_only_look_like_dax_are_paths);
	tcase_add_test(tc, test_open_empty_name_fails_einval);
	tcase_add_test(tc, test_open_overlong_name_fails_enametoolong);
	tcase_add_test(tc, test_create_emulated_in_missing_directory_fails_enoent_naming_path);
	tcase_add_test(tc, test_open_file_smaller_than_16m_fails_einval);
	tcase_add_test(tc, test_open_size_not_multiple_of_alignment_fails_einval);
	tcase_add_test(tc, test_open_with_invalid_align_override_fails_einval);
	tcase_add_test(tc, test_align_xattr_of_earlier_versions_is_ignored);
	tcase_add_test(tc, test_open_without_permission_fails_eacces);
	suite_add_tcase(s, tc);

	tc = tcase_create("mapping");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip_survives_close_and_reopen);
	tcase_add_test(tc, test_persisted_stores_reach_the_file);
	tcase_add_test(tc, test_emulated_device_on_disk_filesystem_round_trips_through_msync);
	tcase_add_test(tc, test_info_reports_emulated_kind_size_name_and_flushing);
	tcase_add_test(tc, test_emulated_device_takes_the_volumes_alignment);
	tcase_add_test(tc, test_align_override_sets_emulated_alignment_at_open);
	tcase_add_test(tc, test_file_opens_at_4k_until_a_volume_says_otherwise);
	tcase_add_test(tc, test_devdax_alignment_equal_to_the_volumes_is_accepted_silently);
	tcase_add_test(tc, test_devdax_alignment_dividing_the_volumes_is_accepted_with_a_notice);
	tcase_add_test(tc, test_devdax_alignment_larger_than_the_volumes_is_refused_naming_both_fixes);
	tcase_add_test(tc, test_volume_alignment_that_is_not_4k_2m_or_1g_is_refused);
	tcase_add_test(tc, test_create_emulated_rejects_bad_alignment_and_size);
	tcase_add_test(tc, test_create_emulated_is_sparse_and_resizes);
	tcase_add_test(tc, test_readonly_open_maps_read_only);
	tcase_add_test(tc, test_close_nulls_pointer_and_is_null_safe);
	tcase_add_test(tc, test_open_failure_leaves_out_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_second_exclusive_open_fails_ebusy_naming_holder);
	tcase_add_test(tc, test_exclusive_lock_is_released_on_close);
	suite_add_tcase(s, tc);

	tc = tcase_create("guard");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_guarded_read_of_poisoned_page_returns_eio_and_records_range);
	tcase_add_test(tc, test_guarded_write_to_poisoned_page_returns_eio);
	tcase_add_test(tc, test_adjacent_bad_pages_merge_into_one_range);
	tcase_add_test(tc, test_guard_is_per_thread);
	tcase_add_test(tc, test_sigbus_outside_device_still_kills_process);
	suite_add_tcase(s, tc);

	tc = tcase_create("loss");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cut_device_file_is_noticed_without_any_access);
	tcase_add_test(tc, test_unguarded_access_to_cut_device_survives_and_fences);
	tcase_add_test(tc, test_guarded_copy_into_cut_device_reports_loss_not_media_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_crash_at_3_kills_with_sigkill_before_third_barrier);
	tcase_add_test(tc, test_shadow_holds_only_persisted_ranges_after_crash);
	tcase_add_test(tc, test_shadow_of_sparse_device_stays_sparse);
	tcase_add_test(tc, test_crash_count_file_records_barriers_at_close);
	tcase_add_test(tc, test_drain_persists_only_the_draining_threads_flushes);
	tcase_add_test(tc, test_reopen_keeps_shadow_without_unpersisted_bytes);
	tcase_add_test(tc, test_barriers_are_not_counted_without_harness);
	tcase_add_test(tc, test_invalid_crash_at_fails_open_einval);
	tcase_add_test(tc, test_shadow_that_is_the_device_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("log");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_log_level_parses_names_and_numbers);
	tcase_add_test(tc, test_log_drops_messages_above_level);
	tcase_add_test(tc, test_log_default_sink_prefixes_program_name);
	tcase_add_test(tc, test_log_preserves_errno);
	tcase_add_test(tc, test_log_is_thread_safe);
	suite_add_tcase(s, tc);

	/* No fixture: the fixture sets the level, which must not happen before this test. */
	tc = tcase_create("log-env");
	tcase_add_test(tc, test_log_level_starts_from_environment);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dev_suite());
	int failed;

	/* Tests set environment variables, fork, kill and fault: isolate each one. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
