/* SPDX-License-Identifier: MIT */
/*
 * preload_probe: an ordinary program (plain mmap(2), no libpgdax) that
 * tests/transparent_dax_*.sh run under pgdax-exec. Each command checks
 * the daemon's pin counters (PGDAX_IOC_STATUS on the mount root) at every
 * step, so a mapping the preload library silently left to the page cache
 * fails: the counters would not move.
 *
 *   preload_probe write MNT FILE SIZE SEED     map SIZE bytes rw, fill, munmap
 *   preload_probe verify FILE SIZE SEED        read(2) and compare (no mmap)
 *   preload_probe msync MNT FILE               stores visible to read(2) after msync/fsync
 *   preload_probe partial MNT FILE             partial munmap, MAP_FIXED over part
 *   preload_probe mremap MNT FILE              shrink, grow in place/moved, MREMAP_FIXED
 *   preload_probe fork MNT FILE                child writes, parent reads, pins outlive
 *   preload_probe threads MNT FILE N ITERS     map/unmap/remap in N threads at once
 *   preload_probe eof MNT FILE                 map past EOF: the file grows under the map
 *
 * Exit 0 on success, 1 with a message on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pin/pgdax_ioctl.h"

#define PG 4096UL

static const char *mnt;

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "preload_probe[%d]: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Pins the mount holds now, and those held by @pid (0: any). */
static uint64_t pins_of(pid_t pid)
{
	static struct pgdax_ioc_status st;
	uint64_t n = 0;
	int fd = open(mnt, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		die("open %s: %s", mnt, strerror(errno));
	memset(&st, 0, sizeof(st));
	if (ioctl(fd, PGDAX_IOC_STATUS, &st) < 0)
		die("status: %s", strerror(errno));
	if (!pid) {
		close(fd);
		return st.pins;
	}
	for (;;) {
		for (uint32_t i = 0; i < st.count; i++)
			if (st.holders[i].pid == pid)
				n += st.holders[i].pins;
		if (st.next >= st.nr_holders || !st.count)
			break;
		uint32_t c = st.next;

		memset(&st, 0, sizeof(st));
		st.cursor = c;
		if (ioctl(fd, PGDAX_IOC_STATUS, &st) < 0)
			die("status: %s", strerror(errno));
	}
	close(fd);
	return n;
}

/* The pins of @pid become @want within 10 s (a RELEASE is asynchronous). */
static void expect_pins(pid_t pid, uint64_t want, const char *what)
{
	uint64_t n = 0;

	for (int i = 0; i < 2000; i++) {
		n = pins_of(pid);
		if (n == want)
			return;
		usleep(5000);
	}
	die("%s: pid %d holds %" PRIu64 " pins, expected %" PRIu64, what, (int)pid, n, want);
}

static unsigned char pat(uint64_t off, unsigned seed)
{
	return (unsigned char)((off * 2654435761u) >> 13) ^ (unsigned char)seed;
}

static void fill(unsigned char *p, uint64_t off, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(off + i, seed);
}

static void check(const unsigned char *p, uint64_t off, size_t len, unsigned seed,
		  const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pat(off + i, seed))
			die("%s: byte %" PRIu64 " is %u, expected %u", what, off + i, p[i],
			    pat(off + i, seed));
}

static void check_read(int fd, uint64_t off, size_t len, unsigned seed, const char *what)
{
	unsigned char *b = malloc(len);

	if (!b || pread(fd, b, len, (off_t)off) != (ssize_t)len)
		die("%s: pread: %s", what, strerror(errno));
	check(b, off, len, seed, what);
	free(b);
}

static int open_sized(const char *f, size_t size)
{
	int fd = open(f, O_RDWR | O_CREAT, 0644);
	struct stat st;

	if (fd < 0)
		die("open %s: %s", f, strerror(errno));
	if (fstat(fd, &st) == 0 && (size_t)st.st_size < size && ftruncate(fd, (off_t)size))
		die("ftruncate: %s", strerror(errno));
	return fd;
}

static unsigned char *map(void *at, size_t len, int prot, int fl, int fd, off_t off)
{
	void *p = mmap(at, len, prot, MAP_SHARED | fl, fd, off);

	if (p == MAP_FAILED)
		die("mmap(%zu @%lld): %s", len, (long long)off, strerror(errno));
	return p;
}

static int cmd_write(const char *f, size_t size, unsigned seed)
{
	uint64_t base = pins_of(getpid());
	int fd = open_sized(f, size);
	/* PROT_WRITE alone, as fio's mmap engine maps a write-only job */
	unsigned char *p = map(NULL, size, PROT_WRITE, 0, fd, 0);

	expect_pins(getpid(), base + 1, "mapped PROT_WRITE");
	close(fd);	/* the mapping keeps the file, as the kernel's does */
	fill(p, 0, size, seed);
	if (munmap(p, size))
		die("munmap: %s", strerror(errno));
	expect_pins(getpid(), base, "unmapped");
	return 0;
}

