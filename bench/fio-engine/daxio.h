/* SPDX-License-Identifier: MIT */
/*
 * The I/O calls of the pgdax fio engine, kept apart from fio's ABI
 * (fio333_abi.h) so either side can change alone: map a whole file once,
 * then copy in and out of the mapping; no FUSE round trip per I/O.
 *
 * Backends:
 *   pgdax  pgdax_map()/pgdax_unmap() of libpgdax (lib/client/pgdax.h): the file's
 *          extents pinned and mapped straight from the device. Stores are
 *          made durable by daxio_sync() (pgdax_mapping_sync), or after
 *          every write with persist_each_write.
 *   mmap   mmap(2) of the file (kernel page cache on FUSE, shmem on
 *          tmpfs): to check the engine itself on any filesystem, and as
 *          the baseline the DAX path should beat.
 * Not thread-safe per map: one fio job owns each map.
 */
#ifndef PGDAX_DAXIO_H
#define PGDAX_DAXIO_H

#include <stddef.h>
#include <stdint.h>

enum daxio_backend {
	DAXIO_PGDAX,
	DAXIO_MMAP,
};

struct daxio_map;

/* "pgdax" or "mmap" (NULL or "" = pgdax); 0 or -EINVAL. */
int daxio_backend_parse(const char *s, enum daxio_backend *out);
const char *daxio_backend_name(enum daxio_backend b);

/*
 * Map [0, length) of the file open as @fd (writable if @writable). 0 and
 * *out, or a negative errno (pgdax: see pgdax_map(); -ENOTTY = not on
 * pgdaxfs). @persist_each_write: make every write durable before it
 * returns (the engine's equivalent of O_DSYNC).
 */
int daxio_open(enum daxio_backend b, int fd, uint64_t length, int writable,
	       int persist_each_write, struct daxio_map **out);
uint64_t daxio_length(const struct daxio_map *m);
/* Copies; 0 or -EINVAL when [off, off+len) is outside the map. */
int daxio_read(struct daxio_map *m, void *buf, size_t len, uint64_t off);
int daxio_write(struct daxio_map *m, const void *buf, size_t len, uint64_t off);
/* Everything written so far is durable; 0 or a negative errno. */
int daxio_sync(struct daxio_map *m);
/* Sync (if writable), unmap; NULLs *m; NULL-safe. 0 or a negative errno. */
int daxio_close(struct daxio_map **m);

#endif /* PGDAX_DAXIO_H */
