/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the DAX client library (lib/client/client.c) and of the parts of
 * the daemon-side pin table that need no mounted volume (lib/pin/pin.c): the
 * ioctl ABI's shape, argument checking on both sides, and the device
 * permission rule. What needs a daemon is in the tests/ scripts.
 */
#include "client/pgdax.h"	/* first: the public header stands alone */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pin/pgdax_ioctl.h"
#include "pin/pin.h"

static char tmpfile_path[64];
static int tmpfd = -1;

static void setup_tmpfile(void)
{
	strcpy(tmpfile_path, "/tmp/check_client.XXXXXX");
	tmpfd = mkstemp(tmpfile_path);
	ck_assert_int_ge(tmpfd, 0);
	ck_assert_int_eq(ftruncate(tmpfd, 1 << 20), 0);
}

static void teardown_tmpfile(void)
{
	if (tmpfd >= 0)
		close(tmpfd);
	unlink(tmpfile_path);
	tmpfd = -1;
}

/* ---- ABI ---------------------------------------------------------------- */

START_TEST(test_ioctl_sizes_are_encoded_in_command_numbers)
{
	/* FUSE copies exactly _IOC_SIZE(cmd) bytes each way: the numbers
	 * must describe the structures, within the 14-bit size field. */
	ck_assert_uint_eq(_IOC_SIZE(PGDAX_IOC_INFO), sizeof(struct pgdax_ioc_info));
	ck_assert_uint_eq(_IOC_SIZE(PGDAX_IOC_PIN), sizeof(struct pgdax_ioc_pin));
	ck_assert_uint_eq(_IOC_SIZE(PGDAX_IOC_PIN_EXTENTS),
			  sizeof(struct pgdax_ioc_pin_extents));
	ck_assert_uint_eq(_IOC_SIZE(PGDAX_IOC_UNPIN), sizeof(struct pgdax_ioc_unpin));
	ck_assert_uint_eq(_IOC_SIZE(PGDAX_IOC_SYNC), sizeof(struct pgdax_ioc_sync));
	ck_assert_uint_eq(_IOC_SIZE(PGDAX_IOC_STATUS), sizeof(struct pgdax_ioc_status));
	ck_assert_uint_eq(_IOC_DIR(PGDAX_IOC_INFO), _IOC_READ);
	ck_assert_uint_eq(_IOC_DIR(PGDAX_IOC_PIN), _IOC_READ | _IOC_WRITE);
	ck_assert_uint_eq(_IOC_DIR(PGDAX_IOC_UNPIN), _IOC_WRITE);
	ck_assert_uint_eq(_IOC_DIR(PGDAX_IOC_STATUS), _IOC_READ | _IOC_WRITE);
	/* distinct numbers */
	ck_assert_uint_ne(_IOC_NR(PGDAX_IOC_PIN), _IOC_NR(PGDAX_IOC_PIN_EXTENTS));
}
END_TEST

/* ---- client argument checking ------------------------------------------ */

