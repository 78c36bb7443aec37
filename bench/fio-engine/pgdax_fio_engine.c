/* SPDX-License-Identifier: MIT */
/*
 * pgdax: a fio external ioengine doing file I/O through DAX mappings of
 * pgdaxfs files (libpgdax's pgdax_map), so fio measures loads/stores on
 * device memory with no FUSE round trip per I/O, next to the same jobs
 * through the mount with psync/io_uring/mmap.
 *
 *   fio --ioengine=external:bench/fio-engine/.libs/pgdax-fio.so ...
 *
 * Environment (fio 3.33 offers no engine options without its headers'
 * option tables, so settings come from the environment):
 *   PGDAX_FIO_BACKEND=pgdax|mmap   pgdax (default) or plain mmap(2) of the
 *                                  file, which checks the engine on any fs;
 *   PGDAX_FIO_PERSIST=1            make each write durable before it
 *                                  completes (the O_DSYNC analogue);
 *   PGDAX_FIO_ANY_VERSION=1        run under a fio other than 3.33 (the
 *                                  io_u layout may differ: at your risk).
 *
 * Life cycle per file: fio opens it (generic_open_file: fio's flags, so
 * O_DIRECT/O_RDONLY follow the job), the engine maps all of it once, each
 * io_u is a memcpy in or out of the map, fsync/fdatasync io_us make it
 * durable, close unmaps (and persists). A file that cannot be mapped
 * stays open and fails every I/O with the map's errno: fio 3.33 judges a
 * failed open by td->error, which an engine cannot set without
 * thread_data's layout, while an io_u error does end the job with that
 * error and a non-zero exit status. fio lays the file out before the
 * first open (the engine does not set FIO_NOEXTEND), so a mapping covers
 * every offset fio will use; anything outside it fails with EINVAL.
 *
 * Synchronous (FIO_SYNCIO): iodepth is 1 by construction. Per-job state
 * (backend, open files) is reached through a thread-local pointer set by
 * init: each fio job runs its I/O in its own process or thread, so nothing
 * is shared and no lock is needed. The
 * engine does not touch fio's thread_data (its layout is the least stable
 * part of fio's ABI); see fio333_abi.h for what it does touch and why it
 * is believed right.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daxio.h"
#include "fio333_abi.h"

#define ENGINE_EXPORT __attribute__((visibility("default")))
#define MAX_FILES 64

/* Weak: present in every fio that exports its symbols (3.33 does). */
extern const char fio_version_string[] __attribute__((weak));

struct eng_file {
	struct fio_file *f;
	struct daxio_map *map;	/* NULL if mapping failed: then... */
	int map_error;		/* ...every io_u fails with this errno */
};

/*
 * Per-job state, reached through one thread-local pointer. Keep the TLS of
 * this module tiny: libpgdax's pgmap uses initial-exec TLS, so the module
 * is flagged STATIC_TLS and its whole TLS block must fit in the small
 * static-TLS reserve glibc keeps for dlopen() ("cannot allocate memory in
 * static TLS block" otherwise).
 */
struct eng_state {
	enum daxio_backend backend;
	int persist_each_write;
	struct eng_file files[MAX_FILES];
};

static __thread struct eng_state *st;

static struct eng_file *lookup(struct fio_file *f)
{
	if (!st)
		return NULL;
	for (int i = 0; i < MAX_FILES; i++)
		if (st->files[i].f == f)
			return &st->files[i];
	return NULL;
}

static int eng_init(struct thread_data *td)
{
	const char *v = fio_version_string;	/* NULL if fio does not export it */
	const char *any = getenv("PGDAX_FIO_ANY_VERSION");

	if ((!v || strcmp(v, "fio-3.33")) && !(any && !strcmp(any, "1"))) {
		log_err("pgdax engine: built for fio-3.33's ABI, this is %s; "
			"set PGDAX_FIO_ANY_VERSION=1 to try anyway\n", v ? v : "an unknown fio");
		return 1;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		log_err("pgdax engine: out of memory\n");
		return 1;
	}
	if (daxio_backend_parse(getenv("PGDAX_FIO_BACKEND"), &st->backend)) {
		log_err("pgdax engine: PGDAX_FIO_BACKEND=%s: use pgdax or mmap\n",
			getenv("PGDAX_FIO_BACKEND"));
		free(st);
		st = NULL;
		return 1;
	}
	st->persist_each_write = getenv("PGDAX_FIO_PERSIST") &&
				 !strcmp(getenv("PGDAX_FIO_PERSIST"), "1");
	return 0;
}

