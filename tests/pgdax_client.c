/* SPDX-License-Identifier: MIT */
/*
 * Test driver for the DAX client API (lib/client/pgdax.h), linked against the
 * shared libpgdax so only exported symbols are used. The integration
 * scripts (tests/<behaviour>.sh) run it as a separate process, so that pins can be
 * held, killed, or outlive a daemon.
 *
 *   pgdax_client pin FILE OFF LEN [rw] [extend] [keepfd] [forkwait=FIFO]
 *                                          pin, print "EXT file_off dev_off len hole",
 *                                          "READY", hold until SIGUSR1, unpin
 *   pgdax_client pinall LEN FILE...        pin [0, LEN) of each FILE (read-only), print
 *                                          "READY", hold until SIGUSR1, unpin all
 *   pgdax_client map FILE OFF LEN ro|rw [extend] [fill=SEED|fillfd=SEED] [check=SEED] [hold] [poll]
 *                                          map; fill writes a pattern and syncs ("SYNCED")
 *                                          by mapping (fillfd: by file, pgdax_sync);
 *                                          check verifies it; hold waits for SIGUSR1
 *                                          (then checks again if asked; recheck=SEED: the
 *                                          mapping now shows SEED's pattern); poll waits for
 *                                          POLLPRI on the mapping's descriptor, prints
 *                                          "BREAK" and unmaps (with hold too: then holds
 *                                          until SIGUSR1)
 *     (pin and map) extend: PGDAX_PIN_EXTEND / PGDAX_MAP_EXTEND (grow the file to
 *     OFF+LEN; without it a writable range past EOF fails); keepfd: keep the descriptor pinned through open (else it is
 *     closed after the pin); forkwait=FIFO: then fork a child that prints nothing,
 *     opens FIFO for reading and exits once a line can be read from it (a plain
 *     fork(): the child outlives this process while the script holds it), print
 *     "CHILD pid"
 *   pgdax_client writer FILE LEN SEED      map rw (growing the file to LEN:
 *                                          PGDAX_MAP_EXTEND) and rewrite the range, one generation
 *                                          after another, until SIGUSR1; after each
 *                                          pgdax_mapping_sync print "ACK gen" (that
 *                                          generation is durable); once a sync failed
 *                                          ("NOSYNC gen"), "WROTE gen" every 16th
 *   pgdax_client pwrite FILE LEN SEED      write(2) SEED's pattern over [0, LEN)
 *   pgdax_client verify FILE LEN SEED GEN  read(2) the file: every block is generation
 *                                          GEN or later of SEED's pattern (or GEN exactly
 *                                          with "exact")
 *   pgdax_client fuzz FILE SEED N          N hostile ioctls (fixed seed); the daemon must
 *                                          answer each with a result or an errno
 *   pgdax_client status MOUNTPOINT         print pins/active extents/breaks (ioctl)
 *   pgdax_client mmapsync FILE LEN         mmap(2) FILE shared (the kernel's page cache,
 *                                          not DAX), store into every page of [0, LEN),
 *                                          then PGDAX_IOC_SYNC at once: its invalidation
 *                                          finds the pages dirty and the kernel launders
 *                                          them through WRITEs before it replies; print
 *                                          "SYNCED"
 *   pgdax_client expect-error ERRNO FILE OFF LEN ro|rw [extend]
 *                                          pgdax_map must fail with that errno name;
 *                                          prints "GOT ERRNO: " and pgdax_errormsg()
 *   pgdax_client rawpin ERRNO FILE OFF LEN ro|rw
 *                                          PGDAX_IOC_PIN straight to the daemon (no
 *                                          device open: a client ignoring the library)
 *                                          must fail with that errno name ("OK": succeed)
 *
 * Exit status 0 on success, 1 on a failed check (message on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/pgdax.h"
#include "pin/pgdax_ioctl.h"

#define BLK 4096u

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pgdax_client: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end)
		die("bad number '%s'", s);
	return v;
}

/* The pattern word at byte offset @off of generation @gen of @seed. */
static uint64_t pat(uint64_t seed, uint64_t gen, uint64_t off)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull ^ (off / 8) * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	/* the generation is readable in the low 16 bits of every word */
	return (x & ~0xffffull) | (gen & 0xffff);
}

static void fill(char *p, uint64_t base, size_t len, uint64_t seed, uint64_t gen)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t v = pat(seed, gen, base + i);

		memcpy(p + i, &v, 8);
	}
}

