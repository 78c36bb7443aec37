/* SPDX-License-Identifier: MIT */
/*
 * The volume: a formatted device, mounted by one process (the daemon). This
 * is the filesystem proper: inodes, directories, extent maps, xattrs and
 * orphans on the medium (lib/vol/format.h), crash-consistent through the
 * journal (lib/vol/journal.c), data reached through the refcount core
 * (lib/core/pgmap.h). The FUSE daemon (fs/) is a thin layer over this API.
 *
 * Conventions: every call returns 0 (or a byte count) or a negative errno.
 * Inode numbers are the on-media ones and match FUSE's: the root is 1.
 * Every call that acknowledges a change returns only once that change,
 * data and metadata, is persistent (DESIGN.md section 6): the daemon replies
 * to FUSE after the call returns, and so is synchronous.
 *
 * Inode references: calls that return a new entry (lookup, mknod, mkdir,
 * symlink, link, create) take one reference on the inode for the caller,
 * matching the kernel's lookup count; pgdax_vol_iput() drops n of them
 * (FUSE FORGET). Open files hold a reference through their pgdax_vol_file.
 * An inode whose link count reaches 0 while referenced is an orphan (on the
 * medium's orphan list) until its last reference goes; a mount reclaims
 * orphans left by a crash.
 */
#ifndef PGDAX_VOL_H
#define PGDAX_VOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

struct pgdax_vol;
struct pgdax_vol_file;
struct pgdax_pgmap;
struct pgdax_dev;
struct pgdax_folio;

#define PGDAX_ROOT_INO 1

struct pgdax_vol_opts {
	unsigned flags;			/* PGDAX_VOL_* */
	int break_timeout_ms;		/* truncate/punch waiting on pinned extents (-1 forever) */
	uint64_t align_override;	/* 0, or emulated device alignment */
	/* reclaim of an unlinked inode waits for its extents without a time
	 * limit; after this long (0: 60 s), and every period after, it logs
	 * the inode and the extents still referenced (stalled_reclaims) */
	int stall_report_ms;
	/* corruption met while mounted (recorded in the superblock either
	 * way): PGDAX_VOL_ERRORS_* (0 = remount-ro) */
	int errors;
};
#define PGDAX_VOL_RDONLY	(1u << 0)
/* pgdax_vol_opts.errors, as ext4's errors=: the call that met the damage
 * fails (EUCLEAN) in every mode; then */
#define PGDAX_VOL_ERRORS_REMOUNT_RO	0	/* every later change fails with EROFS */
#define PGDAX_VOL_ERRORS_CONTINUE	1	/* only calls touching damage fail */
#define PGDAX_VOL_ERRORS_PANIC		2	/* the process aborts */

/* The caller of a request (from the FUSE request context). */
struct pgdax_cred {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	/* an interrupted request makes waits return -EINTR; may be NULL */
	bool (*interrupted)(void *arg);
	void *interrupted_arg;
	/* the caller's supplementary groups, asked for only when a
	 * permission check needs them (fuse_req_getgroups: returns the
	 * number of groups, stores at most @size); may be NULL: none */
	int (*groups)(void *arg, int size, gid_t list[]);
	void *groups_arg;
};

/*
 * Permission checks (perm.c): the POSIX rules on the volume's attributes,
 * for a daemon that mounts without default_permissions. Each returns 0 or
 * the kernel's errno (-EACCES, -EPERM, -ENODATA for a hidden xattr).
 */
#define PGDAX_MAY_EXEC	1	/* as access(2)'s X_OK, W_OK, R_OK */
#define PGDAX_MAY_WRITE	2
#define PGDAX_MAY_READ	4
/* the kernel's __FMODE_EXEC: in the FUSE open flags of an exec */
#define PGDAX_O_EXEC	040
bool pgdax_perm_in_group(const struct pgdax_cred *cred, gid_t gid);
int pgdax_perm_inode(const struct stat *st, const struct pgdax_cred *cred, int mask);
int pgdax_perm_lookup(const struct stat *dir, const struct pgdax_cred *cred);
int pgdax_perm_create(const struct stat *dir, const struct pgdax_cred *cred);
int pgdax_perm_delete(const struct stat *dir, const struct stat *victim,
		      const struct pgdax_cred *cred);