static int eng_open_file(struct thread_data *td, struct fio_file *f)
{
	struct eng_file *ef;
	struct stat sb;
	int rc, fl;

	rc = generic_open_file(td, f);
	if (rc)
		return rc;
	ef = lookup(NULL);
	if (!ef) {
		log_err("pgdax engine: more than %d files open in one job\n", MAX_FILES);
		rc = EMFILE;
		goto err_close;
	}
	if (fstat(f->fd, &sb) || (fl = fcntl(f->fd, F_GETFL)) < 0) {
		rc = errno;
		goto err_close;
	}
	if (sb.st_size <= 0) {
		log_err("pgdax engine: file (fd %d) is empty: nothing to map\n", f->fd);
		rc = EINVAL;
		goto err_close;
	}
	rc = -daxio_open(st->backend, f->fd, (uint64_t)sb.st_size,
			 (fl & O_ACCMODE) != O_RDONLY, st->persist_each_write, &ef->map);
	if (rc)
		log_err("pgdax engine: %s map of %lld bytes (fd %d) failed: %s%s\n",
			daxio_backend_name(st->backend), (long long)sb.st_size, f->fd, strerror(rc),
			rc == ENOTTY ? " (not a file on pgdaxfs; PGDAX_FIO_BACKEND=mmap maps any file)"
				     : "");
	ef->f = f;
	ef->map_error = rc;
	return 0;

err_close:
	generic_close_file(td, f);
	return rc;
}

static int eng_close_file(struct thread_data *td, struct fio_file *f)
{
	struct eng_file *ef = lookup(f);
	int rc = 0, rc2;

	if (ef) {
		rc = -daxio_close(&ef->map);
		if (rc)
			log_err("pgdax engine: unmap (fd %d): %s\n", f->fd, strerror(rc));
		ef->f = NULL;
		ef->map_error = 0;
	}
	rc2 = generic_close_file(td, f);
	return rc ? rc : rc2;
}

static enum fio_q_status eng_queue(struct thread_data *td, struct io_u *io_u)
{
	struct eng_file *ef = io_u->file ? lookup(io_u->file) : NULL;
	int rc;

	if (!ef) {
		/* An io_u for a file this job never opened: an ABI mismatch. */
		log_err("pgdax engine: io_u for an unknown file (fio ABI mismatch?)\n");
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	if (!ef->map) {
		io_u->error = (unsigned int)ef->map_error;
		return FIO_Q_COMPLETED;
	}
	switch (io_u->ddir) {
	case DDIR_READ:
		rc = daxio_read(ef->map, io_u->xfer_buf, io_u->xfer_buflen, io_u->offset);
		break;
	case DDIR_WRITE:
		rc = daxio_write(ef->map, io_u->xfer_buf, io_u->xfer_buflen, io_u->offset);
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
	case DDIR_SYNC_FILE_RANGE:
		rc = daxio_sync(ef->map);
		break;
	default:
		rc = -EOPNOTSUPP;	/* trim, wait */
		break;
	}
	io_u->resid = 0;
	if (rc) {
		io_u->error = (unsigned int)-rc;
		io_u_log_error(td, io_u);
	}
	return FIO_Q_COMPLETED;
}

static void eng_cleanup(struct thread_data *td)
{
	/* fio closes every file before cleanup; anything left is unmapped. */
	if (!st)
		return;
	for (int i = 0; i < MAX_FILES; i++)
		daxio_close(&st->files[i].map);
	free(st);
	st = NULL;
}

/* fio looks this symbol up by name after dlopen(). */
ENGINE_EXPORT struct ioengine_ops ioengine = {
	.name = "pgdax",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_SYNCIO,
	.init = eng_init,
	.queue = eng_queue,
	.cleanup = eng_cleanup,
	.open_file = eng_open_file,
	.close_file = eng_close_file,
	.get_file_size = generic_get_file_size,
};