static bool check(const char *p, uint64_t base, size_t len, uint64_t seed, uint64_t gen,
		  uint64_t *bad)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		if (v != pat(seed, gen, base + i)) {
			*bad = base + i;
			return false;
		}
	}
	return true;
}

/* "Hold" ends at SIGUSR1 (blocked from the start of main, so one sent
 * early is not lost); SIGTERM still ends the process. */
static void wait_release(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);
}

/* forkwait=FIFO: a child that lives until the script writes to FIFO. */
static void fork_waiter(const char *fifo)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char c;
		int f = open(fifo, O_RDONLY);	/* blocks until the script opens it */

		if (f < 0 || read(f, &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	printf("CHILD %d\n", (int)pid);
}

static int open_file(const char *path, bool rw)
{
	int fd = open(path, (rw ? O_RDWR | O_CREAT : O_RDONLY), 0644);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

static int cmd_pin(int argc, char **argv)
{
	struct pgdax_pin *p;
	const struct pgdax_pin_extent *e;
	unsigned n;
	bool rw = false, keepfd = false, extend = false;
	const char *fifo = NULL;
	int fd, r;

	if (argc < 5)
		die("usage: pin FILE OFF LEN [rw] [extend] [keepfd] [forkwait=FIFO]");
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "rw"))
			rw = true;
		else if (!strcmp(argv[i], "extend"))
			extend = true;
		else if (!strcmp(argv[i], "keepfd"))
			keepfd = true;
		else if (!strncmp(argv[i], "forkwait=", 9))
			fifo = argv[i] + 9;
		else
			die("unknown option %s", argv[i]);
	}
	fd = open_file(argv[2], rw);
	r = pgdax_pin(fd, (off_t)num(argv[3]), num(argv[4]),
		      (rw ? PGDAX_PIN_RW : 0) | (extend ? PGDAX_PIN_EXTEND : 0), &p);
	if (r)
		die("pgdax_pin %s: %s (%s)", argv[2], strerror(-r), pgdax_errormsg());
	if (!keepfd)
		close(fd);
	e = pgdax_pin_extents(p, &n);
	for (unsigned i = 0; i < n; i++)
		printf("EXT %" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n", e[i].file_off,
		       e[i].dev_off, e[i].len, e[i].hole);
	if (fifo)
		fork_waiter(fifo);
	printf("READY\n");
	fflush(stdout);
	wait_release();
	r = pgdax_unpin(&p);
	if (r)
		die("pgdax_unpin: %s", strerror(-r));
	return 0;
}

static int cmd_pinall(int argc, char **argv)
{
	int n = argc - 3, fd, r;
	struct pgdax_pin **p;

	if (n < 1)
		die("usage: pinall LEN FILE...");
	p = calloc((size_t)n, sizeof(*p));
	if (!p)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		fd = open_file(argv[3 + i], false);
		r = pgdax_pin(fd, 0, num(argv[2]), 0, &p[i]);
		if (r)
			die("pgdax_pin %s: %s", argv[3 + i], strerror(-r));
		close(fd);
	}
	printf("READY\n");
	fflush(stdout);
	wait_release();
	for (int i = 0; i < n; i++) {
		r = pgdax_unpin(&p[i]);
		if (r)
			die("pgdax_unpin: %s", strerror(-r));
	}
	free(p);
	return 0;
}