/* @target: the entry replaced, or NULL */
int pgdax_perm_rename(const struct stat *olddir, const struct stat *victim,
		      const struct stat *newdir, const struct stat *target,
		      const struct pgdax_cred *cred);
int pgdax_perm_open(const struct stat *st, int flags, const struct pgdax_cred *cred);
/* @protected: the fs.protected_hardlinks sysctl is 1 */
int pgdax_perm_link(const struct stat *st, bool protected, const struct pgdax_cred *cred);
/* may clear S_ISGID in attr->st_mode (a non-member's chmod); @has_fh: an
 * ftruncate on a file opened for writing */
int pgdax_perm_setattr(const struct stat *st, struct stat *attr, int valid, bool has_fh,
		       const struct pgdax_cred *cred);
/* @mask: PGDAX_MAY_READ (get) or PGDAX_MAY_WRITE (set, remove) */
int pgdax_perm_xattr(const struct stat *st, const char *name, int mask,
		     const struct pgdax_cred *cred);
bool pgdax_perm_xattr_listed(const char *name, const struct pgdax_cred *cred);

/* setattr mask bits: equal to FUSE_SET_ATTR_* so the daemon passes them on */
#define PGDAX_SET_MODE		(1 << 0)
#define PGDAX_SET_UID		(1 << 1)
#define PGDAX_SET_GID		(1 << 2)
#define PGDAX_SET_SIZE		(1 << 3)
#define PGDAX_SET_ATIME		(1 << 4)
#define PGDAX_SET_MTIME		(1 << 5)
#define PGDAX_SET_ATIME_NOW	(1 << 7)
#define PGDAX_SET_MTIME_NOW	(1 << 8)
#define PGDAX_SET_CTIME		(1 << 10)
#define PGDAX_SET_KILL_SUIDGID	(1 << 11)

/* Mount: open (exclusive lock), validate, replay the journal, reclaim orphans. */
int pgdax_vol_mount(const char *device, const struct pgdax_vol_opts *opts,
		    struct pgdax_vol **out);
/* Block new references (pgmap kill). Idempotent. */
void pgdax_vol_kill(struct pgdax_vol *vol);
/* Wait until every extent reference is gone; 0 or -ETIMEDOUT. */
int pgdax_vol_drain(struct pgdax_vol *vol, int timeout_ms);
/* Mark clean, release the device (after kill+drain; does both if needed).
 * 0; -ENODEV when the volume was dead (released all the same, *vol NULL,
 * not marked clean); another negative errno when nothing was released. */
int pgdax_vol_unmount(struct pgdax_vol **vol);
/*
 * Dead: the device went away under the mount (DESIGN.md 4a). Every call
 * then fails with -EIO and nothing more reaches the device; only release,
 * iput, stats and unmount still work. The reason is a sentence for logs
 * and status ("" while alive).
 */
bool pgdax_vol_is_dead(struct pgdax_vol *vol);
void pgdax_vol_dead_reason(struct pgdax_vol *vol, char *buf, size_t len);
/*
 * Call @cb(arg, why) once when the volume dies (after the holder revoked
 * its holds), from the device's watcher thread with no volume lock held;
 * at once if it is dead already. For the daemon, to drop what the kernel
 * caches. One callback per volume; set it before serving. @cb NULL unsets
 * it and waits for a call in progress to return (before freeing what the
 * callback uses).
 */
void pgdax_vol_on_dead(struct pgdax_vol *vol, void (*cb)(void *arg, const char *why),
		       void *arg);
struct pgdax_pgmap *pgdax_vol_pgmap(struct pgdax_vol *vol);

/* Inodes */
int pgdax_vol_getattr(struct pgdax_vol *vol, uint64_t ino, struct stat *st);
/* getattr plus the birth time (statx btime), set when the inode was created. */
int pgdax_vol_getattr_btime(struct pgdax_vol *vol, uint64_t ino, struct stat *st,
			    struct timespec *btime);
