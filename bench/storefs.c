/* SPDX-License-Identifier: MIT */
/*
 * storefs: the FUSE transport plus the one copy a filesystem that keeps its
 * data in memory cannot avoid. A reference point for bench/fio-suite.sh.
 *
 * nullfs (../shared/bench/nullfs.c) measures the transport alone: its reads
 * reply from one static zero buffer and its writes drop the payload, so
 * every byte the kernel copies comes from or goes to the same few cache-hot
 * pages. A filesystem has to put a write's bytes somewhere and read them
 * back from there: on this VM the kernel's 1 MiB copy into memory that is
 * not in the cache costs about three times the copy into a hot buffer.
 * storefs does exactly that and nothing else: each file (up to MAXF names,
 * every one -o size=BYTES long, default 1 GiB) is a region of one shared
 * /dev/shm mapping (sparse, unlinked at once); a WRITE is one memcpy into
 * the region, a READ replies with the region itself (fuse_reply_buf: the
 * kernel copies from it). No metadata, no persistence, no locking beyond
 * the name table; the same libfuse loop and options as nullfs.
 *
 *   storefs [-f] [-s] [-o size=BYTES] [-o direct_io] [libfuse options] MOUNTPOINT
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXF 8

struct opts {
	unsigned long long size;
	int direct_io;
};
static struct opts o = { .size = 1ULL << 30 };

static const struct fuse_opt sopts[] = {
	{ "size=%llu", offsetof(struct opts, size), 0 },
	{ "direct_io", offsetof(struct opts, direct_io), 1 },
	FUSE_OPT_END
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *names[MAXF];
static int nnames;
static char *store;		/* MAXF regions of o.size bytes */

static char *region(fuse_ino_t ino)
{
	return store + (ino - 2) * o.size;
}

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = (off_t)o.size;
	st->st_blocks = (blkcnt_t)(o.size / 512);
}

/* inode of a name: 2 + its slot (taken on first use), 0 when full */
static fuse_ino_t name_ino(const char *name)
{
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < nnames && !ino; i++)
		if (!strcmp(names[i], name))
			ino = 2 + (fuse_ino_t)i;
	if (!ino && nnames < MAXF && (names[nnames] = strdup(name)))
		ino = 2 + (fuse_ino_t)nnames++;
	pthread_mutex_unlock(&lock);
	return ino;
}

static void entry(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_entry_param e = { .ino = ino, .generation = 1,
				      .attr_timeout = 3600, .entry_timeout = 3600 };

	fill_attr(ino, &e.attr);
	if (fi) {
		fi->direct_io = o.direct_io;
		fuse_reply_create(req, &e, fi);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void s_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_ino_t ino = parent == FUSE_ROOT_ID ? name_ino(name) : 0;

	if (!ino)
		fuse_reply_err(req, ENOENT);
	else
		entry(req, ino, NULL);
}

static void s_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     struct fuse_file_info *fi)
{
	fuse_ino_t ino = parent == FUSE_ROOT_ID ? name_ino(name) : 0;

	(void)mode;
	if (!ino)
		fuse_reply_err(req, ENOSPC);
	else
		entry(req, ino, fi);
}

static void s_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void s_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		      struct fuse_file_info *fi)
{
	(void)attr;
	(void)to_set;
	s_getattr(req, ino, fi);	/* sizes are fixed */
}

static void s_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = o.direct_io;
	fuse_reply_open(req, fi);
}

/* Clamp [off, off + size) to the file. */
static size_t clamp(off_t off, size_t size)
{
	if (off < 0 || (unsigned long long)off >= o.size)
		return 0;
	return size > o.size - (unsigned long long)off ? o.size - (size_t)off : size;
}

static void s_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)fi;
	fuse_reply_buf(req, region(ino) + off, clamp(off, size));
}

static void s_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	size = clamp(off, size);
	memcpy(region(ino) + off, buf, size);
	fuse_reply_write(req, size);
}

static void s_ok(fuse_req_t req)
{
	fuse_reply_err(req, 0);
}

static void s_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	s_ok(req);
}

static void s_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	s_ok(req);
}

static void s_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)off;
	(void)len;
	(void)fi;
	s_ok(req);
}

static void s_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	s_ok(req);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = s_lookup,
	.getattr = s_getattr,
	.setattr = s_setattr,
	.open = s_open,
	.create = s_create,
	.read = s_read,
	.write = s_write,
	.flush = s_release,
	.release = s_release,
	.fsync = s_fsync,
	.fallocate = s_fallocate,
	.unlink = s_unlink,
};

/* The store: a sparse /dev/shm file, unlinked once mapped. */
static int map_store(void)
{
	char path[64];
	size_t len = (size_t)o.size * MAXF;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/storefs.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	unlink(path);
	if (ftruncate(fd, (off_t)len) < 0) {
		perror("storefs: ftruncate");
		close(fd);
		return -1;
	}
	store = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (store == MAP_FAILED) {
		perror("storefs: mmap");
		return -1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co;
	struct fuse_session *se;
	int ret = 1;

	if (fuse_parse_cmdline(&args, &co) != 0)
		return 1;
	if (co.show_help || !co.mountpoint) {
		printf("usage: %s [-f] [-s] [-o size=BYTES] [-o direct_io] MOUNTPOINT\n", argv[0]);
		fuse_cmdline_help();
		return co.show_help ? 0 : 1;
	}
	if (fuse_opt_parse(&args, &o, sopts, NULL) == -1 || !o.size || map_store())
		goto out;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, co.mountpoint) == 0) {
			fuse_daemonize(co.foreground);
			if (co.singlethread) {
				ret = fuse_session_loop(se);
			} else {
				struct fuse_loop_config *lc = fuse_loop_cfg_create();

				fuse_loop_cfg_set_clone_fd(lc, co.clone_fd);
				if (co.max_idle_threads != (unsigned int)-1)
					fuse_loop_cfg_set_idle_threads(lc, co.max_idle_threads);
				fuse_loop_cfg_set_max_threads(lc, co.max_threads);
				ret = fuse_session_loop_mt(se, lc);
				fuse_loop_cfg_destroy(lc);
			}
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
out:
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