static int cmd_map(int argc, char **argv)
{
	struct pgdax_mapping *m;
	uint64_t off, len, seed_fill = 0, seed_check = 0, bad;
	bool rw, do_fill = false, do_check = false, hold = false, do_poll = false;
	bool by_fd = false, do_recheck = false, keepfd = false, extend = false;
	const char *fifo = NULL;
	uint64_t seed_recheck = 0;
	char *a;
	int fd, r;

	if (argc < 6)
		die("usage: map FILE OFF LEN ro|rw [fill=SEED] [check=SEED] [hold] [poll]");
	off = num(argv[3]);
	len = num(argv[4]);
	rw = !strcmp(argv[5], "rw");
	for (int i = 6; i < argc; i++) {
		if (!strncmp(argv[i], "fill=", 5))
			do_fill = true, seed_fill = num(argv[i] + 5);
		else if (!strncmp(argv[i], "fillfd=", 7))
			do_fill = by_fd = true, seed_fill = num(argv[i] + 7);
		else if (!strncmp(argv[i], "check=", 6))
			do_check = true, seed_check = num(argv[i] + 6);
		else if (!strncmp(argv[i], "recheck=", 8))
			do_recheck = true, seed_recheck = num(argv[i] + 8);
		else if (!strcmp(argv[i], "hold"))
			hold = true;
		else if (!strcmp(argv[i], "extend"))
			extend = true;
		else if (!strcmp(argv[i], "poll"))
			do_poll = true;
		else if (!strcmp(argv[i], "keepfd"))
			keepfd = true;
		else if (!strncmp(argv[i], "forkwait=", 9))
			fifo = argv[i] + 9;
		else
			die("unknown option %s", argv[i]);
	}
	fd = open_file(argv[2], rw);
	r = pgdax_map_flags(fd, (off_t)off, len, rw ? PROT_READ | PROT_WRITE : PROT_READ,
			    extend ? PGDAX_MAP_EXTEND : 0, &m);
	if (r)
		die("pgdax_map %s: %s (%s)", argv[2], strerror(-r), pgdax_errormsg());
	if (!keepfd)
		close(fd);	/* the library keeps its own descriptor */
	a = pgdax_mapping_addr(m);
	if (do_check && !check(a, off, len, seed_check, 0, &bad))
		die("mapping of %s: wrong data at file offset %" PRIu64, argv[2], bad);
	if (do_fill) {
		fill(a, off, len, seed_fill, 0);
		/* by mapping, or by file (pgdax_sync finds this mapping) */
		r = by_fd ? pgdax_sync(pgdax_mapping_fd(m), (off_t)off, len)
			  : pgdax_mapping_sync(m, 0, 0);
		if (r)
			die("%s: %s", by_fd ? "pgdax_sync" : "pgdax_mapping_sync", strerror(-r));
		printf("SYNCED\n");
	}
	if (fifo)
		fork_waiter(fifo);
	printf("READY\n");
	fflush(stdout);
	if (do_poll) {
		struct pollfd pfd = { .fd = pgdax_mapping_fd(m), .events = POLLPRI };

		for (;;) {
			r = poll(&pfd, 1, -1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				die("poll: %s", strerror(errno));
			if (pfd.revents & POLLPRI)
				break;
			/* readable/writable is always reported: wait for more */
			pfd.revents = 0;
			pfd.events = POLLPRI;
			usleep(10000);
		}
		printf("BREAK\n");
		fflush(stdout);
		if (hold)
			wait_release();	/* told, but not letting go yet */
	} else if (hold) {
		wait_release();
		if (do_recheck) {
			/* someone else wrote SEED's pattern meanwhile: seen here */
			if (!check(a, off, len, seed_recheck, 0, &bad))
				die("mapping of %s does not show the new data at file offset %"
				    PRIu64, argv[2], bad);
			printf("SEEN\n");
			fflush(stdout);
		} else if (do_check || do_fill) {
			uint64_t s = do_fill ? seed_fill : seed_check;

			if (!check(a, off, len, s, 0, &bad))
				die("mapping of %s changed under the pin at file offset %" PRIu64,
				    argv[2], bad);
			printf("INTACT\n");
			fflush(stdout);
		}
	}
	r = pgdax_unmap(&m);
	if (r)
		die("pgdax_unmap: %s", strerror(-r));
	return 0;
}

static int cmd_writer(int argc, char **argv)
{
	bool sync_failed = false;
	struct pgdax_mapping *m;
	uint64_t len, seed;
	char *a;
	int fd, r;

	if (argc < 5)
		die("usage: writer FILE LEN SEED");
	len = num(argv[3]);
	seed = num(argv[4]);
	fd = open_file(argv[2], true);
	r = pgdax_map_flags(fd, 0, len, PROT_READ | PROT_WRITE, PGDAX_MAP_EXTEND, &m);
	if (r)
		die("pgdax_map %s: %s (%s)", argv[2], strerror(-r), pgdax_errormsg());
	close(fd);
	a = pgdax_mapping_addr(m);
	printf("READY\n");
	fflush(stdout);
	/* Runs until SIGUSR1 (then unmaps and exits 0) or a fatal signal. A
	 * failed sync (the daemon went away) is reported once and the writes
	 * go on: the mapping is device memory, it does not need the daemon. */
	for (uint64_t gen = 1;; gen++) {
		sigset_t pend;

		fill(a, 0, len, seed, gen);
		r = pgdax_mapping_sync(m, 0, 0);
		if (r == 0) {
			printf("ACK %" PRIu64 "\n", gen);
		} else if (!sync_failed) {
			printf("NOSYNC %" PRIu64 " %s\n", gen, strerror(-r));
			sync_failed = true;
		} else if (gen % 16 == 0) {
			printf("WROTE %" PRIu64 "\n", gen);	/* progress without sync */
		}
		fflush(stdout);
		sigpending(&pend);
		if (sigismember(&pend, SIGUSR1))
			break;
	}
	r = pgdax_unmap(&m);
	printf("UNMAPPED %s\n", r ? strerror(-r) : "ok");
	return 0;
}

/* write(2) SEED's pattern (generation 0) over [0, LEN) through the mount */
static int cmd_pwrite(int argc, char **argv)
{
	uint64_t len, seed;
	char *buf;
	int fd;

	if (argc < 5)
		die("usage: pwrite FILE LEN SEED");
	len = num(argv[3]);
	seed = num(argv[4]);
	buf = malloc(len);
	if (!buf)
		die("out of memory");
	fill(buf, 0, len, seed, 0);
	fd = open_file(argv[2], true);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		die("pwrite %s: %s", argv[2], strerror(errno));
	close(fd);
	free(buf);
	return 0;
}

/* read(2) the file: every 8-byte word is SEED's pattern, generation >= GEN */
static int cmd_verify(int argc, char **argv)
{
	uint64_t len, seed, gen, off = 0;
	bool exact = argc > 6 && !strcmp(argv[6], "exact");
	char *buf;
	int fd;

	if (argc < 6)
		die("usage: verify FILE LEN SEED GEN [exact]");
	len = num(argv[3]);
	seed = num(argv[4]);
	gen = num(argv[5]);
	fd = open_file(argv[2], false);
	buf = malloc(1 << 20);
	if (!buf)
		die("out of memory");
	while (off < len) {
		size_t want = len - off > (1 << 20) ? (1 << 20) : (size_t)(len - off);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n <= 0)
			die("read %s at %" PRIu64 ": %s", argv[2], off, n ? strerror(errno) : "EOF");
		for (ssize_t i = 0; i + 8 <= n; i += 8) {
			uint64_t v, g;

			memcpy(&v, buf + i, 8);
			g = v & 0xffff;
			if (v != pat(seed, g, off + (uint64_t)i) || g < (gen & 0xffff) ||
			    (exact && g != (gen & 0xffff)))
				die("%s: offset %" PRIu64 ": generation %" PRIu64
				    " (want %s%" PRIu64 ") or not the pattern", argv[2],
				    off + (uint64_t)i, g, exact ? "" : ">= ", gen);
		}
		off += (uint64_t)n;
	}
	free(buf);
	close(fd);
	printf("VERIFIED\n");
	return 0;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint64_t rnd_u64(void)
{
	static const uint64_t edges[] = { 0, 1, 4095, 4096, 1 << 21, (1ull << 21) + 1,
					  INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX,
					  UINT64_MAX - 4095, 1ull << 40, 1ull << 30 };

	switch (rnd() % 4) {
	case 0:
		return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return rnd() % (64ull << 20);
	case 2:
		return (rnd() % 64) << 21;
	default:
		return rnd();
	}
}

/* Hostile ioctls: fields random, edges, reserved bits, unknown ids. */
static int cmd_fuzz(int argc, char **argv)
{
	uint64_t seed, n, ok = 0, errs = 0;
	uint64_t ids[32] = { 0 };
	unsigned nids = 0;
	int fd;

	if (argc < 5)
		die("usage: fuzz FILE SEED N");
	seed = num(argv[3]);
	n = num(argv[4]);
	rng_state = seed ? seed : 1;
	fd = open_file(argv[2], true);
	for (uint64_t i = 0; i < n; i++) {
		union {
			struct pgdax_ioc_pin pin;
			struct pgdax_ioc_pin_extents ext;
			struct pgdax_ioc_unpin unpin;
			struct pgdax_ioc_sync sync;
			struct pgdax_ioc_info info;
			struct pgdax_ioc_status status;
			char raw[16384];
		} u;
		unsigned long cmd;
		int r;

		memset(&u, 0, sizeof(u));
		switch (rnd() % 8) {
		case 0:
		case 1:
			u.pin.offset = rnd_u64();
			u.pin.length = rnd_u64();
			u.pin.flags = rnd() % 4 == 0 ? (uint32_t)rnd() : (uint32_t)(rnd() % 2);
			if (rnd() % 8 == 0)
				u.pin.reserved0 = 1;
			if (rnd() % 8 == 0)
				u.pin.reserved[1] = rnd();
			cmd = PGDAX_IOC_PIN;
			break;
		case 2:
			u.ext.pin_id = nids && rnd() % 2 ? ids[rnd() % nids] : rnd_u64();
			u.ext.cursor = (uint32_t)(rnd() % 3 == 0 ? rnd() : rnd() % 4);
			if (rnd() % 8 == 0)
				u.ext.reserved0 = 1;
			cmd = PGDAX_IOC_PIN_EXTENTS;
			break;
		case 3:
			u.unpin.pin_id = nids && rnd() % 2 ? ids[rnd() % nids] : rnd_u64();
			if (rnd() % 8 == 0)
				u.unpin.reserved[2] = 7;
			cmd = PGDAX_IOC_UNPIN;
			break;
		case 4:
			u.sync.offset = rnd_u64();
			u.sync.length = rnd_u64();
			u.sync.flags = rnd() % 4 == 0 ? (uint32_t)rnd() : 0;
			cmd = PGDAX_IOC_SYNC;
			break;
		case 5:
			cmd = rnd() % 2 ? PGDAX_IOC_INFO : PGDAX_IOC_STATUS;
			for (size_t b = 0; b < 64; b++)
				u.raw[b] = (char)rnd();
			break;
		default: {
			/* our magic, any number, any direction, any size */
			unsigned dir = (unsigned)(rnd() % 4), nr = (unsigned)(rnd() % 16);
			unsigned size = (unsigned)(rnd() % 2 ? rnd() % 256 : rnd() % 16384);

			cmd = _IOC(dir, PGDAX_IOC_MAGIC, nr, size);
			for (size_t b = 0; b < 256; b++)
				u.raw[b] = (char)rnd();
			break;
		}
		}
		r = ioctl(fd, cmd, &u);
		if (r == 0) {
			ok++;
			if (cmd == PGDAX_IOC_PIN && nids < 32)
				ids[nids++] = u.pin.pin_id;
		} else {
			errs++;
			if (errno == ENOTCONN || errno == ECONNABORTED)
				die("ioctl %" PRIu64 " (cmd %#lx): the daemon is gone (%s)", i, cmd,
				    strerror(errno));
		}
	}
	printf("FUZZ ok=%" PRIu64 " errors=%" PRIu64 "\n", ok, errs);
	close(fd);	/* releases whatever pins succeeded */
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	struct pgdax_ioc_status *st;
	int fd;

	if (argc < 3)
		die("usage: status MOUNTPOINT");
	st = calloc(1, sizeof(*st));
	fd = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (!st || fd < 0)
		die("open %s: %s", argv[2], strerror(errno));
	if (ioctl(fd, PGDAX_IOC_STATUS, st) < 0)
		die("status %s: %s", argv[2], strerror(errno));
	printf("pins=%" PRIu64 " pinned_extents=%" PRIu64 " active_extents=%" PRIu64
	       " free_blocks=%" PRIu64 " quarantined=%" PRIu64 " breaking=%" PRIu64
	       " state=%d\n",
	       st->pins, st->pinned_extents, st->active_extents, st->free_blocks,
	       st->quarantined_pages, st->breaking, st->pgmap_state);
	close(fd);
	free(st);
	return 0;
}

static int cmd_mmapsync(int argc, char **argv)
{
	struct pgdax_ioc_sync s = { 0 };
	uint64_t len;
	char *a;
	int fd;

	if (argc < 4)
		die("usage: mmapsync FILE LEN");
	len = num(argv[3]);
	fd = open(argv[2], O_RDWR);
	if (fd < 0)
		die("open %s: %s", argv[2], strerror(errno));
	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED)
		die("mmap %s: %s", argv[2], strerror(errno));
	for (uint64_t off = 0; off < len; off += BLK)
		memset(a + off, 'M', len - off < BLK ? len - off : BLK);
	/* the ioctl itself, not pgdax_sync(): its fstat(2) would have the
	 * kernel write the dirty pages back first (a GETATTR does) */
	if (ioctl(fd, PGDAX_IOC_SYNC, &s) < 0)
		die("PGDAX_IOC_SYNC on %s: %s", argv[2], strerror(errno));
	printf("SYNCED\n");
	munmap(a, len);
	close(fd);
	return 0;
}

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{ "EACCES", EACCES }, { "EBUSY", EBUSY }, { "EINVAL", EINVAL }, { "ENOTTY", ENOTTY },
	{ "ENXIO", ENXIO }, { "EBADF", EBADF }, { "EPERM", EPERM }, { "EROFS", EROFS },
};

