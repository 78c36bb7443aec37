/* SPDX-License-Identifier: MIT */
/*
 * The part of fio 3.33's internal ABI an external synchronous ioengine
 * needs (ioengine=external:/path/engine.so), declared by hand because no
 * Debian package ships fio's headers (no fio-dev; deb-src is not
 * configured here, so `apt-get source fio` is not available either).
 *
 * Where the numbers come from: Debian's fio 3.33-3 (amd64) binary itself.
 *  - FIO_IOOPS_VERSION 31: fio's own message for a probe engine
 *    ("bad ioops version 0 (want 31)").
 *  - struct ioengine_ops: the R_X86_64_RELATIVE relocations of the
 *    built-in engines' ops structs in /usr/bin/fio: psync's points at the
 *    exported generic_open_file/generic_close_file/generic_get_file_size
 *    (offsets 128/136/160) and its queue at 72; pvsync2 has
 *    option_struct_size 24 at 248 and options at 256; libpmem's
 *    prepopulate_file is at 168 and its flags (799) match the bits below.
 *    That fixes the order: dlhandle present at 32, cancel still present
 *    (it went away in later fios), no finish_zone yet.
 *  - struct io_u / struct fio_file offsets: the disassembly of psync's
 *    queue function and of fio_io_end (pread(f->fd, io_u->xfer_buf,
 *    io_u->xfer_buflen, io_u->offset); resid/error stores).
 * io_u and fio_file are NOT versioned by FIO_IOOPS_VERSION: another fio
 * build may move their fields with the same ops version. The engine
 * therefore refuses to run unless fio_version_string is "fio-3.33" (see
 * pgdax_fio_engine.c), and sanity-checks every io_u it is given.
 * Only the fields named here may be touched; the structs are never
 * allocated, copied or sized by the engine.
 */
#ifndef PGDAX_FIO333_ABI_H
#define PGDAX_FIO333_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#if !defined(__x86_64__) || !defined(__LP64__)
#error "fio333_abi.h was derived from the amd64 build of fio 3.33"
#endif

#define FIO_IOOPS_VERSION 31

struct thread_data;	/* opaque: never dereferenced by the engine */
struct fio_option;
struct zbd_zone;

struct flist_head {
	struct flist_head *next, *prev;
};

/* Prefix of fio's struct fio_file. */
struct fio_file {
	unsigned char __unknown0[0x14];
	int fd;				/* 0x14 */
};

enum fio_ddir {
	DDIR_READ = 0,
	DDIR_WRITE = 1,
	DDIR_TRIM = 2,
	DDIR_SYNC = 3,
	DDIR_DATASYNC = 4,
	DDIR_SYNC_FILE_RANGE = 5,
	DDIR_WAIT = 6,
};

/* Prefix of fio's struct io_u, up to the fields a sync engine uses. */
struct io_u {
	unsigned char __unknown0[0x20];
	struct fio_file *file;		/* 0x20 */
	unsigned int flags;		/* 0x28 */
	int ddir;			/* 0x2c: enum fio_ddir */
	unsigned char __unknown1[0x48 - 0x30];
	unsigned long long offset;	/* 0x48: file offset of the transfer */
	unsigned char __unknown2[0x68 - 0x50];
	void *xfer_buf;			/* 0x68 */
	unsigned long long xfer_buflen;	/* 0x70 */
	unsigned char __unknown3[0x88 - 0x78];
	unsigned long long resid;	/* 0x88: bytes not transferred */
	unsigned int error;		/* 0x90: errno of the transfer, 0 if fine */
};

enum fio_q_status {
	FIO_Q_COMPLETED = 0,
	FIO_Q_QUEUED = 1,
	FIO_Q_BUSY = 2,
};

enum fio_ioengine_flags {
	FIO_SYNCIO = 1 << 0,
	FIO_RAWIO = 1 << 1,
	FIO_DISKLESSIO = 1 << 2,
	FIO_NOEXTEND = 1 << 3,
	FIO_NODISKUTIL = 1 << 4,
	FIO_UNIDIR = 1 << 5,
	FIO_NOIO = 1 << 6,
	FIO_PIPEIO = 1 << 7,
	FIO_BARRIER = 1 << 8,
	FIO_MEMALIGN = 1 << 9,
};

