/* SPDX-License-Identifier: MIT */
/*
 * The FUSE low-level operations: one fs_<op> handler per op, wired in one
 * table (fs_ops, at the bottom). Each handler calls into lib/vol/vol.h and
 * replies exactly once; helpers never reply.
 *
 * Synchronous: every vol call that acknowledges a change returns only once
 * it is persistent, and the reply is sent after it, so nothing is pending in
 * the daemon between requests. Hence flush has nothing to do, and opens set
 * noflush so close(2) costs no round trip.
 *
 * Locks (flock/fcntl) are not implemented here on purpose: without
 * getlk/setlk/flock ops the kernel keeps them itself, which is exact for a
 * filesystem that only one host mounts.
 *
 * Reference accounting: every reply that hands the kernel an entry (lookup,
 * mknod, mkdir, symlink, link, create, readdirplus entries other than . and
 * ..) carries one volume inode reference, recorded in fs_icount so teardown
 * can return what the kernel never FORGETs; the room to record it is
 * reserved before the operation (fs_icount_reserve), so an entry is never
 * given uncounted and a done operation is never answered ENOMEM. If the reply cannot be delivered
 * (the caller was interrupted, -ENOENT from /dev/fuse) the kernel never saw
 * the entry and the reference is dropped at once.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs.h"
#include "ioctl.h"
#include "loop.h"
#include "dev/dev.h"
#include "util/log.h"

/* A wait in lib/ ends with EINTR when the request is interrupted, or when
 * the session has ended (nobody is left to release what it waits for). */
static bool req_interrupted(void *arg)
{
	fuse_req_t req = arg;

	return fuse_req_interrupted(req) || fs_loop_req_interrupted(req) ||
	       fuse_session_exited(fs_of(req)->se);
}

static int req_groups(void *arg, int size, gid_t list[])
{
	int n = fuse_req_getgroups(arg, size, list);

	return n < 0 ? 0 : n;	/* unknown: no supplementary groups */
}

void fs_cred(fuse_req_t req, struct pgdax_cred *cred)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	cred->uid = ctx->uid;
	cred->gid = ctx->gid;
	cred->pid = ctx->pid;
	cred->interrupted = req_interrupted;
	cred->interrupted_arg = req;
	cred->groups = req_groups;
	cred->groups_arg = req;
}

/* libfuse 3.18: fuse_lowlevel_notify_increment_epoch() and the statx op (nested: the
 * layering check preprocesses this file without the fuse headers) */
#ifdef FUSE_MAKE_VERSION
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 18)
#define FS_HAVE_NOTIFY_EPOCH 1
#define FS_HAVE_STATX 1
#endif
#endif

/*
 * Permissions are the daemon's (lib/vol/perm.c): the kernel, mounted
 * without default_permissions, checks directory search only when it sends
 * a LOOKUP. An entry it caches would let a later caller walk through a
 * directory without asking, so entries (and negative entries) of a
 * directory that not everyone may search are given with timeout 0: each
 * walk through it revalidates with a LOOKUP, checked for that caller.
 */
static bool searchable_by_all(const struct stat *dir)
{
	return (dir->st_mode & 0111) == 0111;
}

/* May the kernel cache names of @dir? Always where it checks search
 * permission itself (default_permissions, the default). */
static bool walk_cacheable(const struct fs *fs, const struct stat *dir)
{
	return fs->opts.default_permissions || searchable_by_all(dir);
}

static double entry_timeout(const struct fs *fs, const struct stat *dir)
{
	return walk_cacheable(fs, dir) ? FS_ENTRY_TIMEOUT : 0.0;
}

/* May negative entries be cached? Only where forget_children can drop
 * them all (it cannot name them). */
static bool negative_cached(struct fs *fs)
{
#ifdef FS_HAVE_NOTIFY_EPOCH
	return !atomic_load(&fs->no_epoch);
#else
	(void)fs;
	return false;
#endif
}

/* The attributes of @ino and a check on them; 0 or -errno. */
static int check(struct fs *fs, fuse_ino_t ino, const struct pgdax_cred *cred,
		 int (*rule)(const struct stat *, const struct pgdax_cred *), struct stat *st)
{
	int r = pgdax_vol_getattr(fs->vol, ino, st);

	return r < 0 ? r : rule(st, cred);
}


/* Teardown phase 1 or later: new namespace entries are refused (ENXIO),
 * and the log says why (fs_handles_refused). Opens are refused by
 * fs_handle_reserve() itself, under fs.lock. */
static bool closing(fuse_req_t req, const char *what)
{
	struct fs *fs = fs_of(req);

	if (!atomic_load(&fs->closing))
		return false;
	fs_handles_refused(fs, fuse_req_ctx(req)->pid, what);
	return true;
}

/* errno for the kernel from a negative vol return */
static int err_of(long r)
{
	return r < 0 ? (int)-r : EIO;
}

static void fill_entry(struct fuse_entry_param *e, const struct stat *st, double timeout)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->generation = 0;
	e->attr = *st;
	e->attr_timeout = FS_ATTR_TIMEOUT;
	e->entry_timeout = timeout;
}

/*
 * Reply with an entry that carries one vol reference (taken by the caller)
 * and one lookup reservation (fs_icount_reserve before the operation: the
 * count cannot fail now that the operation is done).
 */
static void reply_entry_ref(fuse_req_t req, struct fs *fs, const struct stat *st,
			    double timeout)
{
	struct fuse_entry_param e;

	fill_entry(&e, st, timeout);
	fs_icount_add(fs, st->st_ino);
	if (fuse_reply_entry(req, &e) < 0) {
		/* the kernel never saw it: give the reference back */
		fs_icount_sub(fs, st->st_ino, 1);
		pgdax_vol_iput(fs->vol, st->st_ino, 1);
	}
}

#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"

/*
 * The transport (fs/loop.c, "io_uring"): libfuse starts its rings after
 * this handler when it was asked to (-o io_uring to fuse_session_new, see
 * fs_want_uring) and the kernel offers io_uring in INIT, which it does only
 * while the fuse module's enable_uring is 1 (root may set it at run time:
 * the daemon does not flip a system-wide switch by itself). One log line
 * says which; pgdaxctl status shows it per request (fs/ioctl.c).
 */
