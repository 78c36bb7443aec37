// SPDX-License-Identifier: MIT
/*
 * odirect_mmap FILE: a file opened with O_DIRECT can be mapped shared, and
 * the mapping and the direct path see each other's bytes: a store through
 * the mapping is read back by a direct read (the kernel writes dirty pages
 * back before direct I/O), a direct write is seen through the mapping (the
 * kernel invalidates the range), and both are on the file after close.
 * Exits 0 when all hold, 1 with a message naming the first that does not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096
#define NPG 16

static int fail(const char *what)
{
	fprintf(stderr, "odirect_mmap: %s: %s\n", what, errno ? strerror(errno) : "wrong bytes");
	return 1;
}

static int all(const unsigned char *p, unsigned char c)
{
	for (int i = 0; i < PG; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	unsigned char *buf, *map;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: odirect_mmap FILE\n");
		return 2;
	}
	if (posix_memalign((void **)&buf, PG, PG))
		return fail("posix_memalign");
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (fd < 0)
		return fail("open O_DIRECT");
	memset(buf, 0x11, PG);
	for (int i = 0; i < NPG; i++)
		if (pwrite(fd, buf, PG, (off_t)i * PG) != PG)
			return fail("pwrite O_DIRECT (fill)");
	map = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return fail("mmap MAP_SHARED of an O_DIRECT open");
	/* fault the pages in first: the cache holds the old bytes */
	for (int i = 0; i < NPG; i++)
		if (map[i * PG] != 0x11)
			return fail("mapping shows the fill");

	memset(map + PG, 0x22, PG);	/* a store through the mapping ... */
	errno = 0;
	if (pread(fd, buf, PG, PG) != PG)
		return fail("pread O_DIRECT");
	if (!all(buf, 0x22))	/* ... is what a direct read returns */
		return fail("direct read after a store through the mapping");

	memset(buf, 0x33, PG);	/* a direct write ... */
	if (pwrite(fd, buf, PG, 2 * PG) != PG)
		return fail("pwrite O_DIRECT");
	errno = 0;
	if (!all(map + 2 * PG, 0x33))	/* ... is what the mapping shows */
		return fail("mapping after a direct write");
	if (munmap(map, NPG * PG) || close(fd))
		return fail("munmap/close");

	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return fail("open (buffered)");
	errno = 0;
	if (pread(fd, buf, PG, PG) != PG || !all(buf, 0x22))
		return fail("the store through the mapping is on the file");
	if (pread(fd, buf, PG, 2 * PG) != PG || !all(buf, 0x33))
		return fail("the direct write is on the file");
	close(fd);
	free(buf);
	return 0;
}
