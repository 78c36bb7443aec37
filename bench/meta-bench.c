// SPDX-License-Identifier: MIT
/*
 * bench/meta-bench.c: metadata throughput of a mounted filesystem.
 *
 *   meta-bench [-n FILES] [-s SIZES] [-k SAMPLES] [-w MS] [-d] DIR
 *
 * In a fresh subdirectory of DIR it
 *   1. creates FILES empty files (open O_CREAT|O_EXCL + close), stats each
 *      one by name, unlinks each one, and prints
 *        create_per_s=X stat_per_s=Y unlink_per_s=Z files=N
 *   2. for each directory size in SIZES (comma list, default 1000,10000,
 *      100000), fills one directory up to that many entries and times
 *      SAMPLES lookups: stat(2) of existing names picked at random after
 *      dropping the kernel's dentry cache and/or waiting past the FUSE
 *      entry timeout (-w MS), each name looked up once (-d: writes 2 to
 *      /proc/sys/vm/drop_caches, so every lookup reaches the filesystem;
 *      without -d the figure is the cached one), and stat(2) of names that
 *      do not exist (never looked up before, so they always reach the
 *      filesystem). It prints one line per size, medians of the per-call
 *      times and then the means:
 *        lookup_entries=N lookup_us=X neg_lookup_us=Y lookup_mean_us=.. neg_lookup_mean_us=..
 *
 * Times are wall clock (CLOCK_MONOTONIC). Everything it creates is removed
 * before it exits (also on error, best effort). It is a measuring tool, not
 * a test: it asserts nothing but that each call succeeds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "meta-bench";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* dir is at most 2047 bytes (see main), buf 4096: no truncation. */
static void name_of(char *buf, size_t len, const char *dir, unsigned long i)
{
	snprintf(buf, len, "%.2047s/f%08lu", dir, i % 100000000UL);
}

/* Create files [from, to) in dir. Returns 0 or -errno. */
static int create_range(const char *dir, unsigned long from, unsigned long to)
{
	char path[4096];

	for (unsigned long i = from; i < to; i++) {
		name_of(path, sizeof(path), dir, i);
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);

		if (fd < 0) {
			int e = errno;

			fprintf(stderr, "%s: create %s: %s\n", prog, path, strerror(e));
			return -e;
		}
		close(fd);
	}
	return 0;
}

static int stat_range(const char *dir, unsigned long from, unsigned long to)
{
	char path[4096];
	struct stat st;

	for (unsigned long i = from; i < to; i++) {
		name_of(path, sizeof(path), dir, i);
		if (stat(path, &st) < 0) {
			int e = errno;

			fprintf(stderr, "%s: stat %s: %s\n", prog, path, strerror(e));
			return -e;
		}
	}
	return 0;
}

/* Unlink [from, to); quiet about names already gone when best_effort. */
static int unlink_range(const char *dir, unsigned long from, unsigned long to,
			int best_effort)
{
	char path[4096];

	for (unsigned long i = from; i < to; i++) {
		name_of(path, sizeof(path), dir, i);
		if (unlink(path) < 0 && !best_effort) {
			int e = errno;

			fprintf(stderr, "%s: unlink %s: %s\n", prog, path, strerror(e));
			return -e;
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, unsigned long n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int drop_dentries(unsigned long entries)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0)
		return -errno;
	sync();
	int r = write(fd, "2", 1) == 1 ? 0 : -errno;

	close(fd);
	/* The kernel queues one FORGET per dropped inode: let the
	 * filesystem digest them before the clock starts. */
	usleep(500000 + 10 * entries);
	return r;
}

static unsigned long parse_ul(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);

	if (errno || end == s || (*end && *end != ',') || v == 0) {
		fprintf(stderr, "%s: bad %s '%s': want a positive integer\n", prog, what, s);
		exit(2);
	}
	return v;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-n FILES] [-s SIZES] [-k SAMPLES] [-w MS] [-d] DIR\n"
		"  -n FILES    files for the create/stat/unlink pass (default 20000)\n"
		"  -s SIZES    directory sizes for lookup timing, comma list (default 1000,10000,100000;\n"
		"              \"0\" skips the lookup pass)\n"
		"  -k SAMPLES  lookups timed per size (default 2000)\n"
		"  -d          drop the kernel dentry cache before timing lookups (needs root)\n"
		"  -w MS       wait MS ms before timing lookups (past a FUSE entry timeout, every\n"
		"              cached entry must be revalidated by a LOOKUP)\n",
		prog);
}