int pgdax_vol_lookup(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     struct stat *st);
/*
 * One more reference on inode @ino, for a reply that gives the kernel a
 * lookup count no other call took (the daemon's lookup of "." on a
 * non-directory, for NFS export). Not for readdirplus: pgdax_vol_readdir()
 * takes its references itself. Returns 0, or a negative errno (logged;
 * -ESTALE: @ino is not an inode in use, -EUCLEAN: its slot is corrupt) and
 * then takes none.
 */
int pgdax_vol_iget(struct pgdax_vol *vol, uint64_t ino);
/* Drop @n references (FUSE FORGET); the last one of an unlinked inode frees
 * it and its blocks before returning. Dropping more than are held aborts. */
void pgdax_vol_iput(struct pgdax_vol *vol, uint64_t ino, uint64_t n);
int pgdax_vol_setattr(struct pgdax_vol *vol, uint64_t ino, const struct stat *attr,
		      int valid, const struct pgdax_cred *cred, struct stat *out);

/* Inode attribute flags (chattr/lsattr), equal to the kernel's FS_*_FL so
 * the daemon passes FS_IOC_GETFLAGS/SETFLAGS values on; enforced by every
 * operation as ext4 does (lib/vol/iflags.c). Setting a flag not in
 * PGDAX_IATTR_KNOWN fails -EOPNOTSUPP; changing a or i needs uid 0. */
#define PGDAX_IATTR_IMMUTABLE	0x00000010	/* FS_IMMUTABLE_FL, chattr +i */
#define PGDAX_IATTR_APPEND	0x00000020	/* FS_APPEND_FL, chattr +a */
#define PGDAX_IATTR_NOATIME	0x00000080	/* FS_NOATIME_FL, chattr +A */
#define PGDAX_IATTR_KNOWN	(PGDAX_IATTR_IMMUTABLE | PGDAX_IATTR_APPEND | PGDAX_IATTR_NOATIME)
int pgdax_vol_get_iflags(struct pgdax_vol *vol, uint64_t ino, uint32_t *flags);
int pgdax_vol_set_iflags(struct pgdax_vol *vol, uint64_t ino, uint32_t flags,
			 const struct pgdax_cred *cred);
/*
 * Access time (mount options atime/relatime/strictatime/noatime, lazytime):
 * record an access to @ino (a read, an open for reading, a directory
 * listing). RELATIME updates only when the access time is not after the
 * modification or change time, or is 24 h old (Linux's rule); STRICT always;
 * NOATIME never. The time is a hot field of the inode: a store and, unless
 * @lazy, one flush, never a journal transaction. Returns 1 if the time
 * changed (the kernel's cached attributes are then stale), 0 if not
 * (also on a read-only volume), or -errno.
 */
enum { PGDAX_ATIME_RELATIME = 0, PGDAX_ATIME_STRICT, PGDAX_ATIME_NOATIME };
int pgdax_vol_touch_atime(struct pgdax_vol *vol, uint64_t ino, int policy, bool lazy);

/* Namespace: each returns the new entry's attributes with a reference. */
int pgdax_vol_mknod(struct pgdax_vol *vol, uint64_t dir, const char *name,
		    mode_t mode, dev_t rdev, const struct pgdax_cred *cred, struct stat *st);
int pgdax_vol_mkdir(struct pgdax_vol *vol, uint64_t dir, const char *name,
		    mode_t mode, const struct pgdax_cred *cred, struct stat *st);
int pgdax_vol_symlink(struct pgdax_vol *vol, uint64_t dir, const char *name,
		      const char *target, const struct pgdax_cred *cred, struct stat *st);
int pgdax_vol_link(struct pgdax_vol *vol, uint64_t ino, uint64_t newdir,
		   const char *newname, struct stat *st);
int pgdax_vol_unlink(struct pgdax_vol *vol, uint64_t dir, const char *name);
int pgdax_vol_rmdir(struct pgdax_vol *vol, uint64_t dir, const char *name);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE (others -EINVAL) */
int pgdax_vol_rename(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     uint64_t newdir, const char *newname, unsigned flags);
/* The same with the caller's credentials, which own the whiteout that
 * RENAME_WHITEOUT leaves at the old name (a character device 0/0, what
 * overlayfs takes for a deleted lower file), in the same transaction. */