static int cmd_expect_error(int argc, char **argv)
{
	struct pgdax_mapping *m = NULL;
	int want = 0, fd, r;
	bool rw;

	if (argc < 7)
		die("usage: expect-error ERRNO FILE OFF LEN ro|rw");
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (!strcmp(errnames[i].name, argv[2]))
			want = errnames[i].err;
	if (!want)
		die("unknown errno name %s", argv[2]);
	rw = !strcmp(argv[6], "rw");
	fd = open(argv[3], rw ? O_RDWR : O_RDONLY);
	if (fd < 0)
		die("open %s: %s", argv[3], strerror(errno));
	r = pgdax_map_flags(fd, (off_t)num(argv[4]), num(argv[5]),
			    rw ? PROT_READ | PROT_WRITE : PROT_READ,
			    argc > 7 && !strcmp(argv[7], "extend") ? PGDAX_MAP_EXTEND : 0, &m);
	if (r == 0) {
		pgdax_unmap(&m);
		die("pgdax_map %s succeeded, expected %s", argv[3], argv[2]);
	}
	if (r != -want)
		die("pgdax_map %s: %s, expected %s (%s)", argv[3], strerror(-r), argv[2],
		    pgdax_errormsg());
	printf("GOT %s: %s\n", argv[2], pgdax_errormsg());
	return 0;
}