static void init_transport(struct fs *fs, struct fuse_conn_info *conn)
{
	bool want = fs_want_uring(&fs->opts);

#ifdef PGDAX_HAVE_FUSE_URING
	if (!want) {
		fuse_unset_feature_flag(conn, FUSE_CAP_OVER_IO_URING);
	} else if (fuse_set_feature_flag(conn, FUSE_CAP_OVER_IO_URING)) {
		atomic_store(&fs->uring, true);
		pgdax_info("serving over FUSE-over-io_uring (a queue per CPU)");
#ifndef PGDAX_HAVE_FUSE_REQ_UNIQUE
		pgdax_warn("this libfuse has no fuse_req_unique(): a truncate waiting for "
			   "pins cannot be interrupted over io_uring");
#endif
		return;
	}
#else
	(void)conn;
#endif
	/* at the level logged by default (err): whoever gets /dev/fuse where
	 * io_uring is the default must see why */
	if (want || fs->opts.io_uring == 1) {
		if (access(ENABLE_URING, F_OK) == 0)
			pgdax_err("serving over /dev/fuse: the kernel offers no io_uring while "
				     ENABLE_URING " is 0 (root may set it to 1 and remount)");
		else
			pgdax_err("serving over /dev/fuse: this kernel has no FUSE-over-io_uring "
				     "(no " ENABLE_URING ")");
	}
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	conn->max_write = FS_MAX_IO;
	conn->max_read = FS_MAX_IO;	/* must equal -o max_read */
	conn->time_gran = 1;
	/* Every background request (AIO, readahead) is sent at once instead
	 * of queueing in the kernel behind the limit: an O_DIRECT write's
	 * reply waits for the readahead READs holding the pages it
	 * invalidates (direct_done_run), which must not queue behind it. */
	conn->max_background = UINT16_MAX;
	conn->congestion_threshold = 9;	/* the kernel's default: readahead backs off as before */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Write-through: shared writable mmap works and the kernel page cache
	 * stays coherent with what the daemon has persisted. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Data is copied once, device <-> request buffer, by the kernel
	 * (reads: writev from device memory) or by the volume (writes); a pipe
	 * would add a copy. And fs/loop.c hands requests between threads,
	 * which a request living in the receiver's pipe would not allow. */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	/* Let the kernel clear setuid/setgid itself (it sends a SETATTR), the
	 * same rule as every local filesystem. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* No POSIX ACLs: the volume stores xattrs but does not interpret
	 * system.posix_acl_*, so the kernel must not rely on them. */
	conn->want &= ~FUSE_CAP_POSIX_ACL;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* chattr/lsattr on directories (fs/ioctl.c do_flags) */
	if (conn->capable & FUSE_CAP_IOCTL_DIR)
		conn->want |= FUSE_CAP_IOCTL_DIR;
#ifdef FUSE_CAP_DIRECT_IO_ALLOW_MMAP
	/* O_DIRECT opens are FOPEN_DIRECT_IO (file_new): without this the
	 * kernel refuses to map them shared (ENODEV). With it, the kernel
	 * writes the mapping's dirty pages back before a direct I/O of the
	 * range and invalidates them after a direct write, so the mapping and
	 * the direct path see each other's bytes. libfuse 3.14 cannot ask:
	 * there a shared mapping of an O_DIRECT open stays refused. */
	if (conn->capable & FUSE_CAP_DIRECT_IO_ALLOW_MMAP)
		conn->want |= FUSE_CAP_DIRECT_IO_ALLOW_MMAP;
#endif
	init_transport(fs, conn);

	/* Mounted and serving: release the waiting parent. */
	fs_ready(fs);
	pgdax_info("%s mounted on %s", fs->opts.device, fs->opts.mountpoint);
}

static void fs_destroy(void *userdata)
{
	/* Teardown runs in main() after the loop: nothing to do here. */
	(void)userdata;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat st, dst;
	int r;

	/* search permission on the directory (ENOTDIR: the NFS "." case
	 * below, or the volume's own answer) */
	fs_cred(req, &cred);
	r = check(fs, parent, &cred, pgdax_perm_lookup, &dst);
	if (r < 0 && r != -ENOTDIR) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	/* never grant a lookup that could not be counted (fs/handles.c) */
	if (fs_icount_reserve(fs, 1) < 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pgdax_vol_lookup(fs->vol, parent, name, &st);
	if (r == -ENOTDIR && strcmp(name, ".") == 0) {
		/* NFS export (open_by_handle_at) looks up "." on the node of
		 * a handle, which may be a regular file: take the reference
		 * first, so the inode cannot go away before getattr; if it was
		 * already gone, getattr fails and no reference was taken. */
		pgdax_vol_iget(fs->vol, parent);
		r = pgdax_vol_getattr(fs->vol, parent, &st);
	}
	if (r < 0)
		fs_icount_unreserve(fs, 1);
	if (r == -ENOENT && FS_NEGATIVE_TIMEOUT > 0 && walk_cacheable(fs, &dst) &&
	    (fs->opts.default_permissions || negative_cached(fs))) {
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = FS_NEGATIVE_TIMEOUT };

		fuse_reply_entry(req, &e);
		return;
	}
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	reply_entry_ref(req, fs, &st, S_ISDIR(dst.st_mode) ? entry_timeout(fs, &dst) : 0.0);
}

static void forget_one(struct fs *fs, fuse_ino_t ino, uint64_t n)
{
	fs_icount_sub(fs, ino, n);
	pgdax_vol_iput(fs->vol, ino, n);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	int r = pgdax_vol_getattr(fs->vol, ino, &st);

	(void)fi;
	if (r == -EIO && ino == FUSE_ROOT_ID && pgdax_vol_is_dead(fs->vol)) {
		/* The device went away: the mount root still answers from what
		 * was read at mount, so that pgdaxctl status can open it and
		 * say why everything else fails. */
		fuse_reply_attr(req, &fs->root_st, 1.0);
		return;
	}
	if (r < 0)
		fuse_reply_err(req, err_of(r));
	else
		fuse_reply_attr(req, &st, FS_ATTR_TIMEOUT);
}

#ifdef FS_HAVE_STATX
static void statx_time(struct statx_timestamp *t, const struct timespec *ts)
{
	t->tv_sec = ts->tv_sec;
	t->tv_nsec = (uint32_t)ts->tv_nsec;
}

/*
 * statx (libfuse 3.18): what getattr says, plus the birth time every inode
 * stores (i_btime, set at creation). The kernel asks for it when a caller
 * wants STATX_BTIME; everything else still comes through getattr. libfuse
 * 3.14 has no statx op: there btime is not reported (stat %w says "-").
 */