int pgdax_vol_rename2(struct pgdax_vol *vol, uint64_t dir, const char *name,
		      uint64_t newdir, const char *newname, unsigned flags,
		      const struct pgdax_cred *cred);
int pgdax_vol_readlink(struct pgdax_vol *vol, uint64_t ino, char *buf, size_t size);

/*
 * Directory listing from @off (0 = start; offsets are stable positions, so
 * concurrent changes neither repeat nor skip entries that stay). @fill gets
 * each entry with the offset of the next one and returns nonzero to stop
 * (reply buffer full); that entry then counts as not returned.
 * With @plus, @st is the full attributes and each entry other than "." and
 * ".." carries one inode reference taken by this call: it becomes the
 * caller's when @fill returns 0 (the caller drops it with pgdax_vol_iput()
 * if the reply never reaches the kernel), and this call drops it itself
 * when @fill returns nonzero. "." and ".." carry none. Without @plus, only
 * st_ino and the type bits of st_mode are set, and no reference is taken.
 */
typedef int (*pgdax_filldir_t)(void *ctx, const char *name, const struct stat *st,
			       uint64_t next_off);
int pgdax_vol_readdir(struct pgdax_vol *vol, uint64_t dir, uint64_t off, bool plus,
		      pgdax_filldir_t fill, void *ctx);

/* Open files. O_TRUNC is applied by open; access checks are the kernel's. */
int pgdax_vol_open(struct pgdax_vol *vol, uint64_t ino, int flags,
		   const struct pgdax_cred *cred, struct pgdax_vol_file **f);
/* mknod+open in one step; -EEXIST if the name exists (O_EXCL is the kernel's) */
int pgdax_vol_create(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     mode_t mode, int flags, const struct pgdax_cred *cred,
		     struct stat *st, struct pgdax_vol_file **f);
/* O_TMPFILE in @dir: a file with no name (nlink 0, on the orphan list,
 * freed at its last close or, after a crash, at mount) that linkat may
 * name; returns its attributes with a reference, and the open file. */
int pgdax_vol_tmpfile(struct pgdax_vol *vol, uint64_t dir, mode_t mode, int flags,
		      const struct pgdax_cred *cred, struct stat *st,
		      struct pgdax_vol_file **f);
/* Last close of an open file (FUSE RELEASE): drops its pins and its inode ref. */
void pgdax_vol_release(struct pgdax_vol *vol, struct pgdax_vol_file **f);
uint64_t pgdax_vol_file_ino(const struct pgdax_vol_file *f);

/*
 * Reads map the device in place: the iovecs point into device memory (or a
 * shared zero buffer for holes), and the extents stay referenced until
 * pgdax_vol_io_done(), so the daemon can hand them to fuse_reply_iov() and
 * the kernel copies straight from the device. Returns bytes mapped (short at
 * EOF, 0 past it).
 */
struct pgdax_io {
	int nfolios;
	struct pgdax_folio *folios[64];
};
ssize_t pgdax_vol_read_map(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			   uint64_t off, size_t size, struct iovec *iov,
			   int maxiov, int *niov, struct pgdax_io *io);
void pgdax_vol_io_done(struct pgdax_vol *vol, struct pgdax_io *io);
/* Copy @size bytes into the file (allocating as needed), persist, and update
 * size/mtime/ctime; clears setuid/setgid as Linux does on write by a
 * non-owner. O_APPEND files write at EOF. Returns bytes written. */
ssize_t pgdax_vol_write(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			uint64_t off, const void *buf, size_t size,
			const struct pgdax_cred *cred);
/* fallocate(2) modes: 0, FALLOC_FL_KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE */
int pgdax_vol_fallocate(struct pgdax_vol *vol, uint64_t ino, int mode,
			uint64_t off, uint64_t len, const struct pgdax_cred *cred);