static int want_errno(const char *name)
{
	if (!strcmp(name, "OK"))
		return 0;
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (!strcmp(errnames[i].name, name))
			return errnames[i].err;
	die("unknown errno name %s", name);
}

static int cmd_rawpin(int argc, char **argv)
{
	struct pgdax_ioc_pin p;
	int want, fd, r;
	bool rw;

	if (argc < 7)
		die("usage: rawpin ERRNO FILE OFF LEN ro|rw|wflag-on-ro");
	want = want_errno(argv[2]);
	/* "wflag-on-ro": a writable pin asked through a read-only descriptor */
	rw = !strcmp(argv[6], "rw");
	fd = open(argv[3], rw ? O_RDWR : O_RDONLY);
	if (fd < 0)
		die("open %s: %s", argv[3], strerror(errno));
	memset(&p, 0, sizeof(p));
	p.offset = num(argv[4]);
	p.length = num(argv[5]);
	p.flags = rw || !strcmp(argv[6], "wflag-on-ro") ? PGDAX_PIN_WRITE : 0;
	r = ioctl(fd, PGDAX_IOC_PIN, &p) < 0 ? errno : 0;
	close(fd);
	if (r != want)
		die("PGDAX_IOC_PIN on %s: %s, expected %s", argv[3], r ? strerror(r) : "success",
		    argv[2]);
	printf("GOT %s\n", argv[2]);
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die("usage: pgdax_client pin|map|writer|verify|fuzz|status|expect-error ...");
	if (!strcmp(argv[1], "pin"))
		return cmd_pin(argc, argv);
	if (!strcmp(argv[1], "pinall"))
		return cmd_pinall(argc, argv);
	if (!strcmp(argv[1], "map"))
		return cmd_map(argc, argv);
	if (!strcmp(argv[1], "writer"))
		return cmd_writer(argc, argv);
	if (!strcmp(argv[1], "pwrite"))
		return cmd_pwrite(argc, argv);
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(argc, argv);
	if (!strcmp(argv[1], "fuzz"))
		return cmd_fuzz(argc, argv);
	if (!strcmp(argv[1], "mmapsync"))
		return cmd_mmapsync(argc, argv);
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[1], "rawpin"))
		return cmd_rawpin(argc, argv);
	if (!strcmp(argv[1], "expect-error"))
		return cmd_expect_error(argc, argv);
	die("unknown command %s", argv[1]);
}
