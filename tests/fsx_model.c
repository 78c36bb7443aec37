/* SPDX-License-Identifier: MIT */
/*
 * fsx_model FILE [-n OPS] [-s SEED] [-m MAXSIZE] [-q]
 *
 * Model-based data integrity test in the spirit of fsx: random writes,
 * reads, truncates, hole punches, zero ranges, fallocates, copy_file_range
 * within the file, mmap reads and mmap writes, fsyncs and reopens, each
 * applied to FILE and to an in-memory model; every read (and a full
 * comparison every 1000 ops and at the end) is checked byte for byte. On a
 * mismatch it prints the seed, the op number, the first differing offset
 * and the last ops, and exits 1, so `fsx_model FILE -s SEED -n N` replays it.
 * Operations the filesystem does not support (EOPNOTSUPP) are dropped from
 * the mix after the first refusal and reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum op { OP_WRITE, OP_READ, OP_TRUNC, OP_PUNCH, OP_ZERO, OP_FALLOC, OP_COPY, OP_MREAD,
	  OP_MWRITE, OP_FSYNC, OP_REOPEN, OP_NR };
static const char *const opname[OP_NR] = { "write", "read", "truncate", "punch", "zero",
	"fallocate", "copy", "mapread", "mapwrite", "fsync", "reopen" };
static const int weight[OP_NR] = { 30, 25, 6, 6, 5, 4, 5, 7, 7, 2, 1 };

static uint64_t seed, rng;
static char *path;
static int fd = -1;
static unsigned char *model, *buf, *buf2;
static size_t msize, maxsize = 16u << 20;
static long opno;
static bool disabled[OP_NR];
static long counts[OP_NR];
static bool quiet;
static long pagesz;

#define LOGN 32
static char oplog[LOGN][96];

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* Offsets and lengths: mostly unaligned, sometimes page aligned, sometimes
 * tiny, so both extent boundaries and odd sizes get exercised. */
static size_t rnd_len(size_t max)
{
	size_t l;

	switch (rnd_below(4)) {
	case 0: l = 1 + rnd_below(64); break;
	case 1: l = ((1 + rnd_below(64)) * 4096); break;
	default: l = 1 + rnd_below(256 * 1024); break;
	}
	return l > max ? max : l;
}

static size_t rnd_off(size_t max)
{
	size_t o = rnd_below(max + 1);

	if (rnd_below(3) == 0)
		o &= ~(size_t)4095;
	return o;
}

static void logop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logop(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(oplog[opno % LOGN], sizeof(oplog[0]), fmt, ap);
	va_end(ap);
}

static void dump_and_die(const char *why, size_t off, int exp, int got)
{
	fprintf(stderr, "fsx_model: FAIL at op %ld (seed %" PRIu64 "): %s", opno, seed, why);
	if (exp >= 0)
		fprintf(stderr, " at offset %zu (0x%zx): expected 0x%02x got 0x%02x", off, off,
			exp, got);
	fprintf(stderr, "\nfile size model %zu\nlast ops:\n", msize);
	for (long i = opno - LOGN + 1; i <= opno; i++)
		if (i >= 0)
			fprintf(stderr, "  %6ld %s\n", i, oplog[i % LOGN]);
	fprintf(stderr, "replay: fsx_model %s -s %" PRIu64 " -n %ld -m %zu\n", path, seed,
		opno + 1, maxsize);
	exit(1);
}

static void die_errno(const char *what)
{
	char m[160];

	snprintf(m, sizeof(m), "%s: %s", what, strerror(errno));
	dump_and_die(m, 0, -1, -1);
}

static void check(const unsigned char *got, size_t off, size_t len, const char *what)
{
	if (memcmp(got, model + off, len) == 0)
		return;
	for (size_t i = 0; i < len; i++)
		if (got[i] != model[off + i])
			dump_and_die(what, off + i, model[off + i], got[i]);
}

static void check_size(void)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die_errno("fstat");
	if ((size_t)st.st_size != msize) {
		char m[96];

		snprintf(m, sizeof(m), "size %lld, model %zu", (long long)st.st_size, msize);
		dump_and_die(m, 0, -1, -1);
	}
}

static void full_check(void)
{
	size_t off = 0;

	check_size();
	while (off < msize) {
		size_t n = msize - off > (4u << 20) ? (4u << 20) : msize - off;
		ssize_t r = pread(fd, buf, n, (off_t)off);

		if (r != (ssize_t)n)
			die_errno("full read");
		check(buf, off, n, "full compare");
		off += n;
	}
}

