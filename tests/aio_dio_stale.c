// SPDX-License-Identifier: MIT
/*
 * aio_dio_stale FILE SEED ROUNDS: buffered readers must see asynchronous
 * O_DIRECT writes once they completed. Each round fills a 1 MiB region
 * with 0xaa and caches it (a buffered read), then submits 32 AIO O_DIRECT
 * writes of 0x55 (32 KiB each, in a seeded order) over it while four threads
 * read the region buffered in a loop; once every write has completed and
 * the readers stopped, a buffered read of the region must show only 0x55.
 * Raw io_submit(2) (no libaio needed). Exits 0, or 1 naming the round and
 * offset of the first stale byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BS	(32 * 1024)
#define NW	32
#define REGION	(NW * BS)
#define NREGIONS 8

static const char *path;
static atomic_int stop;
static atomic_long region_off;

static void *reader(void *arg)
{
	char *buf = malloc(REGION);
	int fd = open(path, O_RDONLY);

	(void)arg;
	if (!buf || fd < 0)
		abort();
	while (!atomic_load(&stop))
		if (pread(fd, buf, REGION, atomic_load(&region_off)) < 0)
			abort();
	close(fd);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	aio_context_t ctx = 0;
	struct iocb cbs[NW], *ptrs[NW];
	struct io_event ev[NW];
	unsigned char *wbuf, *rbuf;
	int fdd, fdb;

	if (argc != 4) {
		fprintf(stderr, "usage: aio_dio_stale FILE SEED ROUNDS\n");
		return 2;
	}
	path = argv[1];
	srandom((unsigned)atoi(argv[2]));
	int rounds = atoi(argv[3]);
	if (posix_memalign((void **)&wbuf, BS, REGION) || !(rbuf = malloc(REGION)))
		return 2;
	fdd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0644);
	fdb = open(path, O_RDONLY);
	if (fdd < 0 || fdb < 0 || syscall(SYS_io_setup, NW, &ctx)) {
		perror("aio_dio_stale: open/io_setup");
		return 2;
	}
	for (int r = 0; r < rounds; r++) {
		long off = (long)(random() % NREGIONS) * REGION;
		pthread_t th[4];

		memset(wbuf, 0xaa, REGION);
		if (pwrite(fdd, wbuf, REGION, off) != REGION)
			return perror("pwrite"), 2;
		if (pread(fdb, rbuf, REGION, off) != REGION)	/* cached: old bytes */
			return perror("pread"), 2;
		memset(wbuf, 0x55, REGION);
		for (int i = 0; i < NW; i++) {	/* seeded order of the blocks */
			int j = (int)(random() % (i + 1));
			ptrs[i] = ptrs[j];
			ptrs[j] = &cbs[i];
		}
		for (int i = 0; i < NW; i++) {
			memset(&cbs[i], 0, sizeof(cbs[i]));
			cbs[i].aio_fildes = (uint32_t)fdd;
			cbs[i].aio_lio_opcode = IOCB_CMD_PWRITE;
			cbs[i].aio_buf = (uint64_t)(uintptr_t)(wbuf + i * BS);
			cbs[i].aio_nbytes = BS;
			cbs[i].aio_offset = off + i * BS;
		}
		atomic_store(&region_off, off);
		atomic_store(&stop, 0);
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, reader, NULL);
		if (syscall(SYS_io_submit, ctx, NW, ptrs) != NW)
			return perror("io_submit"), 2;
		for (int got = 0; got < NW;) {
			long n = syscall(SYS_io_getevents, ctx, 1, NW - got, ev, NULL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return perror("io_getevents"), 2;
			for (long k = 0; k < n; k++)
				if (ev[k].res != BS)
					return fprintf(stderr, "aio write: %lld\n", (long long)ev[k].res), 2;
			got += (int)n;
		}
		atomic_store(&stop, 1);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		if (pread(fdb, rbuf, REGION, off) != REGION)
			return perror("pread"), 2;
		for (int i = 0; i < REGION; i++) {
			if (rbuf[i] != 0x55) {
				fprintf(stderr, "aio_dio_stale: round %d: a buffered read after the "
					"AIO O_DIRECT writes completed shows 0x%02x at offset %ld "
					"(written 0x55)\n", r, rbuf[i], off + i);
				return 1;
			}
		}
	}
	syscall(SYS_io_destroy, ctx);
	close(fdd);
	close(fdb);
	return 0;
}