/* SEEK_DATA / SEEK_HOLE (others -EINVAL); -ENXIO past EOF as lseek(2). */
int pgdax_vol_lseek(struct pgdax_vol *vol, uint64_t ino, uint64_t off, int whence,
		    uint64_t *result);
ssize_t pgdax_vol_copy_range(struct pgdax_vol *vol, uint64_t ino_in, uint64_t off_in,
			     uint64_t ino_out, uint64_t off_out, size_t len,
			     const struct pgdax_cred *cred);
/* Everything is persistent on return of each call; this only orders. */
int pgdax_vol_fsync(struct pgdax_vol *vol, uint64_t ino, bool datasync);
int pgdax_vol_statfs(struct pgdax_vol *vol, struct statvfs *st);

/* Extended attributes; flags XATTR_CREATE / XATTR_REPLACE. size 0 asks the size. */
int pgdax_vol_setxattr(struct pgdax_vol *vol, uint64_t ino, const char *name,
		       const void *value, size_t size, int flags);
ssize_t pgdax_vol_getxattr(struct pgdax_vol *vol, uint64_t ino, const char *name,
			   void *buf, size_t size);
ssize_t pgdax_vol_listxattr(struct pgdax_vol *vol, uint64_t ino, char *buf, size_t size);
int pgdax_vol_removexattr(struct pgdax_vol *vol, uint64_t ino, const char *name);

/*
 * Counters for status (pgdaxctl status) and tests.
 *
 * Space accounting, the same in statfs (df, df -i), here (pgdaxctl status)
 * and in fsck's summary (lib/fsck): metadata (superblocks, journal, bitmaps,
 * inode table) is excluded, as ext4's default (bsddf) does. blocks = the
 * data area (s_blocks - s_data_start - 1); used = blocks - free_blocks =
 * blocks owned by inodes (file data, directory, extent and xattr blocks:
 * the sum of i_blocks) plus bad blocks; an empty volume uses 0. inodes =
 * every inode slot but the reserved slot 0; used = inodes - free_inodes =
 * inodes in use, the root included: an empty volume uses 1. (Pages freed
 * while a client still maps them count as used until the quarantine lets
 * them go.)
 */
struct pgdax_vol_stats {
	uint64_t blocks, free_blocks, block_size;
	uint64_t inodes, free_inodes;
	uint64_t active_extents;	/* folios with refcount > 0 */
	uint64_t inflight_io;		/* transient I/O references held now */
	uint64_t orphans;
	uint64_t quarantined_pages;
	uint64_t stalled_reclaims;	/* reclaims waiting longer than stall_report_ms */
	int pgmap_state;		/* enum pgmap_state */
	int64_t live_count;
};
/*
 * Any thread, any time while the volume exists: concurrently with requests,
 * pgdax_vol_kill/drain and the quarantine's stop (lib/vol/quarantine.h),
 * whose state lives as long as the volume. Not concurrently with
 * pgdax_vol_unmount, which frees the volume: the caller ends its readers
 * first (the daemon joins its signal thread, the only other caller).
 */
void pgdax_vol_get_stats(struct pgdax_vol *vol, struct pgdax_vol_stats *s);

/*
 * Holders: the layer above (lib/pin/) hands file extents to DAX clients and
 * holds folio references for them. The volume never calls that layer by
 * name (dependencies point down); it calls these operations, registered
 * once per mounted volume, as fs/dax.c reaches a device's holder through
 * dax_holder_operations. Any may be NULL.
 *   break_layout  a truncate/punch/zero-range is about to wait for file
 *                 pages [first, first + n) of inode @ino to be idle: from
 *                 now on refuse new holds overlapping them and tell the
 *                 current holders (called with the inode lock held for
 *                 writing: must not block on other requests). 0, or a
 *                 negative errno (-ENOMEM: the break could not be
 *                 recorded) which fails the operation, changing nothing,
 *                 without break_done;
 *   break_done    that wait is over, whatever its outcome;
 *   release_file  the last close of @f: drop everything held through it
 *                 (called before @f's inode reference goes);
 *   device_lost   the device went away (from the device's watcher thread):
 *                 revoke every hold, dropping its references, and tell the
 *                 holders why;
 *   fini          unmount: free the holder's state (nothing held any more).
 */