static void set_size(size_t ns)
{
	if (ns > msize)
		memset(model + msize, 0, ns - msize);
	msize = ns;
}

static void do_write(void)
{
	size_t off = rnd_off(maxsize - 1), len = rnd_len(maxsize - off);

	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(rnd() >> 24);
	logop("write %zu+%zu", off, len);
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		die_errno("pwrite");
	if (off > msize)
		set_size(off);
	memcpy(model + off, buf, len);
	if (off + len > msize)
		msize = off + len;
}

static void do_read(void)
{
	size_t off = rnd_off(msize + 4096), len = rnd_len(maxsize);
	size_t exp = off >= msize ? 0 : (off + len > msize ? msize - off : len);
	ssize_t r;

	logop("read %zu+%zu", off, len);
	r = pread(fd, buf, len, (off_t)off);
	if (r < 0)
		die_errno("pread");
	if ((size_t)r != exp) {
		char m[96];

		snprintf(m, sizeof(m), "read returned %zd, expected %zu", r, exp);
		dump_and_die(m, 0, -1, -1);
	}
	check(buf, off, exp, "read");
}

static void do_trunc(void)
{
	size_t ns = rnd_below(4) == 0 ? 0 : rnd_off(maxsize);

	logop("truncate %zu", ns);
	if (ftruncate(fd, (off_t)ns) < 0)
		die_errno("ftruncate");
	if (ns < msize)
		memset(model + ns, 0, msize - ns);
	set_size(ns);
}

static bool refused(int op, int r)
{
	if (r == 0)
		return false;
	if (errno == EOPNOTSUPP) {
		disabled[op] = true;
		if (!quiet)
			printf("fsx_model: %s not supported here, dropped from the mix\n", opname[op]);
		return true;
	}
	die_errno(opname[op]);
	return true;
}

static void do_punch(void)
{
	size_t off = rnd_off(msize ? msize - 1 : 0), len = rnd_len(maxsize - off);

	logop("punch %zu+%zu", off, len);
	if (refused(OP_PUNCH, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)off, (off_t)len)))
		return;
	if (off < msize)
		memset(model + off, 0, (off + len > msize ? msize : off + len) - off);
}

static void do_zero(void)
{
	size_t off = rnd_off(maxsize - 1), len = rnd_len(maxsize - off);
	int keep = rnd_below(2) ? FALLOC_FL_KEEP_SIZE : 0;

	logop("zero %zu+%zu%s", off, len, keep ? " keep" : "");
	if (refused(OP_ZERO, fallocate(fd, FALLOC_FL_ZERO_RANGE | keep, (off_t)off, (off_t)len)))
		return;
	if (!keep && off + len > msize)
		set_size(off + len);
	if (off < msize)
		memset(model + off, 0, (off + len > msize ? msize : off + len) - off);
}

static void do_falloc(void)
{
	size_t off = rnd_off(maxsize - 1), len = rnd_len(maxsize - off);
	int keep = rnd_below(2) ? FALLOC_FL_KEEP_SIZE : 0;

	logop("fallocate %zu+%zu%s", off, len, keep ? " keep" : "");
	if (refused(OP_FALLOC, fallocate(fd, keep, (off_t)off, (off_t)len)))
		return;
	if (!keep && off + len > msize)
		set_size(off + len);
}

static void do_copy(void)
{
	size_t src, dst, len;
	loff_t so, doff;
	ssize_t r;

	if (msize < 2)
		return;
	src = rnd_off(msize - 1);
	len = rnd_len(msize - src);
	dst = rnd_off(maxsize - len);
	/* same-file copies must not overlap (EINVAL otherwise) */
	if (dst < src + len && src < dst + len)
		return;
	logop("copy %zu+%zu -> %zu", src, len, dst);
	so = (loff_t)src;
	doff = (loff_t)dst;
	while (len) {
		r = copy_file_range(fd, &so, fd, &doff, len, 0);
		if (r < 0)
			die_errno("copy_file_range");
		if (r == 0)
			dump_and_die("copy_file_range returned 0 inside the file", 0, -1, -1);
		if (dst > msize)
			set_size(dst);
		memmove(model + dst, model + src, (size_t)r);
		if (dst + (size_t)r > msize)
			msize = dst + (size_t)r;
		src += (size_t)r;
		dst += (size_t)r;
		len -= (size_t)r;
	}
}

