/* SPDX-License-Identifier: MIT */
/*
 * bench/mixed-ops: mixed small operations on one file, timed (issue 19).
 *
 *   mixed-ops mixed  FILE [-s SEED] [-n OPS] [-m MAXSIZE] [-f]
 *       a seeded random sequence of pread/pwrite/ftruncate/fallocate
 *       (plain and KEEP_SIZE)/punch-hole/zero-range/mmap read/mmap write
 *       on FILE, fsx-like: every read is compared with an in-memory model
 *       of the file, and the whole file at the end, so it is a correctness
 *       test as well as a benchmark (exit 1 on the first mismatch, with
 *       the op number and the log of the last ops). -f: the
 *       fallocate-heavy mix (fallocate/punch/zero/truncate + reads).
 *       -Z: no zero-range (tmpfs has none: a filesystem that refuses it
 *       gets it skipped from then on, as fsx does; the line says so, and
 *       a comparison runs both sides with -Z).
 *   mixed-ops append FILE [-n N] [-b BYTES] [-p]
 *       N writes of BYTES each at the end of FILE: with O_APPEND, or (-p)
 *       pwrite at the tracked end of a file opened without it.
 *   mixed-ops falloc FILE -b BYTES
 *       one fallocate(FILE, 0, 0, BYTES) on a new file.
 *
 * Prints one line "mode=... ops=N secs=S" (plus the seed for mixed).
 * Deterministic for a seed: the sequence does not depend on timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static int fd = -1;
static unsigned char *model;	/* the file as it must read */
static uint64_t fsize;		/* its size */
static uint64_t maxsize = 4u << 20;
static uint64_t rng;
static unsigned char *buf;
static bool no_zero;		/* -Z, or the filesystem refused ZERO_RANGE */

#define MAXIO	(128u << 10)
#define LOGN	32
static char oplog[LOGN][96];
static unsigned long opno;

static uint64_t rnd(void)	/* xorshift64*: same sequence everywhere */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void logop(const char *fmt, unsigned long long a, unsigned long long b)
{
	snprintf(oplog[opno % LOGN], sizeof(oplog[0]), "%lu: ", opno);
	size_t l = strlen(oplog[opno % LOGN]);
	snprintf(oplog[opno % LOGN] + l, sizeof(oplog[0]) - l, fmt, a, b);
}

static void die(const char *what)
{
	fprintf(stderr, "mixed-ops: op %lu: %s (%s); last ops:\n", opno, what, strerror(errno));
	for (unsigned long i = opno >= LOGN ? opno - LOGN + 1 : 0; i <= opno; i++)
		fprintf(stderr, "  %s\n", oplog[i % LOGN]);
	exit(1);
}

static void compare(const unsigned char *got, uint64_t off, uint64_t len, const char *how)
{
	if (!memcmp(got, model + off, len))
		return;
	for (uint64_t i = 0; i < len; i++)
		if (got[i] != model[off + i]) {
			fprintf(stderr, "mixed-ops: %s mismatch at byte %llu: got %#x, want %#x\n",
				how, (unsigned long long)(off + i), got[i], model[off + i]);
			break;
		}
	errno = 0;
	die("contents differ from the model");
}

/* Pick [off, off + len) inside [0, limit), len <= MAXIO (0 if limit 0). */
static void range(uint64_t limit, uint64_t *off, uint64_t *len)
{
	*off = below(limit);
	uint64_t l = 1 + below(rnd() & 1 ? 4096 : MAXIO);
	*len = l > limit - *off ? limit - *off : l;
}

static void op_read(void)
{
	uint64_t off, len;
	range(fsize + 4096, &off, &len);	/* sometimes past EOF */
	logop("read %llu+%llu", off, len);
	ssize_t r = pread(fd, buf, len, (off_t)off);
	uint64_t want = off >= fsize ? 0 : (fsize - off < len ? fsize - off : len);
	if (r < 0 || (uint64_t)r != want)
		die("short read");
	compare(buf, off, want, "read");
}

static void set_size(uint64_t n)
{
	if (n > fsize)
		memset(model + fsize, 0, n - fsize);
	fsize = n;
}

static void op_write(void)
{
	uint64_t off, len;
	range(maxsize, &off, &len);
	logop("write %llu+%llu", off, len);
	for (uint64_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(rnd() >> 56) | 1;
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		die("pwrite");
	if (off + len > fsize)
		set_size(off + len);
	memcpy(model + off, buf, len);
}

static void op_truncate(void)
{
	uint64_t n = below(maxsize);
	if (rnd() & 1)
		n &= ~4095ULL;
	logop("truncate %llu (%llu)", n, fsize);
	if (ftruncate(fd, (off_t)n))
		die("ftruncate");
	if (n < fsize)
		memset(model + n, 0, fsize - n);
	set_size(n);
}

static void op_fallocate(int mode)
{
	uint64_t off, len;
	range(maxsize, &off, &len);
	if (!len || (mode == FALLOC_FL_ZERO_RANGE && no_zero))
		return;
	logop(mode == FALLOC_FL_PUNCH_HOLE ? "punch %llu+%llu" :
	      mode == FALLOC_FL_ZERO_RANGE ? "zero %llu+%llu" : "fallocate %llu+%llu", off, len);
	bool keep = (mode & FALLOC_FL_PUNCH_HOLE) || (rnd() & 1);
	if (keep)
		mode |= FALLOC_FL_KEEP_SIZE;
	if (fallocate(fd, mode, (off_t)off, (off_t)len)) {
		if (errno == EOPNOTSUPP && (mode & FALLOC_FL_ZERO_RANGE)) {
			no_zero = true;	/* (tmpfs): fsx skips it too */
			return;
		}
		die("fallocate");
	}
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint64_t e = off + len < fsize ? off + len : fsize;
		if (off < e)
			memset(model + off, 0, e - off);
	}
	if (!keep && off + len > fsize)
		set_size(off + len);
}