static void fs_statx(fuse_req_t req, fuse_ino_t ino, int flags, int mask,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct timespec bt;
	struct statx sx;
	struct stat st;
	int r;

	(void)flags;
	(void)mask;	/* all of it costs the same: one inode read */
	(void)fi;
	r = pgdax_vol_getattr_btime(fs->vol, ino, &st, &bt);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	memset(&sx, 0, sizeof(sx));
	sx.stx_mask = STATX_BASIC_STATS | STATX_BTIME;
	sx.stx_blksize = (uint32_t)st.st_blksize;
	sx.stx_nlink = (uint32_t)st.st_nlink;
	sx.stx_uid = st.st_uid;
	sx.stx_gid = st.st_gid;
	sx.stx_mode = (uint16_t)st.st_mode;
	sx.stx_ino = st.st_ino;
	sx.stx_size = (uint64_t)st.st_size;
	sx.stx_blocks = (uint64_t)st.st_blocks;
	statx_time(&sx.stx_atime, &st.st_atim);
	statx_time(&sx.stx_mtime, &st.st_mtim);
	statx_time(&sx.stx_ctime, &st.st_ctim);
	statx_time(&sx.stx_btime, &bt);
	sx.stx_rdev_major = major(st.st_rdev);
	sx.stx_rdev_minor = minor(st.st_rdev);
	fuse_reply_statx(req, 0, &sx, FS_ATTR_TIMEOUT);
}
#endif

/* FUSE_SET_ATTR_* and PGDAX_SET_* are the same bits (vol.h); pass the ones
 * the volume knows. */
#define SETATTR_KNOWN (PGDAX_SET_MODE | PGDAX_SET_UID | PGDAX_SET_GID | PGDAX_SET_SIZE | \
		       PGDAX_SET_ATIME | PGDAX_SET_MTIME | PGDAX_SET_ATIME_NOW | \
		       PGDAX_SET_MTIME_NOW | PGDAX_SET_CTIME | PGDAX_SET_KILL_SUIDGID)
_Static_assert(FUSE_SET_ATTR_MODE == PGDAX_SET_MODE && FUSE_SET_ATTR_UID == PGDAX_SET_UID &&
	       FUSE_SET_ATTR_GID == PGDAX_SET_GID && FUSE_SET_ATTR_SIZE == PGDAX_SET_SIZE &&
	       FUSE_SET_ATTR_ATIME == PGDAX_SET_ATIME && FUSE_SET_ATTR_MTIME == PGDAX_SET_MTIME &&
	       FUSE_SET_ATTR_ATIME_NOW == PGDAX_SET_ATIME_NOW &&
	       FUSE_SET_ATTR_MTIME_NOW == PGDAX_SET_MTIME_NOW &&
	       FUSE_SET_ATTR_CTIME == PGDAX_SET_CTIME, "FUSE setattr bits differ from vol.h");

/* readdir callback of forget_children: one notification per name */
struct inval_ctx {
	struct fs *fs;
	fuse_ino_t dir;
};

static int inval_one(void *arg, const char *name, const struct stat *st, uint64_t next_off)
{
	struct inval_ctx *c = arg;

	(void)st;
	(void)next_off;
	if (!(name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]))))
		fuse_lowlevel_notify_inval_entry(c->fs->se, c->dir, name, strlen(name));
	return 0;
}

/*
 * A directory everyone could search no longer is (chmod, chown): the
 * kernel may hold its entries, and negative entries, for FS_ENTRY_TIMEOUT,
 * which would let the callers it now refuses walk through it (or learn
 * that a name is absent). Drop them, after the reply (the kernel holds the
 * directory locked until it has it): all cached entries at once where the
 * kernel (6.16) and libfuse (3.18) can (a rare event: they are looked up
 * again as needed); else the directory's names one by one, and negative
 * entries are no longer cached anywhere, since they cannot be named.
 */