/* map [page-aligned start, end of the range) of the current file */
static unsigned char *map_range(size_t off, size_t len, int prot, size_t *moff, size_t *mlen)
{
	void *p;

	*moff = off & ~(size_t)(pagesz - 1);
	*mlen = off + len - *moff;
	p = mmap(NULL, *mlen, prot, MAP_SHARED, fd, (off_t)*moff);
	if (p == MAP_FAILED)
		die_errno("mmap");
	return p;
}

static void do_mread(void)
{
	size_t off, len, moff, mlen;
	unsigned char *p;

	if (msize == 0)
		return;
	off = rnd_off(msize - 1);
	len = rnd_len(msize - off);
	logop("mapread %zu+%zu", off, len);
	p = map_range(off, len, PROT_READ, &moff, &mlen);
	check(p + (off - moff), off, len, "mmap read");
	munmap(p, mlen);
}

static void do_mwrite(void)
{
	size_t off, len, moff, mlen;
	unsigned char *p;

	if (msize == 0)
		return;
	off = rnd_off(msize - 1);
	len = rnd_len(msize - off);
	logop("mapwrite %zu+%zu", off, len);
	p = map_range(off, len, PROT_READ | PROT_WRITE, &moff, &mlen);
	for (size_t i = 0; i < len; i++)
		model[off + i] = p[off - moff + i] = (unsigned char)(rnd() >> 24);
	if (rnd_below(2) && msync(p, mlen, MS_SYNC) < 0)
		die_errno("msync");
	munmap(p, mlen);
}

static void do_fsync(void)
{
	logop("fsync");
	if (fsync(fd) < 0)
		die_errno("fsync");
}

static void do_reopen(void)
{
	logop("reopen");
	if (close(fd) < 0)
		die_errno("close");
	fd = open(path, O_RDWR);
	if (fd < 0)
		die_errno("reopen");
	check_size();
}

int main(int argc, char **argv)
{
	long nops = 10000;
	int c, total = 0;

	seed = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
	while ((c = getopt(argc, argv, "n:s:m:q")) != -1) {
		switch (c) {
		case 'n': nops = atol(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'm': maxsize = strtoull(optarg, NULL, 0); break;
		case 'q': quiet = true; break;
		default:
			fprintf(stderr, "usage: fsx_model FILE [-n OPS] [-s SEED] [-m MAXSIZE] [-q]\n");
			return 2;
		}
	}
	if (optind != argc - 1 || maxsize < 65536) {
		fprintf(stderr, "usage: fsx_model FILE [-n OPS] [-s SEED] [-m MAXSIZE>=65536] [-q]\n");
		return 2;
	}
	path = argv[optind];
	pagesz = sysconf(_SC_PAGESIZE);
	rng = seed ? seed : 1;
	model = calloc(1, maxsize);
	buf = malloc(maxsize);
	buf2 = malloc(maxsize);
	if (!model || !buf || !buf2) {
		fprintf(stderr, "fsx_model: out of memory\n");
		return 2;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		return 2;
	}
	if (!quiet)
		printf("fsx_model: %s seed %" PRIu64 " ops %ld maxsize %zu\n", path, seed, nops,
		       maxsize);
	for (int i = 0; i < OP_NR; i++)
		total += weight[i];
	for (opno = 0; opno < nops; opno++) {
		int w = (int)rnd_below((size_t)total), op = 0;

		while (w >= weight[op])
			w -= weight[op++];
		if (disabled[op])
			continue;
		counts[op]++;
		switch (op) {
		case OP_WRITE: do_write(); break;
		case OP_READ: do_read(); break;
		case OP_TRUNC: do_trunc(); break;
		case OP_PUNCH: do_punch(); break;
		case OP_ZERO: do_zero(); break;
		case OP_FALLOC: do_falloc(); break;
		case OP_COPY: do_copy(); break;
		case OP_MREAD: do_mread(); break;
		case OP_MWRITE: do_mwrite(); break;
		case OP_FSYNC: do_fsync(); break;
		case OP_REOPEN: do_reopen(); break;
		}
		if (opno % 1000 == 999)
			full_check();
	}
	opno--;
	full_check();
	close(fd);
	if (!quiet) {
		printf("fsx_model: %ld ops OK (seed %" PRIu64 "):", nops, seed);
		for (int i = 0; i < OP_NR; i++)
			printf(" %s=%ld%s", opname[i], counts[i], disabled[i] ? "(off)" : "");
		printf("\n");
	}
	return 0;
}