START_TEST(test_map_rejects_bad_arguments_without_touching_fd)
{
	struct pgdax_mapping *m = (void *)1;

	ck_assert_int_eq(pgdax_map(tmpfd, 0, 0, PROT_READ, &m), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(pgdax_map(tmpfd, -1, 4096, PROT_READ, &m), -EINVAL);
	ck_assert_int_eq(pgdax_map(tmpfd, 0, 4096, PROT_EXEC | PROT_READ, &m), -EINVAL);
	ck_assert_int_eq(pgdax_map(tmpfd, 0, 4096, PROT_WRITE, &m), -EINVAL);
	ck_assert_int_eq(pgdax_map(tmpfd, INT64_MAX, 2, PROT_READ, &m), -EINVAL);
	ck_assert_int_eq(pgdax_map(tmpfd, 0, SIZE_MAX, PROT_READ, &m), -EINVAL);
	ck_assert_int_eq(pgdax_map(tmpfd, 0, 4096, PROT_READ, NULL), -EINVAL);
}
END_TEST

START_TEST(test_map_of_file_outside_pgdaxfs_is_enotty)
{
	struct pgdax_mapping *m = NULL;
	struct pgdax_pin *p = NULL;
	int before = errno = 1234;

	ck_assert_int_eq(pgdax_map(tmpfd, 0, 4096, PROT_READ, &m), -ENOTTY);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(pgdax_pin(tmpfd, 0, 4096, 0, &p), -ENOTTY);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(pgdax_sync(tmpfd, 0, 0), -ENOTTY);
	ck_assert_int_eq(errno, before);	/* the API leaves errno alone */
}
END_TEST

START_TEST(test_map_of_closed_descriptor_is_ebadf)
{
	struct pgdax_mapping *m = NULL;
	int fd = dup(tmpfd);

	close(fd);
	ck_assert_int_eq(pgdax_map(fd, 0, 4096, PROT_READ, &m), -EBADF);
	ck_assert_int_eq(pgdax_pin(-1, 0, 4096, 0, NULL), -EINVAL);
}
END_TEST

START_TEST(test_no_descriptor_leaks_on_failed_map)
{
	struct pgdax_mapping *m = NULL;
	int probe, probe2;

	probe = dup(0);
	close(probe);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(pgdax_map(tmpfd, 0, 4096, PROT_READ, &m), -ENOTTY);
	probe2 = dup(0);
	close(probe2);
	ck_assert_int_eq(probe, probe2);
}
END_TEST

START_TEST(test_unmap_and_unpin_of_null_are_noops)
{
	struct pgdax_mapping *m = NULL;
	struct pgdax_pin *p = NULL;
	unsigned n = 7;

	ck_assert_int_eq(pgdax_unmap(&m), 0);
	ck_assert_int_eq(pgdax_unmap(NULL), 0);
	ck_assert_int_eq(pgdax_unpin(&p), 0);
	ck_assert_int_eq(pgdax_unpin(NULL), 0);
	ck_assert_ptr_null(pgdax_mapping_addr(NULL));
	ck_assert_ptr_null(pgdax_pin_extents(NULL, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(pgdax_mapping_sync(NULL, 0, 0), -EINVAL);
}
END_TEST

/* ---- device permission rule (daemon side) ------------------------------ */

static struct pgdax_pin_caller caller(uid_t uid, gid_t gid, const gid_t *groups, int n)
{
	struct pgdax_pin_caller c = {
		.uid = uid, .gid = gid, .pid = 1, .groups = groups, .ngroups = n,
	};
	return c;
}

START_TEST(test_root_may_pin_whatever_the_device_mode)
{
	struct pgdax_pin_caller c = caller(0, 0, NULL, 0);

	ck_assert_int_eq(fchmod(tmpfd, 0), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &c, true), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &c, false), 0);
}
END_TEST

START_TEST(test_other_user_needs_other_bits_of_device)
{
	struct pgdax_pin_caller c = caller(4242, 4242, NULL, 0);

	ck_assert_int_eq(fchown(tmpfd, 0, 0), 0);
	ck_assert_int_eq(fchmod(tmpfd, 0600), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &c, false), -EACCES);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &c, true), -EACCES);
	ck_assert_int_eq(fchmod(tmpfd, 0604), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &c, false), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &c, true), -EACCES);
	ck_assert_int_eq(fchmod(tmpfd, 0606), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &c, true), 0);
}
END_TEST

START_TEST(test_group_bits_apply_to_supplementary_groups)
{
	gid_t groups[] = { 10, 777, 20 };
	struct pgdax_pin_caller in = caller(4242, 4242, groups, 3);
	struct pgdax_pin_caller out = caller(4242, 4242, groups, 1);

	ck_assert_int_eq(fchown(tmpfd, 0, 777), 0);
	ck_assert_int_eq(fchmod(tmpfd, 0640), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &in, false), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &in, true), -EACCES);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &out, false), -EACCES);
	/* the owner class decides for the owner even if group bits allow more */
	ck_assert_int_eq(fchown(tmpfd, 4242, 777), 0);
	ck_assert_int_eq(fchmod(tmpfd, 0060), 0);
	ck_assert_int_eq(pgdax_pintab_may_access_device(tmpfile_path, &in, false), -EACCES);
}
END_TEST

START_TEST(test_missing_device_node_is_reported)
{
	struct pgdax_pin_caller c = caller(0, 0, NULL, 0);

	ck_assert_int_eq(pgdax_pintab_may_access_device("/nonexistent/dax9.9", &c, false),
			 -ENOENT);
	ck_assert_int_eq(pgdax_pintab_may_access_device(NULL, &c, false), -EINVAL);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc;

	tc = tcase_create("abi");
	tcase_add_test(tc, test_ioctl_sizes_are_encoded_in_command_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("arguments");
	tcase_add_checked_fixture(tc, setup_tmpfile, teardown_tmpfile);
	tcase_add_test(tc, test_map_rejects_bad_arguments_without_touching_fd);
	tcase_add_test(tc, test_map_of_file_outside_pgdaxfs_is_enotty);
	tcase_add_test(tc, test_map_of_closed_descriptor_is_ebadf);
	tcase_add_test(tc, test_no_descriptor_leaks_on_failed_map);
	tcase_add_test(tc, test_unmap_and_unpin_of_null_are_noops);
	suite_add_tcase(s, tc);

	tc = tcase_create("device_permission");
	tcase_add_checked_fixture(tc, setup_tmpfile, teardown_tmpfile);
	tcase_add_test(tc, test_root_may_pin_whatever_the_device_mode);
	tcase_add_test(tc, test_other_user_needs_other_bits_of_device);
	tcase_add_test(tc, test_group_bits_apply_to_supplementary_groups);
	tcase_add_test(tc, test_missing_device_node_is_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