static int cmd_verify(const char *f, size_t size, unsigned seed)
{
	int fd = open(f, O_RDONLY);

	if (fd < 0)
		die("open %s: %s", f, strerror(errno));
	check_read(fd, 0, size, seed, "verify");
	close(fd);
	return 0;
}

static int cmd_msync(const char *f)
{
	size_t len = 64 * PG;
	int fd = open_sized(f, len);
	unsigned char *p, *b = malloc(len);

	if (!b || pread(fd, b, len, 0) < 0)	/* the kernel caches the old bytes */
		die("pread: %s", strerror(errno));
	p = map(NULL, len, PROT_READ | PROT_WRITE, 0, fd, 0);
	expect_pins(getpid(), 1, "mapped");
	fill(p, 0, len / 2, 7);
	if (msync(p, len / 2, MS_SYNC))
		die("msync: %s", strerror(errno));
	check_read(fd, 0, len / 2, 7, "read(2) after msync");
	fill(p + len / 2, len / 2, len / 2, 8);
	if (fsync(fd))
		die("fsync: %s", strerror(errno));
	check_read(fd, len / 2, len / 2, 8, "read(2) after fsync");
	fill(p, 0, len, 9);
	if (fdatasync(fd))
		die("fdatasync: %s", strerror(errno));
	check_read(fd, 0, len, 9, "read(2) after fdatasync");
	/* a read-only map sees the stores at once (same device memory) */
	unsigned char *r = map(NULL, len, PROT_READ, 0, fd, 0);

	expect_pins(getpid(), 2, "second mapping");
	fill(p, 0, PG, 10);
	check(r, 0, PG, 10, "read-only mapping of the same range");
	munmap(r, len);
	munmap(p, len);
	expect_pins(getpid(), 0, "unmapped");
	close(fd);
	free(b);
	return 0;
}

static int cmd_partial(const char *f)
{
	size_t len = 16 * PG;
	int fd = open_sized(f, 64 * PG);
	unsigned char *p = map(NULL, len, PROT_READ | PROT_WRITE, 0, fd, 0), *q;
	pid_t me = getpid();

	expect_pins(me, 1, "mapped");
	fill(p, 0, len, 3);
	/* a hole in the middle: both sides stay mapped, one pin */
	if (munmap(p + 4 * PG, 4 * PG))
		die("munmap middle: %s", strerror(errno));
	expect_pins(me, 1, "middle unmapped");
	check(p, 0, 4 * PG, 3, "head after the middle went");
	check(p + 8 * PG, 8 * PG, 8 * PG, 3, "tail after the middle went");
	/* MAP_FIXED anonymous memory over the head: the tail keeps the pin */
	q = mmap(p, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0);
	if (q != p)
		die("MAP_FIXED anonymous: %s", strerror(errno));
	expect_pins(me, 1, "head replaced");
	if (q[0] != 0)
		die("MAP_FIXED anonymous memory is not zero");
	/* a DAX MAP_FIXED over the hole we made: a second pin */
	q = map(p + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE, MAP_FIXED, fd, 4 * PG);
	expect_pins(me, 2, "fixed over the hole");
	check(q, 4 * PG, 4 * PG, 3, "MAP_FIXED DAX map of the hole");
	/* unmap the old tail but one page: still two pins */
	munmap(p + 8 * PG, 7 * PG);
	expect_pins(me, 2, "tail mostly gone");
	check(p + 15 * PG, 15 * PG, PG, 3, "the last page");
	munmap(p + 15 * PG, PG);
	expect_pins(me, 1, "first mapping gone");
	munmap(p, 16 * PG);	/* the anonymous head and the fixed map: unmapped as one */
	expect_pins(me, 0, "all unmapped");
	check_read(fd, 0, len, 3, "read(2) after the unmaps");
	/* MADV_REMOVE must not free device pages under the file */
	p = map(NULL, len, PROT_READ | PROT_WRITE, 0, fd, 0);
	if (madvise(p, len, MADV_REMOVE) == 0)
		die("MADV_REMOVE over a DAX mapping was accepted");
	munmap(p, len);
	check_read(fd, 0, len, 3, "read(2) after a refused MADV_REMOVE");
	close(fd);
	return 0;
}

static void pwrite_pattern(int fd, uint64_t off, size_t len, unsigned seed)
{
	unsigned char *b = malloc(len);

	if (!b)
		die("malloc");
	fill(b, off, len, seed);
	if (pwrite(fd, b, len, (off_t)off) != (ssize_t)len)
		die("pwrite: %s", strerror(errno));
	free(b);
}