struct ioengine_ops {
	struct flist_head list;
	const char *name;
	int version;
	int flags;
	void *dlhandle;
	int (*setup)(struct thread_data *);
	int (*init)(struct thread_data *);
	int (*post_init)(struct thread_data *);
	int (*prep)(struct thread_data *, struct io_u *);
	enum fio_q_status (*queue)(struct thread_data *, struct io_u *);
	int (*commit)(struct thread_data *);
	int (*getevents)(struct thread_data *, unsigned int, unsigned int,
			 const struct timespec *);
	struct io_u *(*event)(struct thread_data *, int);
	char *(*errdetails)(struct io_u *);
	int (*cancel)(struct thread_data *, struct io_u *);
	void (*cleanup)(struct thread_data *);
	int (*open_file)(struct thread_data *, struct fio_file *);
	int (*close_file)(struct thread_data *, struct fio_file *);
	int (*invalidate)(struct thread_data *, struct fio_file *);
	int (*unlink_file)(struct thread_data *, struct fio_file *);
	int (*get_file_size)(struct thread_data *, struct fio_file *);
	int (*prepopulate_file)(struct thread_data *, struct fio_file *);
	void (*terminate)(struct thread_data *);
	int (*iomem_alloc)(struct thread_data *, size_t);
	void (*iomem_free)(struct thread_data *);
	int (*io_u_init)(struct thread_data *, struct io_u *);
	void (*io_u_free)(struct thread_data *, struct io_u *);
	int (*get_zoned_model)(struct thread_data *, struct fio_file *, int *);
	int (*report_zones)(struct thread_data *, struct fio_file *, uint64_t,
			    struct zbd_zone *, unsigned int);
	int (*reset_wp)(struct thread_data *, struct fio_file *, uint64_t, uint64_t);
	int (*get_max_open_zones)(struct thread_data *, struct fio_file *, unsigned int *);
	int option_struct_size;
	struct fio_option *options;
};

/* The offsets read out of the binary; a wrong edit fails the build. */
_Static_assert(offsetof(struct ioengine_ops, dlhandle) == 32, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, queue) == 72, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, cleanup) == 120, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, open_file) == 128, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, close_file) == 136, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, get_file_size) == 160, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, prepopulate_file) == 168, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, option_struct_size) == 248, "fio 3.33 ABI");
_Static_assert(offsetof(struct ioengine_ops, options) == 256, "fio 3.33 ABI");
_Static_assert(offsetof(struct fio_file, fd) == 0x14, "fio 3.33 ABI");
_Static_assert(offsetof(struct io_u, file) == 0x20, "fio 3.33 ABI");
_Static_assert(offsetof(struct io_u, ddir) == 0x2c, "fio 3.33 ABI");
_Static_assert(offsetof(struct io_u, offset) == 0x48, "fio 3.33 ABI");
_Static_assert(offsetof(struct io_u, xfer_buf) == 0x68, "fio 3.33 ABI");
_Static_assert(offsetof(struct io_u, xfer_buflen) == 0x70, "fio 3.33 ABI");
_Static_assert(offsetof(struct io_u, resid) == 0x88, "fio 3.33 ABI");
_Static_assert(offsetof(struct io_u, error) == 0x90, "fio 3.33 ABI");

/*
 * Functions the fio executable exports (it is linked with -rdynamic:
 * `nm -D /usr/bin/fio`); resolved when fio dlopen()s the engine.
 */
int generic_open_file(struct thread_data *, struct fio_file *);
int generic_close_file(struct thread_data *, struct fio_file *);
int generic_get_file_size(struct thread_data *, struct fio_file *);
void io_u_log_error(struct thread_data *, struct io_u *);
size_t log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* PGDAX_FIO333_ABI_H */
