/* SPDX-License-Identifier: MIT */
/*
 * Header hygiene (house rule 9): every lib/<layer>/<name>.h compiles on its own
 * (nothing included before it) and twice (include guard).
 *
 * Two layers:
 *  - build time: each tests/check_headers_<name>.c includes one header
 *    alone and is linked into this program, so a listed header that breaks
 *    fails the build of `make check`;
 *  - run time: the test below compiles every lib/<layer>/<name>.h found in the source
 *    tree (including headers added after the list was written) with the
 *    same compiler and -Werror, so nobody has to remember to add a file.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifndef HDR_CC
#define HDR_CC "cc"
#endif
#ifndef HDR_CFLAGS
#define HDR_CFLAGS ""
#endif

extern const char *const __start_pgdax_hdrs[];
extern const char *const __stop_pgdax_hdrs[];

/*
 * Headers known not to compile alone yet, each with the reason. Their
 * check_headers_<name>.c stays out of tests/dev.am until the header is
 * fixed; then delete the entry here and add the file there. Empty now.
 */
static const char *const pending[] = {
	NULL,
};

static bool is_pending(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(pending) / sizeof(pending[0]); i++)
		if (pending[i] && !strcmp(pending[i], name))
			return true;
	return false;
}

/* 0 when lib/<name> (layer/file.h) compiles alone (and twice) with -Werror. */
static int compile_alone(const char *top, const char *name, char *err, size_t errlen)
{
	char cmd[8192], out[64] = "/tmp/pgdax-hdr-XXXXXX";
	FILE *p, *f;
	int fd, st;
	size_t n;

	fd = mkstemp(out);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "%s -std=gnu11 -Wall -Wextra -Werror %s -I'%s/lib' -fsyntax-only -x c - >'%s' 2>&1",
		 HDR_CC, HDR_CFLAGS, top, out);
	p = popen(cmd, "w");
	if (!p) {
		unlink(out);
		return -1;
	}
	fprintf(p, "#include \"%s\"\n#include \"%s\"\nint pgdax_hdr_check;\n", name, name);
	st = pclose(p);
	err[0] = '\0';
	f = fopen(out, "r");
	if (f) {
		n = fread(err, 1, errlen - 1, f);
		err[n] = '\0';
		fclose(f);
	}
	unlink(out);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* Compile every header of folder lib/@layer alone; count them in *n. */
static void check_folder(const char *top, const char *layer, int *n,
			 char *failed, size_t failedlen)
{
	char dir[4096], name[512], err[2048];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/lib/%s", top, layer);
	d = opendir(dir);
	if (!d)
		return;		/* a file, not a layer folder */
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 3 || strcmp(de->d_name + len - 2, ".h"))
			continue;
		snprintf(name, sizeof(name), "%s/%s", layer, de->d_name);
		if (is_pending(name))
			continue;
		(*n)++;
		if (compile_alone(top, name, err, sizeof(err))) {
			fprintf(stderr, "lib/%s does not compile on its own:\n%s\n", name, err);
			strncat(failed, " ", failedlen - strlen(failed) - 1);
			strncat(failed, name, failedlen - strlen(failed) - 1);
		}
	}
	closedir(d);
}

START_TEST(test_every_lib_header_compiles_alone)
{
	const char *top = getenv("top_srcdir");
	char dir[4096], failed[4096] = "";
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (!top)
		top = ".";
	snprintf(dir, sizeof(dir), "%s/lib", top);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s (set top_srcdir)", dir);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			check_folder(top, de->d_name, &n, failed, sizeof(failed));
	closedir(d);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(!*failed, "headers that do not compile alone:%s", failed);
}
END_TEST

START_TEST(test_listed_standalone_units_were_built)
{
	const char *const *p;
	int n = 0;

	for (p = __start_pgdax_hdrs; p < __stop_pgdax_hdrs; p++, n++)
		ck_assert_msg(!is_pending(*p), "%s is pending but its unit is built", *p);
	ck_assert_int_ge(n, 5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("headers");
	TCase *tc = tcase_create("standalone");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_every_lib_header_compiles_alone);
	tcase_add_test(tc, test_listed_standalone_units_were_built);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