static void forget_children(struct fs *fs, fuse_ino_t dir)
{
	struct inval_ctx c = { .fs = fs, .dir = dir };

#ifdef FS_HAVE_NOTIFY_EPOCH
	if (!atomic_load(&fs->no_epoch)) {
		int r = fuse_lowlevel_notify_increment_epoch(fs->se);

		if (r == 0)
			return;
		pgdax_warn("the kernel cannot drop cached entries at once (%s): negative "
			   "entries are no longer cached", strerror(-r));
	}
#endif
	atomic_store(&fs->no_epoch, true);
	pgdax_vol_readdir(fs->vol, dir, 0, false, inval_one, &c);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat out, old;
	int r;

	fs_cred(req, &cred);
	valid &= SETATTR_KNOWN;
	r = pgdax_vol_getattr(fs->vol, ino, &old);
	if (r == 0)
		r = pgdax_perm_setattr(&old, attr, valid, fi != NULL, &cred);
	if (r == 0)
		r = pgdax_vol_setattr(fs->vol, ino, attr, valid, &cred, &out);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	fuse_reply_attr(req, &out, FS_ATTR_TIMEOUT);
	if (!fs->opts.default_permissions && S_ISDIR(out.st_mode) && searchable_by_all(&old) &&
	    (!searchable_by_all(&out) || out.st_uid != old.st_uid || out.st_gid != old.st_gid))
		forget_children(fs, ino);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int r = pgdax_vol_readlink(fs_of(req)->vol, ino, buf, sizeof(buf));

	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	if ((size_t)r >= sizeof(buf))
		r = sizeof(buf) - 1;
	buf[r] = '\0';
	fuse_reply_readlink(req, buf);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat st, dst;
	int r;

	if (closing(req, "mknod")) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	fs_cred(req, &cred);
	r = check(fs, parent, &cred, pgdax_perm_create, &dst);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	if (fs_icount_reserve(fs, 1) < 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pgdax_vol_mknod(fs->vol, parent, name, mode, rdev, &cred, &st);
	if (r < 0) {
		fs_icount_unreserve(fs, 1);
		fuse_reply_err(req, err_of(r));
	} else {
		reply_entry_ref(req, fs, &st, entry_timeout(fs, &dst));
	}
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat st, dst;
	int r;

	if (closing(req, "mkdir")) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	fs_cred(req, &cred);
	r = check(fs, parent, &cred, pgdax_perm_create, &dst);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	if (fs_icount_reserve(fs, 1) < 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pgdax_vol_mkdir(fs->vol, parent, name, mode, &cred, &st);
	if (r < 0) {
		fs_icount_unreserve(fs, 1);
		fuse_reply_err(req, err_of(r));
	} else {
		reply_entry_ref(req, fs, &st, entry_timeout(fs, &dst));
	}
}

/* The attributes of @name in @dir, without keeping a reference; 0 or -errno. */
static int entry_attr(struct fs *fs, fuse_ino_t dir, const char *name, struct stat *st)
{
	int r = pgdax_vol_lookup(fs->vol, dir, name, st);

	if (r == 0)
		pgdax_vol_iput(fs->vol, st->st_ino, 1);
	return r;
}

/* May the caller remove @name from @parent? The entry itself is looked at
 * only where the sticky rule needs it (not on the common path). */
static int may_delete(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat dst, st;
	int r;

	fs_cred(req, &cred);
	r = check(fs, parent, &cred, pgdax_perm_create, &dst);
	if (r < 0)
		return r;
	if (!(dst.st_mode & S_ISVTX) || cred.uid == 0 || cred.uid == dst.st_uid)
		return 0;
	r = entry_attr(fs, parent, name, &st);
	return r < 0 ? r : pgdax_perm_delete(&dst, &st, &cred);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int r = may_delete(req, parent, name);

	if (r == 0)
		r = pgdax_vol_unlink(fs_of(req)->vol, parent, name);
	fuse_reply_err(req, -r);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int r = may_delete(req, parent, name);

	if (r == 0)
		r = pgdax_vol_rmdir(fs_of(req)->vol, parent, name);
	fuse_reply_err(req, -r);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat st, dst;
	int r;

	if (closing(req, "symlink")) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	fs_cred(req, &cred);
	r = check(fs, parent, &cred, pgdax_perm_create, &dst);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	if (fs_icount_reserve(fs, 1) < 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pgdax_vol_symlink(fs->vol, parent, name, link, &cred, &st);
	if (r < 0) {
		fs_icount_unreserve(fs, 1);
		fuse_reply_err(req, err_of(r));
	} else {
		reply_entry_ref(req, fs, &st, entry_timeout(fs, &dst));
	}
}

static int may_rename(struct fs *fs, const struct pgdax_cred *cred, fuse_ino_t parent,
		      const char *name, fuse_ino_t newparent, const char *newname,
		      struct stat *ndst)
{
	struct stat odst, st, tst;
	int r, t;

	r = pgdax_vol_getattr(fs->vol, parent, &odst);
	if (r == 0)
		r = pgdax_vol_getattr(fs->vol, newparent, ndst);
	if (r < 0)
		return r;
	if (cred->uid == 0)	/* root passes every rule below */
		return 0;
	r = entry_attr(fs, parent, name, &st);
	if (r < 0)	/* ENOENT, or EACCES below if not searchable */
		return pgdax_perm_lookup(&odst, cred) ?: r;
	t = entry_attr(fs, newparent, newname, &tst);
	if (t < 0 && t != -ENOENT)
		return t;
	return pgdax_perm_rename(&odst, &st, ndst, t == 0 ? &tst : NULL, cred);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat ndst;
	int r;

	fs_cred(req, &cred);
	r = may_rename(fs, &cred, parent, name, newparent, newname, &ndst);
	if (r == 0)
		r = pgdax_vol_rename2(fs->vol, parent, name, newparent, newname, flags,
				       &cred);
	fuse_reply_err(req, -r);
	/* the moved entry keeps the timeout it had in its old directory */
	if (r == 0 && parent != newparent && !walk_cacheable(fs, &ndst))
		fuse_lowlevel_notify_inval_entry(fs->se, newparent, newname, strlen(newname));
	/* an exchange also moves the other entry, into @parent */
	if (r == 0 && parent != newparent && (flags & RENAME_EXCHANGE) &&
	    !fs->opts.default_permissions)
		fuse_lowlevel_notify_inval_entry(fs->se, parent, name, strlen(name));
}

/* fs.protected_hardlinks, read at each link (root may change it) */
static bool hardlinks_protected(void)
{
	char c = '1';
	FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "re");

	if (f) {
		c = (char)fgetc(f);
		fclose(f);
	}
	return c != '0';
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct stat st, dst;
	int r;

	if (closing(req, "link")) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	fs_cred(req, &cred);
	r = check(fs, newparent, &cred, pgdax_perm_create, &dst);
	if (r == 0)
		r = pgdax_vol_getattr(fs->vol, ino, &st);
	if (r == 0)
		r = pgdax_perm_link(&st, hardlinks_protected(), &cred);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	if (fs_icount_reserve(fs, 1) < 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pgdax_vol_link(fs->vol, ino, newparent, newname, &st);
	if (r < 0) {
		fs_icount_unreserve(fs, 1);
		fuse_reply_err(req, err_of(r));
	} else {
		reply_entry_ref(req, fs, &st, entry_timeout(fs, &dst));
	}
}

/*
 * An access (a read, an open for reading, a directory listing) updates
 * atime by the mount's rule (-o relatime/strictatime/noatime/nodiratime/
 * lazytime; fs/options.c). The kernel never does (FUSE inodes are
 * S_NOATIME) and reads served from its page cache never reach the daemon,
 * so opens count as accesses too. When the time changed, the kernel's
 * cached attributes are invalidated before the request is answered: a stat
 * right after sees the new atime. On a read-only mount nothing changes.
 */
static void fs_accessed(struct fs *fs, uint64_t ino, bool dir)
{
	int policy = dir && fs->opts.nodiratime ? PGDAX_ATIME_NOATIME : fs->opts.atime;

	if (policy == PGDAX_ATIME_NOATIME || fs_is_ro(fs))
		return;
	if (pgdax_vol_touch_atime(fs->vol, ino, policy, fs->opts.lazytime) > 0)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/* Wrap a vol file in a daemon handle and set the open flags. */
static struct fs_file *file_new(struct fs *fs, struct pgdax_vol_file *vf, uint64_t ino,
				fuse_req_t req, struct fuse_file_info *fi)
{
	struct fs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->vf = vf;
	f->ino = ino;
	f->pid = fuse_req_ctx(req)->pid;
	fi->fh = (uintptr_t)f;
	/* Write-through: the kernel's cached pages are always what the
	 * daemon persisted (DAX stores are invalidated by the pin code). */
	fi->keep_cache = 1;
	/* Nothing is pending in the daemon between requests. */
	fi->noflush = 1;
	/*
	 * O_DIRECT opens bypass the kernel page cache for real
	 * (FOPEN_DIRECT_IO): one READ or WRITE per call, and no
	 * GETXATTR(security.capability) round trip before every write (the
	 * kernel's file_remove_privs runs only on its page-cache write path).
	 * Clearing setuid/setgid on a write by a non-owner is then the
	 * volume's job (pgdax_vol_write does it); fs_write tells the kernel
	 * its cached mode is stale. Buffered openers of the same file stay
	 * coherent: the kernel invalidates their pages over a direct write.
	 */
	if (fi->flags & O_DIRECT) {
		fi->direct_io = 1;
		f->direct = true;
	}
	return f;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct pgdax_vol_file *vf = NULL;
	struct pgdax_cred cred;
	struct fs_file *f;
	struct stat st;
	int r;

	r = fs_handle_reserve(fs, fuse_req_ctx(req)->pid, "open");
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fs_cred(req, &cred);
	r = pgdax_vol_getattr(fs->vol, ino, &st);
	if (r == 0)
		r = pgdax_perm_open(&st, fi->flags, &cred);
	if (r == 0)
		r = pgdax_vol_open(fs->vol, ino, fi->flags & ~PGDAX_O_EXEC, &cred, &vf);
	if (r < 0) {
		fs_handle_unreserve(fs);
		fuse_reply_err(req, err_of(r));
		return;
	}
	f = file_new(fs, vf, ino, req, fi);
	if (!f) {
		pgdax_vol_release(fs->vol, &vf);
		fs_handle_unreserve(fs);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_file_link(fs, f);
	if ((fi->flags & O_ACCMODE) != O_WRONLY && !(fi->flags & O_TRUNC))
		fs_accessed(fs, ino, false);
	if (fuse_reply_open(req, fi) < 0) {
		/* interrupted open: the kernel will send no RELEASE */
		fs_file_unlink(fs, f);
		pgdax_vol_release(fs->vol, &f->vf);
		free(f);
	}
}

/* CREATE, and TMPFILE when @name is NULL: a new regular file opened in one
 * request, with the parent's write and search permission checked as for
 * any new name (an O_TMPFILE has no name, so its entry guards no walk). */
static void create_open(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct pgdax_vol_file *vf = NULL;
	struct fuse_entry_param e;
	struct pgdax_cred cred;
	struct fs_file *f;
	struct stat st, dst;
	int r;

	fs_cred(req, &cred);
	r = check(fs, parent, &cred, pgdax_perm_create, &dst);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	r = fs_handle_reserve(fs, fuse_req_ctx(req)->pid, name ? "create" : "tmpfile");
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (fs_icount_reserve(fs, 1) < 0) {
		fs_handle_unreserve(fs);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = name ? pgdax_vol_create(fs->vol, parent, name, mode, fi->flags, &cred, &st, &vf) :
		   pgdax_vol_tmpfile(fs->vol, parent, mode, fi->flags, &cred, &st, &vf);
	if (r < 0) {
		fs_icount_unreserve(fs, 1);
		fs_handle_unreserve(fs);
		fuse_reply_err(req, err_of(r));
		return;
	}
	f = file_new(fs, vf, st.st_ino, req, fi);
	if (!f) {
		pgdax_vol_release(fs->vol, &vf);
		pgdax_vol_iput(fs->vol, st.st_ino, 1);
		fs_icount_unreserve(fs, 1);
		fs_handle_unreserve(fs);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_file_link(fs, f);
	fs_icount_add(fs, st.st_ino);
	fill_entry(&e, &st, name ? entry_timeout(fs, &dst) : FS_ENTRY_TIMEOUT);
	if (fuse_reply_create(req, &e, fi) < 0) {
		fs_file_unlink(fs, f);
		pgdax_vol_release(fs->vol, &f->vf);
		free(f);
		fs_icount_sub(fs, st.st_ino, 1);
		pgdax_vol_iput(fs->vol, st.st_ino, 1);
	}
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	create_open(req, parent, name, mode, fi);
}

#ifdef PGDAX_HAVE_FUSE_TMPFILE
/* O_TMPFILE (libfuse >= 3.17): served as create, with no name; linkat via
 * /proc/self/fd names it (pgdax_vol_link). Built against libfuse 3.14 the
 * op is absent, libfuse answers ENOSYS and open(O_TMPFILE) fails with
 * EOPNOTSUPP, as on any filesystem without it. */
static void fs_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode,
		       struct fuse_file_info *fi)
{
	create_open(req, parent, NULL, mode, fi);
}
#endif

/*
 * Reads: map the range in place and let the kernel copy straight out of
 * device memory (fuse_reply_iov -> writev on /dev/fuse); the extents stay
 * referenced until the reply has been written, then io_done drops them.
 * One pgdax_io holds at most 64 extents, so a large read over small extents
 * maps in rounds: a short FUSE reply would read as EOF to the kernel, so
 * the handler keeps mapping until the size is reached or a round maps 0.
 * If the device memory cannot be read (media error, or the emulated file
 * truncated), the kernel's copy fails and it ends the request with EIO; the
 * daemon never touches the bytes itself, so it cannot take the SIGBUS.
 */
#define READ_ROUNDS	8
#define READ_MAXIOV	((int)(2 * (FS_MAX_IO / 4096) + 8))

struct read_ctx {
	struct iovec iov[READ_MAXIOV];
	struct pgdax_io io[READ_ROUNDS];
};

/*
 * A READ that came over io_uring: libfuse would copy the reply out of device
 * memory into the ring's payload buffer itself (fuse_reply_data_uring),
 * outside the SIGBUS guard. A device that went away faults there, and the
 * fault handler's fence (lib/dev/dev_watch.c) turns the rest of the copy
 * into zeros: the reader would get zeros instead of EIO. (Over /dev/fuse
 * the kernel copies, and its fault fails the reply.) So the daemon copies
 * into the payload buffer itself, guarded, and replies with that buffer,
 * which libfuse does not copy onto itself: no more copies than before.
 * True if it replied; false to reply the usual way (not a ring request, or
 * the reply is larger than the ring's buffer).
 */
static bool reply_read_on_ring(struct fs *fs, fuse_req_t req, const struct iovec *iov, int niov)
{
#ifdef PGDAX_HAVE_FUSE_URING
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	size_t cap, n = 0;
	char *payload;

	if (!fuse_req_is_uring(req) || fuse_req_get_payload(req, &payload, &cap, NULL) < 0)
		return false;
	for (int i = 0; i < niov; i++)
		n += iov[i].iov_len;
	if (n > cap)
		return false;
	n = 0;
	for (int i = 0; i < niov; i++) {
		if (pgdax_dev_copy_guarded(pgdax_vol_dev(fs->vol), payload + n, iov[i].iov_base,
					   iov[i].iov_len, false) < 0) {
			fuse_reply_err(req, EIO);
			return true;
		}
		n += iov[i].iov_len;
	}
	bv.buf[0].mem = payload;
	bv.buf[0].size = n;
	fuse_reply_data(req, &bv, FUSE_BUF_NO_SPLICE);
	return true;
#else
	(void)fs;
	(void)req;
	(void)iov;
	(void)niov;
	return false;
#endif
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = fs_file_of(fi);
	struct read_ctx *c;
	size_t done = 0;
	int niov = 0, rounds = 0;
	ssize_t r = 0;

	if (size > FS_MAX_IO)
		size = FS_MAX_IO;
	fs_accessed(fs, ino, false);
	c = malloc(sizeof(*c));
	if (!c) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	while (done < size && rounds < READ_ROUNDS && niov < READ_MAXIOV) {
		int n = 0;

		c->io[rounds].nfolios = 0;
		r = pgdax_vol_read_map(fs->vol, f->vf, (uint64_t)off + done, size - done,
				       c->iov + niov, READ_MAXIOV - niov, &n, &c->io[rounds]);
		rounds++;
		if (r <= 0)
			break;
		done += (size_t)r;
		niov += n;
	}
	if (r < 0 && done == 0) {
		for (int i = 0; i < rounds; i++)
			pgdax_vol_io_done(fs->vol, &c->io[i]);
		fuse_reply_err(req, err_of(r));
		free(c);
		return;
	}
	/* A later round's error shortens the read: the bytes before it are
	 * good, and the kernel will ask again for the rest. */
	if (!reply_read_on_ring(fs, req, c->iov, niov))
		fuse_reply_iov(req, c->iov, niov);
	for (int i = 0; i < rounds; i++)
		pgdax_vol_io_done(fs->vol, &c->io[i]);
	free(c);
}

/* Would a write by a non-root caller clear setuid/setgid (the rule of
 * pgdax_vol_write and Linux: S_ISUID, or S_ISGID with group exec)? */
static bool write_kills_priv(struct fs *fs, uint64_t ino, uid_t uid)
{
	struct stat st;

	if (uid == 0 || pgdax_vol_getattr(fs->vol, ino, &st) < 0)
		return false;
	return (st.st_mode & S_ISUID) || ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP));
}

/*
 * An O_DIRECT write and buffered readers of the same range (README: they
 * see it at once). The kernel invalidates the range's pages when it has
 * *sent* a direct write; with FUSE_ASYNC_DIO (AIO) that is before the
 * daemon has written, so a buffered read racing in between caches the old
 * bytes again, and they outlive the write's completion. So the daemon
 * invalidates the range itself once the device holds the new bytes, and
 * only then replies: when the write completes, no page can hold older
 * bytes (a read that copied the old ones has inserted its page by the
 * time the invalidation gets its lock). The invalidation may wait for a
 * page lock held by a READ still queued, which a receiver must never do:
 * the job (invalidate, then reply) runs on a worker (fs_loop_defer). Only
 * while some handle goes through the page cache (fs.nbuffered): an
 * O_DIRECT-only workload keeps its inline replies.
 */
struct direct_done {
	struct fs *fs;
	fuse_req_t req;
	uint64_t ino;
	off_t off;
	size_t n;
	bool kill_priv;
};

static void direct_done_run(void *arg)
{
	struct direct_done *d = arg;
	int r = fuse_lowlevel_notify_inval_inode(d->fs->se, d->ino, d->off, (off_t)d->n);

	if (r < 0 && r != -ENOENT)
		pgdax_dbg("invalidate ino %llu after an O_DIRECT write: %s",
			  (unsigned long long)d->ino, strerror(-r));
	fuse_reply_write(d->req, d->n);
	if (d->kill_priv)
		fuse_lowlevel_notify_inval_inode(d->fs->se, d->ino, -1, 0);
	free(d);
}

/* 0 if the reply was handed to a worker, after the invalidation. */
static int direct_done_defer(struct fs *fs, fuse_req_t req, uint64_t ino, off_t off, size_t n,
			     bool kill_priv)
{
	struct direct_done *d;

	/* Not over io_uring: there an AIO direct write whose reply waits for
	 * the invalidation, which waits for the page locks of readahead whose
	 * READs wait behind those replies, deadlocked the mount (seen with
	 * tests/buffered_reads_see_aio_odirect_writes_once_completed.sh): the
	 * write is acknowledged at once and the kernel's own invalidation
	 * (when it sent the write) is all there is (README, Limits). */
	if (atomic_load(&fs->uring))
		return -EAGAIN;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = (struct direct_done){ .fs = fs, .req = req, .ino = ino, .off = off, .n = n,
				   .kill_priv = kill_priv };
	if (fs_loop_defer(fs, direct_done_run, d) == 0)
		return 0;
	free(d);
	pgdax_dbg("O_DIRECT write to ino %llu: no worker, replied without invalidating",
		  (unsigned long long)ino);
	return -EAGAIN;
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = fs_file_of(fi);
	struct pgdax_cred cred;
	bool kill_priv;
	ssize_t r;

	fs_cred(req, &cred);
	/* FOPEN_DIRECT_IO writes skip the kernel's own setuid clearing, so
	 * its cached mode would keep S_ISUID (which exec and permission
	 * checks trust for up to FS_ATTR_TIMEOUT) after the volume cleared
	 * it: notice that case (an in-memory getattr, non-root writers only)
	 * and invalidate the kernel's attributes after the reply. */
	kill_priv = f->direct && write_kills_priv(fs, ino, cred.uid);
	r = pgdax_vol_write(fs->vol, f->vf, (uint64_t)off, buf, size, &cred);
	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	if (f->direct && r > 0 && atomic_load(&fs->nbuffered) > 0 &&
	    direct_done_defer(fs, req, ino, off, (size_t)r, kill_priv) == 0)
		return;
	fuse_reply_write(req, (size_t)r);
	if (kill_priv)	/* attributes only (offset -1): waits for no page */
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* Synchronous filesystem: nothing is pending in the daemon. */
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = fs_file_of(fi);

	(void)ino;
	/* Volume first (drops the file's pins), then the handle count: the
	 * count reaching 0 may start teardown phase 2 at once. */
	pgdax_vol_release(fs->vol, &f->vf);
	fs_file_unlink(fs, f);
	free(f);
	fuse_reply_err(req, 0);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)fi;
	fuse_reply_err(req, -pgdax_vol_fsync(fs_of(req)->vol, ino, datasync != 0));
}

/*
 * Directories need no volume handle (readdir offsets are stable positions
 * and the kernel's lookup reference keeps the inode), but each open
 * directory counts as an open handle for teardown, so a directory being
 * listed keeps being served until it is closed. While closing, only the
 * root may still be opened (pgdaxctl status asks the daemon through an
 * ioctl on it): such a handle is not counted (fi->fh = 0), so status
 * requests never hold up the drain they report on.
 */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	struct fs_file *f;
	struct stat st;
	int r;

	fi->fh = 0;
	fi->keep_cache = 0;
	fi->cache_readdir = 0;
	/* reading a directory needs read permission (the status handle
	 * below too: pgdaxctl status runs as root) */
	fs_cred(req, &cred);
	r = pgdax_vol_getattr(fs->vol, ino, &st);
	if (r == 0)
		r = pgdax_perm_open(&st, fi->flags, &cred);
	if (r < 0 && !(r == -EIO && ino == FUSE_ROOT_ID)) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	r = fs_handle_reserve(fs, fuse_req_ctx(req)->pid, NULL);
	if (r < 0) {
		if (ino == FUSE_ROOT_ID) {
			fuse_reply_open(req, fi);	/* a status handle */
		} else {
			fs_handles_refused(fs, fuse_req_ctx(req)->pid, "opendir");
			fuse_reply_err(req, -r);
		}
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		fs_handle_unreserve(fs);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f->ino = ino;
	f->dir = true;
	f->pid = fuse_req_ctx(req)->pid;
	fi->fh = (uintptr_t)f;
	fs_file_link(fs, f);
	if (fuse_reply_open(req, fi) < 0) {
		fs_file_unlink(fs, f);	/* no RELEASEDIR will come */
		free(f);
	}
}

struct dir_ctx {
	fuse_req_t req;
	struct fs *fs;
	bool plus;
	double timeout;		/* of plus entries: entry_timeout(dir) */
	char *buf;
	size_t size, used;
	uint64_t *refs;		/* inodes referenced for plus entries */
	size_t nrefs, maxrefs;
	int err;
};

static bool dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static int fill_dir(void *arg, const char *name, const struct stat *st, uint64_t next_off)
{
	struct dir_ctx *d = arg;
	size_t rem = d->size - d->used, ent;

	if (!d->plus) {
		ent = fuse_add_direntry(d->req, d->buf + d->used, rem, name, st, (off_t)next_off);
		if (ent > rem)
			return 1;
		d->used += ent;
		return 0;
	}
	if (dot_or_dotdot(name)) {
		/* ino 0 tells the kernel not to instantiate it: no reference */
		struct fuse_entry_param e = { .ino = 0 };

		e.attr.st_ino = st->st_ino;
		e.attr.st_mode = st->st_mode & S_IFMT;
		ent = fuse_add_direntry_plus(d->req, d->buf + d->used, rem, name, &e,
					     (off_t)next_off);
		if (ent > rem)
			return 1;
		d->used += ent;
		return 0;
	}
	if (d->nrefs == d->maxrefs) {
		size_t n = d->maxrefs ? 2 * d->maxrefs : 64;
		uint64_t *p = realloc(d->refs, n * sizeof(*p));

		if (!p) {
			d->err = ENOMEM;
			return 1;
		}
		d->refs = p;
		d->maxrefs = n;
	}
	/* room to count the lookup the entry gives (fs_icount_add after) */
	if (fs_icount_reserve(d->fs, 1) < 0) {
		d->err = ENOMEM;
		return 1;
	}
	{
		struct fuse_entry_param e;

		fill_entry(&e, st, d->timeout);
		ent = fuse_add_direntry_plus(d->req, d->buf + d->used, rem, name, &e,
					     (off_t)next_off);
		if (ent > rem) {
			fs_icount_unreserve(d->fs, 1);
			return 1;
		}
	}
	/* The entry is in the reply: it carries the reference the volume
	 * took for it (pgdax_vol_readdir with plus takes one per entry other
	 * than . and .., and drops it itself when fill returns nonzero). */
	d->refs[d->nrefs++] = st->st_ino;
	d->used += ent;
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs *fs = fs_of(req);
	struct dir_ctx d = { .req = req, .fs = fs, .plus = plus, .size = size };
	struct stat dst;
	int r;

	d.timeout = pgdax_vol_getattr(fs->vol, ino, &dst) == 0 ? entry_timeout(fs, &dst) : 0.0;
	d.buf = malloc(size ? size : 1);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pgdax_vol_readdir(fs->vol, ino, (uint64_t)off, plus, fill_dir, &d);
	if (r >= 0 && d.err && d.used == 0)
		r = -d.err;
	if (r < 0 && d.used == 0) {
		fuse_reply_err(req, err_of(r));
	} else {
		fs_accessed(fs, ino, true);
		for (size_t i = 0; i < d.nrefs; i++)
			fs_icount_add(fs, d.refs[i]);
		if (fuse_reply_buf(req, d.buf, d.used) < 0) {
			for (size_t i = 0; i < d.nrefs; i++) {
				fs_icount_sub(fs, d.refs[i], 1);
				pgdax_vol_iput(fs->vol, d.refs[i], 1);
			}
		}
		d.nrefs = 0;
	}
	/* on an error reply no entry was delivered */
	if (d.nrefs)
		fs_icount_unreserve(fs, d.nrefs);
	for (size_t i = 0; i < d.nrefs; i++)
		pgdax_vol_iput(fs->vol, d.refs[i], 1);
	free(d.refs);
	free(d.buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = fi->fh ? fs_file_of(fi) : NULL;

	(void)ino;
	if (f) {
		fs_file_unlink(fs_of(req), f);
		free(f);
	}
	fuse_reply_err(req, 0);
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)fi;
	fuse_reply_err(req, -pgdax_vol_fsync(fs_of(req)->vol, ino, datasync != 0));
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int r = pgdax_vol_statfs(fs_of(req)->vol, &sv);

	(void)ino;
	if (r < 0)
		fuse_reply_err(req, err_of(r));
	else
		fuse_reply_statfs(req, &sv);
}

/*
 * Namespaces the kernel passes to FUSE unchecked: refuse unknown prefixes
 * as local filesystems do (EOPNOTSUPP), before the volume stores them.
 * system.* is left to the kernel (POSIX ACLs are not enabled, so it
 * refuses them itself).
 */
static bool xattr_ns_ok(const char *name)
{
	return !strncmp(name, "user.", 5) || !strncmp(name, "trusted.", 8) ||
	       !strncmp(name, "security.", 9);
}

/* The namespace and permission rules for @name on @ino (perm.c). */
static int may_xattr(fuse_req_t req, fuse_ino_t ino, const char *name, int mask)
{
	struct pgdax_cred cred;
	struct stat st;
	int r;

	if (!xattr_ns_ok(name))
		return -EOPNOTSUPP;
	fs_cred(req, &cred);
	r = pgdax_vol_getattr(fs_of(req)->vol, ino, &st);
	return r < 0 ? r : pgdax_perm_xattr(&st, name, mask, &cred);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	int r = may_xattr(req, ino, name, PGDAX_MAY_WRITE);

	if (r == 0)
		r = pgdax_vol_setxattr(fs_of(req)->vol, ino, name, value, size, flags);
	fuse_reply_err(req, -r);
}

/* getxattr/listxattr: size 0 asks for the length. */
static void reply_xattr(fuse_req_t req, ssize_t r, const char *buf, size_t size)
{
	if (r < 0)
		fuse_reply_err(req, err_of(r));
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf;
	ssize_t r = may_xattr(req, ino, name, PGDAX_MAY_READ);

	if (r < 0) {
		fuse_reply_err(req, err_of(r));
		return;
	}
	buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = pgdax_vol_getxattr(fs_of(req)->vol, ino, name, buf, size);
	reply_xattr(req, r, buf, size);
	free(buf);
}

/* Drop the names the caller may not see from a list of @len bytes;
 * returns the new length. */
static size_t filter_names(char *buf, size_t len, const struct pgdax_cred *cred)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(buf + in, len - in) + 1;

		if (pgdax_perm_xattr_listed(buf + in, cred)) {
			memmove(buf + out, buf + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	char *buf = NULL;
	ssize_t r;

	fs_cred(req, &cred);
	if (cred.uid == 0) {
		buf = size ? malloc(size) : NULL;
		if (size && !buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		r = pgdax_vol_listxattr(fs->vol, ino, buf, size);
		reply_xattr(req, r, buf, size);
		free(buf);
		return;
	}
	/* others do not see trusted.*: list all, then filter */
	for (int tries = 0; tries < 8; tries++) {
		r = pgdax_vol_listxattr(fs->vol, ino, NULL, 0);
		if (r <= 0)
			break;
		free(buf);
		buf = malloc((size_t)r);
		if (!buf) {
			r = -ENOMEM;
			break;
		}
		r = pgdax_vol_listxattr(fs->vol, ino, buf, (size_t)r);
		if (r != -ERANGE)	/* else it grew meanwhile */
			break;
	}
	if (r > 0)
		r = (ssize_t)filter_names(buf, (size_t)r, &cred);
	if (r >= 0 && size && (size_t)r > size)
		r = -ERANGE;
	reply_xattr(req, r, buf, size);
	free(buf);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	/* security.capability goes when a file is written or truncated: the
	 * kernel's file_remove_privs() sends this REMOVEXATTR with the
	 * writer's credentials (no HANDLE_KILLPRIV). A writer may; an
	 * explicit removexattr(2) of it was already held to CAP_SETFCAP by the
	 * VFS (cap_inode_removexattr) before it reached the daemon. */
	int r = may_xattr(req, ino, name, PGDAX_MAY_WRITE);

	if (r == -EPERM && strcmp(name, "security.capability") == 0) {
		struct pgdax_cred cred;
		struct stat st;

		fs_cred(req, &cred);
		r = pgdax_vol_getattr(fs_of(req)->vol, ino, &st);
		if (r == 0)
			r = pgdax_perm_inode(&st, &cred, PGDAX_MAY_WRITE);
	}

	if (r == 0)
		r = pgdax_vol_removexattr(fs_of(req)->vol, ino, name);
	fuse_reply_err(req, -r);
}

/*
 * access(2), faccessat(2) and chdir(2): without default_permissions the
 * kernel asks (FUSE_ACCESS, with the caller's fsuid/fsgid: access(2)'s
 * real ids when it asks for them); the same rules as every other check.
 */
static void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct pgdax_cred cred;
	struct stat st;
	int r = pgdax_vol_getattr(fs_of(req)->vol, ino, &st);

	fs_cred(req, &cred);
	if (r == 0)
		r = pgdax_perm_inode(&st, &cred, mask);
	fuse_reply_err(req, -r);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct pgdax_cred cred;
	bool kill_priv;
	int r;

	(void)fi;
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fs_cred(req, &cred);
	/* The kernel clears no setuid bit on fallocate (it sends no SETATTR,
	 * and its mode invalidation after FALLOCATE omits the mode): the
	 * volume clears it, and the kernel's cached mode must follow, as for
	 * an O_DIRECT write (fs_write). */
	kill_priv = write_kills_priv(fs, ino, cred.uid);
	r = pgdax_vol_fallocate(fs->vol, ino, mode, (uint64_t)offset, (uint64_t)length, &cred);
	fuse_reply_err(req, -r);
	if (kill_priv && r == 0)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	uint64_t res = 0;
	int r;

	(void)fi;
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	r = pgdax_vol_lseek(fs_of(req)->vol, ino, (uint64_t)off, whence, &res);
	if (r < 0)
		fuse_reply_err(req, err_of(r));
	else
		fuse_reply_lseek(req, (off_t)res);
}

static void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct pgdax_cred cred;
	ssize_t r;

	(void)fi_in;
	(void)fi_out;
	if (flags != 0 || off_in < 0 || off_out < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fs_cred(req, &cred);
	r = pgdax_vol_copy_range(fs_of(req)->vol, ino_in, (uint64_t)off_in, ino_out,
				 (uint64_t)off_out, len, &cred);
	if (r < 0)
		fuse_reply_err(req, err_of(r));
	else
		fuse_reply_write(req, (size_t)r);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init		= fs_init,
	.destroy	= fs_destroy,
	.lookup		= fs_lookup,
	.forget		= fs_forget,
	.forget_multi	= fs_forget_multi,
	.getattr	= fs_getattr,
	.setattr	= fs_setattr,
	.readlink	= fs_readlink,
	.mknod		= fs_mknod,
	.mkdir		= fs_mkdir,
	.unlink		= fs_unlink,
	.rmdir		= fs_rmdir,
	.symlink	= fs_symlink,
	.rename		= fs_rename,
#ifdef PGDAX_HAVE_FUSE_TMPFILE
	.tmpfile	= fs_tmpfile,
#endif
	.link		= fs_link,
	.open		= fs_open,
	.create		= fs_create,
	.read		= fs_read,
	.write		= fs_write,
	.flush		= fs_flush,
	.release	= fs_release,
	.fsync		= fs_fsync,
	.opendir	= fs_opendir,
	.readdir	= fs_readdir,
	.readdirplus	= fs_readdirplus,
	.releasedir	= fs_releasedir,
	.fsyncdir	= fs_fsyncdir,
	.statfs		= fs_statfs,
	.setxattr	= fs_setxattr,
	.getxattr	= fs_getxattr,
	.listxattr	= fs_listxattr,
	.removexattr	= fs_removexattr,
	.access		= fs_access,
	.fallocate	= fs_fallocate,
	.lseek		= fs_lseek,
	.copy_file_range = fs_copy_file_range,
	.ioctl		= fs_ioctl,
	.poll		= fs_poll,
#ifdef FS_HAVE_STATX
	.statx		= fs_statx,
#endif
	/* no getlk/setlk/flock: locks stay in the kernel (single host) */
};