int main(int argc, char **argv)
{
	unsigned long n = 20000, samples = 2000, wait_ms = 0;
	unsigned long sizes[16];
	int nsizes = 0, drop = 0, opt, rc = 1;
	const char *size_list = "1000,10000,100000";

	while ((opt = getopt(argc, argv, "n:s:k:w:dh")) != -1) {
		switch (opt) {
		case 'w': wait_ms = parse_ul(optarg, "wait"); break;
		case 'n': n = parse_ul(optarg, "file count"); break;
		case 's': size_list = optarg; break;
		case 'k': samples = parse_ul(optarg, "sample count"); break;
		case 'd': drop = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(size_list, "0")) {
		for (const char *p = size_list; p && *p; ) {
			if (nsizes == 16) {
				fprintf(stderr, "%s: at most 16 sizes\n", prog);
				return 2;
			}
			sizes[nsizes++] = parse_ul(p, "directory size");
			p = strchr(p, ',');
			if (p)
				p++;
		}
		for (int i = 1; i < nsizes; i++) {
			if (sizes[i] <= sizes[i - 1]) {
				fprintf(stderr, "%s: sizes must increase\n", prog);
				return 2;
			}
		}
	}

	char dir[2048];

	if (strlen(argv[optind]) > 1900) {
		fprintf(stderr, "%s: directory name too long\n", prog);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/meta-bench.%d", argv[optind], (int)getpid());
	if (mkdir(dir, 0755) < 0) {
		fprintf(stderr, "%s: mkdir %s: %s\n", prog, dir, strerror(errno));
		return 1;
	}

	/* Pass 1: create / stat / unlink throughput. */
	double t0 = now_s();

	if (create_range(dir, 0, n))
		goto out_unlink_n;
	double t1 = now_s();

	if (stat_range(dir, 0, n))
		goto out_unlink_n;
	double t2 = now_s();

	if (unlink_range(dir, 0, n, 0))
		goto out_unlink_n;
	double t3 = now_s();

	printf("create_per_s=%.0f stat_per_s=%.0f unlink_per_s=%.0f files=%lu\n",
	       n / (t1 - t0), n / (t2 - t1), n / (t3 - t2), n);
	fflush(stdout);

	/* Pass 2: lookup time against directory size. */
	unsigned long have = 0, neg = 0;
	double *lat_pos = calloc(samples, sizeof(double));
	double *lat_neg = calloc(samples, sizeof(double));

	if (!lat_pos || !lat_neg) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out_unlink_have;
	}

	srand(12345);
	for (int s = 0; s < nsizes; s++) {
		if (create_range(dir, have, sizes[s]))
			goto out_unlink_have;
		have = sizes[s];
		if (drop && drop_dentries(have) < 0)
			fprintf(stderr, "%s: drop_caches: %s (figures are cached lookups)\n",
				prog, strerror(errno));

		char path[4096];
		struct stat st;
		double sum_pos = 0, sum_neg = 0;

		/* Distinct names (a stride coprime with have), so no sample is
		 * answered by the dentry a previous sample brought in. */
		unsigned long stride = have % 7919UL ? 7919UL : 7907UL;
		unsigned long start = (unsigned long)rand() % have;
		unsigned long ns = samples < have ? samples : have;

		if (wait_ms)
			usleep((useconds_t)wait_ms * 1000);
		for (unsigned long k = 0; k < ns; k++) {
			unsigned long i = (start + k * stride) % have;

			name_of(path, sizeof(path), dir, i);
			double a = now_s();

			if (stat(path, &st) < 0) {
				fprintf(stderr, "%s: stat %s: %s\n", prog, path, strerror(errno));
				goto out_unlink_have;
			}
			lat_pos[k] = now_s() - a;
			sum_pos += lat_pos[k];
		}
		for (unsigned long k = 0; k < ns; k++, neg++) {
			snprintf(path, sizeof(path), "%.2047s/absent%09lu", dir, neg % 1000000000UL);
			double a = now_s();

			if (stat(path, &st) == 0 || errno != ENOENT) {
				fprintf(stderr, "%s: stat %s: expected ENOENT, got %s\n", prog,
					path, strerror(errno));
				goto out_unlink_have;
			}
			lat_neg[k] = now_s() - a;
			sum_neg += lat_neg[k];
		}
		/* Medians: on a shared machine the means carry preemption outliers. */
		printf("lookup_entries=%lu lookup_us=%.2f neg_lookup_us=%.2f "
		       "lookup_mean_us=%.2f neg_lookup_mean_us=%.2f%s\n", have,
		       1e6 * median(lat_pos, ns), 1e6 * median(lat_neg, ns),
		       1e6 * sum_pos / ns, 1e6 * sum_neg / ns,
		       drop ? "" : " (dentry cache not dropped)");
		fflush(stdout);
	}
	rc = 0;
out_unlink_have:
	free(lat_pos);
	free(lat_neg);
	unlink_range(dir, 0, have, 1);
	goto out_rmdir;
out_unlink_n:
	unlink_range(dir, 0, n, 1);
out_rmdir:
	if (rmdir(dir) < 0) {
		fprintf(stderr, "%s: rmdir %s: %s\n", prog, dir, strerror(errno));
		rc = 1;
	}
	return rc;
}