struct pgdax_vol_holder_ops {
	int (*break_layout)(void *ctx, uint64_t ino, uint64_t first, uint64_t n);
	void (*break_done)(void *ctx, uint64_t ino, uint64_t first, uint64_t n);
	void (*release_file)(void *ctx, struct pgdax_vol_file *f);
	void (*device_lost)(void *ctx, const char *why);
	void (*fini)(void *ctx);
};
/* Register the holder of @vol. 0, or -EBUSY if one is registered (then
 * pgdax_vol_holder() returns that one's @ctx). */
int pgdax_vol_set_holder(struct pgdax_vol *vol, const struct pgdax_vol_holder_ops *ops,
			 void *ctx);
/* The registered holder's context, or NULL. */
void *pgdax_vol_holder(struct pgdax_vol *vol);
/* The holder's slot in an open file (the volume never reads it). */
void **pgdax_vol_file_holder(struct pgdax_vol_file *f);

/* What the layer above may read of a volume and of an open file. */
struct pgdax_dev *pgdax_vol_dev(struct pgdax_vol *vol);
uint32_t pgdax_vol_block_size(const struct pgdax_vol *vol);
uint64_t pgdax_vol_blocks(const struct pgdax_vol *vol);
bool pgdax_vol_is_rdonly(const struct pgdax_vol *vol);
int pgdax_vol_file_flags(const struct pgdax_vol_file *f);	/* open(2) flags */
mode_t pgdax_vol_file_mode(const struct pgdax_vol_file *f);
uint64_t pgdax_vol_file_size(const struct pgdax_vol_file *f);

/*
 * DAX layout (lib/vol/layout.c): give a holder the device extents of file
 * range [off, end_aligned) of @f, where @off and @end_aligned are multiples
 * of @align (the device alignment, a power of two >= the block size), one
 * alignment unit at a time, each unit an extent that is aligned and holds
 * bytes of this file only, so a client may map it. Under the inode lock
 * held for writing, in this order:
 *   ops->begin(ctx)   may refuse (a layout break on the range: -EBUSY);
 *   for every unit, ops->unit(ctx, &ext): with ext.folio a folio reference
 *                     taken for the holder (NULL for a hole of a read-only
 *                     request), which the holder keeps or puts; a unit not
 *                     covered by one aligned extent is first re-laid out
 *                     (copied into one, in one transaction; -EROFS on a
 *                     read-only volume); a writable request allocates holes;
 *   the file grows to @end only with PGDAX_VOL_DAX_EXTEND (a write fault
 *   past EOF, asked for explicitly);
 *   ops->commit(ctx)  the holder records the hold.
 * A writable request without EXTEND must end within the blocks that hold
 * the file's bytes (@end <= i_size rounded up to the block size: like
 * mmap(2) of the partial last page, which changes no size); past them it
 * is -ENXIO (POSIX mmap: "addresses in the range are invalid for the
 * object") before anything is done. EXTEND without WRITE is -EINVAL.
 * Returns 0, or the first negative errno of the volume or of a callback
 * (then nothing is recorded; references already given stay the holder's to
 * put).
 */
#define PGDAX_VOL_DAX_WRITE	(1u << 0)	/* writable: holes are allocated */
#define PGDAX_VOL_DAX_EXTEND	(1u << 1)	/* with WRITE: grow the file to @end */
struct pgdax_vol_dax_ext {
	uint64_t file_off, dev_off, len;	/* bytes */
	bool hole;
	struct pgdax_folio *folio;		/* NULL for a hole */
};
struct pgdax_vol_dax_ops {
	int (*begin)(void *ctx);
	int (*unit)(void *ctx, const struct pgdax_vol_dax_ext *ext);
	int (*commit)(void *ctx);
};
int pgdax_vol_dax_layout(struct pgdax_vol *vol, struct pgdax_vol_file *f, uint64_t off,
			 uint64_t end_aligned, uint64_t end, uint64_t align, unsigned flags,
			 const struct pgdax_vol_dax_ops *ops, void *ctx);

#endif /* PGDAX_VOL_H */