static int cmd_mremap(const char *f)
{
	int fd = open_sized(f, 256 * PG);
	unsigned char *p, *q, *r, *g;
	pid_t me = getpid();

	pwrite_pattern(fd, 0, 256 * PG, 4);
	p = map(NULL, 64 * PG, PROT_READ | PROT_WRITE, 0, fd, 0);
	expect_pins(me, 1, "mapped");
	/* shrink in place */
	if (mremap(p, 64 * PG, 32 * PG, 0) != p)
		die("mremap shrink: %s", strerror(errno));
	expect_pins(me, 1, "shrunk");
	check(p, 0, 32 * PG, 4, "after shrink");
	/* grow in place (the range after it was just freed) */
	if (mremap(p, 32 * PG, 48 * PG, 0) != p)
		die("mremap grow in place: %s", strerror(errno));
	expect_pins(me, 2, "grown in place");
	check(p, 0, 48 * PG, 4, "after growing in place");
	/* a guard page after it: growing must move, or fail without MAYMOVE */
	g = mmap(p + 48 * PG, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (g != p + 48 * PG)
		die("guard: %s", strerror(errno));
	if (mremap(p, 48 * PG, 128 * PG, 0) != MAP_FAILED || errno != ENOMEM)
		die("mremap grow without MAYMOVE over a guard did not fail with ENOMEM");
	check(p, 0, 48 * PG, 4, "after a refused grow");
	q = mremap(p, 48 * PG, 128 * PG, MREMAP_MAYMOVE);
	if (q == MAP_FAILED || q == p)
		die("mremap grow moving: %s", q == p ? "did not move" : strerror(errno));
	expect_pins(me, 1, "grown and moved");
	check(q, 0, 128 * PG, 4, "after moving");
	fill(q + 100 * PG, 100 * PG, PG, 5);
	/* MREMAP_FIXED onto a place we choose */
	r = mmap(NULL, 128 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (mremap(q, 128 * PG, 128 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, r) != r)
		die("mremap fixed: %s", strerror(errno));
	expect_pins(me, 1, "moved to a fixed place");
	check(r, 0, 100 * PG, 4, "after a fixed move");
	check(r + 100 * PG, 100 * PG, PG, 5, "a store made before the fixed move");
	munmap(r, 128 * PG);
	munmap(g, PG);
	expect_pins(me, 0, "unmapped");
	close(fd);
	return 0;
}

static int cmd_fork(const char *f)
{
	int fd = open_sized(f, 32 * PG), up[2], down[2], st;
	unsigned char *p = map(NULL, 32 * PG, PROT_READ | PROT_WRITE, 0, fd, 0);
	pid_t me = getpid(), child;
	char c;

	expect_pins(me, 1, "mapped");
	if (pipe(up) || pipe(down))
		die("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		close(up[0]);
		close(down[1]);	/* a dead parent ends our read with EOF */
		expect_pins(getpid(), 1, "the child's own pin");
		fill(p, 0, 32 * PG, 6);
		if (write(up[1], "w", 1) != 1 || read(down[0], &c, 1) != 1)
			die("child pipe");
		/* the parent unmapped and dropped its pin: ours holds */
		expect_pins(getpid(), 1, "the child's pin after the parent unmapped");
		check(p, 0, 32 * PG, 6, "child's mapping after the parent unmapped");
		fill(p, 0, PG, 7);
		munmap(p, 32 * PG);
		expect_pins(getpid(), 0, "the child unmapped");
		_exit(0);
	}
	close(up[1]);
	close(down[0]);	/* a dead child ends our read with EOF */
	if (read(up[0], &c, 1) != 1)
		die("parent pipe: the child ended");
	check(p, 0, 32 * PG, 6, "the parent reads the child's stores");
	munmap(p, 32 * PG);
	expect_pins(me, 0, "the parent unmapped");
	if (pins_of(child) != 1)
		die("the child's pin went with the parent's mapping");
	if (write(down[1], "u", 1) != 1 || waitpid(child, &st, 0) != child)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		die("child failed (status %d)", st);
	check_read(fd, 0, PG, 7, "read(2) of the child's last stores");
	check_read(fd, PG, 31 * PG, 6, "read(2) of the child's first stores");
	/* a child that exits without unmapping drops its pin too */
	p = map(NULL, 4 * PG, PROT_READ | PROT_WRITE, 0, fd, 0);
	child = fork();
	if (child == 0) {
		expect_pins(getpid(), 1, "second child's pin");
		_exit(0);
	}
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		die("second child failed");
	expect_pins(child, 0, "an exited child's pin");
	expect_pins(me, 1, "the parent's pin after the child exited");
	munmap(p, 4 * PG);
	expect_pins(0, 0, "all gone");
	close(fd);
	return 0;
}

struct targ {
	int fd;
	unsigned id, iters;
};

static void *thread_main(void *a)
{
	struct targ *t = a;
	uint64_t off = (uint64_t)t->id * 16 * PG;

	for (unsigned i = 0; i < t->iters; i++) {
		unsigned seed = t->id * 131 + i;
		unsigned char *p, *q, *anon;

		p = map(NULL, 8 * PG, PROT_READ | PROT_WRITE, 0, t->fd, (off_t)off);
		anon = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (anon == MAP_FAILED)
			die("anonymous mmap: %s", strerror(errno));
		fill(p, off, 8 * PG, seed);
		munmap(p + 2 * PG, 2 * PG);
		check(p + 4 * PG, off + 4 * PG, 4 * PG, seed, "thread: tail after a hole");
		q = mremap(p + 4 * PG, 4 * PG, 8 * PG, MREMAP_MAYMOVE);
		if (q == MAP_FAILED)
			die("thread mremap: %s", strerror(errno));
		check(q, off + 4 * PG, 4 * PG, seed, "thread: after mremap");
		check(p, off, 2 * PG, seed, "thread: head");
		munmap(anon, 3 * PG);
		munmap(p, 2 * PG);
		munmap(q, 8 * PG);
	}
	return NULL;
}

static int cmd_threads(const char *f, unsigned n, unsigned iters)
{
	int fd = open_sized(f, (size_t)n * 16 * PG);
	pthread_t th[64];
	struct targ ta[64];

	if (n > 64)
		n = 64;
	/* one long-lived mapping shows pins moved during the run */
	unsigned char *keep = map(NULL, PG, PROT_READ, 0, fd, 0);

	expect_pins(getpid(), 1, "the long-lived mapping");
	for (unsigned i = 0; i < n; i++) {
		ta[i] = (struct targ){ .fd = fd, .id = i, .iters = iters };
		if (pthread_create(&th[i], NULL, thread_main, &ta[i]))
			die("pthread_create");
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	expect_pins(getpid(), 1, "after the threads");
	munmap(keep, PG);
	expect_pins(getpid(), 0, "all unmapped");
	close(fd);
	return 0;
}

static int cmd_eof(const char *f)
{
	int fd = open_sized(f, 2 * PG);
	unsigned char *p = map(NULL, 64 * PG, PROT_READ | PROT_WRITE, 0, fd, 0);
	struct stat st;

	expect_pins(getpid(), 1, "mapped past EOF");
	if (fstat(fd, &st) || st.st_size != (off_t)(2 * PG))
		die("mmap changed the file size to %lld", (long long)st.st_size);
	fill(p, 0, 2 * PG, 11);
	/* the file grows under the mapping: write(2), then ftruncate */
	pwrite_pattern(fd, 10 * PG, PG, 12);
	check(p + 10 * PG, 10 * PG, PG, 12, "a page written past the old EOF");
	if (ftruncate(fd, 64 * PG))
		die("ftruncate: %s", strerror(errno));
	fill(p + 30 * PG, 30 * PG, PG, 13);
	if (msync(p, 64 * PG, MS_SYNC))
		die("msync: %s", strerror(errno));
	check_read(fd, 0, 2 * PG, 11, "read(2) of the DAX part");
	check_read(fd, 30 * PG, PG, 13, "read(2) of the grown part");
	munmap(p, 64 * PG);
	expect_pins(getpid(), 0, "unmapped");
	/* mapped again, the grown range is DAX */
	p = map(NULL, 64 * PG, PROT_READ, 0, fd, 0);
	expect_pins(getpid(), 1, "mapped again");
	check(p + 30 * PG, 30 * PG, PG, 13, "the grown part, mapped again");
	munmap(p, 64 * PG);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: see the top of tests/preload_probe.c");
	if (!strcmp(argv[1], "verify") && argc == 5)
		return cmd_verify(argv[2], strtoul(argv[3], NULL, 0),
				  (unsigned)strtoul(argv[4], NULL, 0));
	mnt = argv[2];
	if (!strcmp(argv[1], "write") && argc == 6)
		return cmd_write(argv[3], strtoul(argv[4], NULL, 0),
				 (unsigned)strtoul(argv[5], NULL, 0));
	if (!strcmp(argv[1], "msync") && argc == 4)
		return cmd_msync(argv[3]);
	if (!strcmp(argv[1], "partial") && argc == 4)
		return cmd_partial(argv[3]);
	if (!strcmp(argv[1], "mremap") && argc == 4)
		return cmd_mremap(argv[3]);
	if (!strcmp(argv[1], "fork") && argc == 4)
		return cmd_fork(argv[3]);
	if (!strcmp(argv[1], "threads") && argc == 6)
		return cmd_threads(argv[3], (unsigned)strtoul(argv[4], NULL, 0),
				   (unsigned)strtoul(argv[5], NULL, 0));
	if (!strcmp(argv[1], "eof") && argc == 4)
		return cmd_eof(argv[3]);
	die("bad command");
}