static void op_mmap(bool wr)
{
	if (!fsize)
		return;
	uint64_t off, len;
	range(fsize, &off, &len);
	logop(wr ? "mapwrite %llu+%llu" : "mapread %llu+%llu", off, len);
	uint64_t moff = off & ~4095ULL, mlen = off + len - moff;
	unsigned char *p = mmap(NULL, mlen, wr ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
				fd, (off_t)moff);
	if (p == MAP_FAILED)
		die("mmap");
	if (wr) {
		for (uint64_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(rnd() >> 56) | 1;
		memcpy(p + (off - moff), buf, len);
		memcpy(model + off, buf, len);
		if (msync(p, mlen, MS_SYNC))
			die("msync");
	} else {
		compare(p + (off - moff), off, len, "mmap read");
	}
	munmap(p, mlen);
}

static void verify_all(void)
{
	struct stat st;
	if (fstat(fd, &st) || (uint64_t)st.st_size != fsize) {
		fprintf(stderr, "mixed-ops: size %lld, want %llu\n", (long long)st.st_size,
			(unsigned long long)fsize);
		die("size differs from the model");
	}
	for (uint64_t off = 0; off < fsize; off += MAXIO) {
		uint64_t len = fsize - off < MAXIO ? fsize - off : MAXIO;
		if (pread(fd, buf, len, (off_t)off) != (ssize_t)len)
			die("short read (final check)");
		compare(buf, off, len, "final read");
	}
}

static int run_mixed(unsigned long n, uint64_t seed, bool falloc_heavy)
{
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	model = calloc(1, maxsize + MAXIO + 4096);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!model || fd < 0)
		die("setup");
	double t0 = now();
	for (opno = 0; opno < n; opno++) {
		unsigned k = (unsigned)below(100);
		if (falloc_heavy) {
			if (k < 20) op_fallocate(0);
			else if (k < 40) op_fallocate(FALLOC_FL_PUNCH_HOLE);
			else if (k < 60) op_fallocate(FALLOC_FL_ZERO_RANGE);
			else if (k < 70) op_truncate();
			else if (k < 80) op_write();
			else op_read();
		} else {
			if (k < 25) op_read();
			else if (k < 50) op_write();
			else if (k < 55) op_truncate();
			else if (k < 63) op_fallocate(0);
			else if (k < 71) op_fallocate(FALLOC_FL_PUNCH_HOLE);
			else if (k < 79) op_fallocate(FALLOC_FL_ZERO_RANGE);
			else if (k < 90) op_mmap(false);
			else op_mmap(true);
		}
	}
	verify_all();
	double t = now() - t0;
	printf("mode=%s seed=%llu ops=%lu maxsize=%llu zero_range=%s secs=%.3f\n",
	       falloc_heavy ? "falloc-heavy" : "mixed", (unsigned long long)seed, n,
	       (unsigned long long)maxsize, no_zero ? "no" : "yes", t);
	close(fd);
	return 0;
}

static int run_append(unsigned long n, size_t bytes, bool pw)
{
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (pw ? 0 : O_APPEND), 0644);
	if (fd < 0)
		die("open");
	memset(buf, 'a', bytes);
	double t0 = now();
	for (opno = 0; opno < n; opno++) {
		ssize_t w = pw ? pwrite(fd, buf, bytes, (off_t)(opno * bytes)) : write(fd, buf, bytes);
		if (w != (ssize_t)bytes)
			die("write");
	}
	double t = now() - t0;
	struct stat st;
	if (fstat(fd, &st) || (uint64_t)st.st_size != n * bytes)
		die("final size");
	printf("mode=%s ops=%lu bytes=%zu secs=%.3f\n", pw ? "pwrite-at-end" : "o_append",
	       n, bytes, t);
	close(fd);
	return 0;
}

static int run_falloc(uint64_t bytes)
{
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	double t0 = now();
	if (fallocate(fd, 0, 0, (off_t)bytes))
		die("fallocate");
	double t = now() - t0;
	printf("mode=falloc bytes=%llu ops=1 secs=%.3f\n", (unsigned long long)bytes, t);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 0;
	uint64_t seed = 1, bytes = 0;
	bool f = false, p = false;
	int c;

	if (argc < 3) {
		fprintf(stderr, "usage: mixed-ops mixed|append|falloc FILE [options]\n");
		return 2;
	}
	const char *mode = argv[1];
	path = argv[2];
	optind = 3;
	while ((c = getopt(argc, argv, "s:n:m:b:fpZ")) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 'm': maxsize = strtoull(optarg, NULL, 0); break;
		case 'b': bytes = strtoull(optarg, NULL, 0); break;
		case 'f': f = true; break;
		case 'p': p = true; break;
		case 'Z': no_zero = true; break;
		default: return 2;
		}
	}
	buf = malloc(MAXIO + 4096);
	if (!buf)
		return 1;
	if (!strcmp(mode, "mixed"))
		return run_mixed(n ? n : 10000, seed, f);
	if (!strcmp(mode, "append"))
		return run_append(n ? n : 100000, bytes ? bytes : 100, p);
	if (!strcmp(mode, "falloc"))
		return run_falloc(bytes ? bytes : (1ULL << 30));
	fprintf(stderr, "mixed-ops: unknown mode %s\n", mode);
	return 2;
}
