/* SPDX-License-Identifier: MIT */
/*
 * mount -o remount,ro|rw: the daemon's half.
 *
 * The kernel's FUSE does not tell the daemon about a remount (its
 * reconfigure only syncs), so `mount -o remount,ro MNT` is carried out by
 * the mount helper through `pgdaxctl remount`, in two steps:
 *   ro: mount(2) MS_REMOUNT|MS_RDONLY first. The kernel is the authority
 *       on "files open for writing" (EBUSY, as for every filesystem) and
 *       writes back its dirty pages through this daemon while it still
 *       accepts writes; only then PGDAX_IOC_REMOUNT closes the gate here.
 *   rw: PGDAX_IOC_REMOUNT opens the gate first, then mount(2) clears the
 *       kernel's flag, so no write the kernel lets through meets EROFS.
 *
 * The gate: while fs.remounted_ro is set, every request that would modify
 * the volume (and a writable DAX pin) fails with EROFS. It sits in front of
 * the operations (fs_remount_wrap), so fs/ops.c stays as it is. The kernel
 * already refuses writes on a read-only superblock; the gate makes the
 * daemon's own answer (INFO/STATUS report PGDAX_INFO_RDONLY) and anything
 * that reaches it regardless agree with the mount.
 *
 * What does not change: the volume stays mounted as it was (read-write),
 * its superblock stays marked in use until unmount, and an unlinked file
 * still open when the mount went read-only is freed at its last close.
 * A volume mounted read-only from the start (-o ro: its device is mapped
 * read-only, its journal not replayed) cannot become read-write: EROFS,
 * "unmount and mount it read-write".
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fs.h"
#include "ioctl.h"
#include "util/log.h"
#include "pin/pgdax_ioctl.h"

/* The wrapped operations (one table: one daemon, one session). */
static struct fuse_lowlevel_ops real;

bool fs_is_ro(const struct fs *fs)
{
	return fs->opts.ro || pgdax_vol_is_rdonly(fs->vol) || atomic_load(&fs->remounted_ro);
}

static bool gated(fuse_req_t req)
{
	if (!atomic_load(&fs_of(req)->remounted_ro))
		return false;
	fuse_reply_err(req, EROFS);
	return true;
}

static void g_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		      struct fuse_file_info *fi)
{
	if (!gated(req))
		real.setattr(req, ino, attr, valid, fi);
}

static void g_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		    dev_t rdev)
{
	if (!gated(req))
		real.mknod(req, parent, name, mode, rdev);
}

static void g_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	if (!gated(req))
		real.mkdir(req, parent, name, mode);
}

static void g_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!gated(req))
		real.unlink(req, parent, name);
}

static void g_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!gated(req))
		real.rmdir(req, parent, name);
}

static void g_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	if (!gated(req))
		real.symlink(req, link, parent, name);
}

static void g_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	if (!gated(req))
		real.rename(req, parent, name, newparent, newname, flags);
}

static void g_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	if (!gated(req))
		real.link(req, ino, newparent, newname);
}

static void g_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (((fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & O_TRUNC)) || !gated(req))
		real.open(req, ino, fi);
}

static void g_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     struct fuse_file_info *fi)
{
	if (!gated(req))
		real.create(req, parent, name, mode, fi);
}

static void g_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	if (!gated(req))
		real.write(req, ino, buf, size, off, fi);
}

static void g_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		       size_t size, int flags)
{
	if (!gated(req))
		real.setxattr(req, ino, name, value, size, flags);
}

static void g_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (!gated(req))
		real.removexattr(req, ino, name);
}

static void g_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			struct fuse_file_info *fi)
{
	if (!gated(req))
		real.fallocate(req, ino, mode, offset, length, fi);
}

static void g_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			      struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			      struct fuse_file_info *fi_out, size_t len, int flags)
{
	if (!gated(req))
		real.copy_file_range(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len,
				     flags);
}

/* Is a regular file open for writing? (fs.lock held) */
static bool open_for_writing(struct fs *fs, uint64_t *ino)
{
	for (struct fs_file *f = fs->files.next; f && f != &fs->files; f = f->next) {
		if (f->vf && (pgdax_vol_file_flags(f->vf) & O_ACCMODE) != O_RDONLY) {
			*ino = f->ino;
			return true;
		}
	}
	return false;
}

static void do_remount(fuse_req_t req, fuse_ino_t ino, unsigned flags, const void *in_buf,
		       size_t in_bufsz)
{
	struct fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct pgdax_ioc_remount rm;
	uint64_t busy_ino = 0;
	bool busy;

	if (ino != FUSE_ROOT_ID || !(flags & FUSE_IOCTL_DIR)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (ctx->uid != 0) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (in_bufsz != sizeof(rm)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	memcpy(&rm, in_buf, sizeof(rm));
	if ((rm.flags & ~PGDAX_REMOUNT_FLAGS) || rm.reserved0 || rm.reserved[0] ||
	    rm.reserved[1] || rm.reserved[2]) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!(rm.flags & PGDAX_REMOUNT_RDONLY)) {
		if (fs->opts.ro || pgdax_vol_is_rdonly(fs->vol)) {
			fuse_reply_err(req, EROFS);
			return;
		}
		if (atomic_exchange(&fs->remounted_ro, false))
			pgdax_notice("%s: remounted read-write", fs->opts.mountpoint);
		fuse_reply_ioctl(req, 0, NULL, 0);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	busy = open_for_writing(fs, &busy_ino);
	if (!busy)
		atomic_store(&fs->remounted_ro, true);
	pthread_mutex_unlock(&fs->lock);
	if (busy) {
		pgdax_notice("%s: not remounted read-only: inode %llu is open for writing",
			     fs->opts.mountpoint, (unsigned long long)busy_ino);
		fuse_reply_err(req, EBUSY);
		return;
	}
	pgdax_notice("%s: remounted read-only", fs->opts.mountpoint);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

static void g_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		    struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		    size_t in_bufsz, size_t out_bufsz)
{
	if (cmd == PGDAX_IOC_REMOUNT && !(flags & FUSE_IOCTL_UNRESTRICTED)) {
		do_remount(req, ino, flags, in_buf, in_bufsz);
		return;
	}
	if (cmd == PGDAX_IOC_PIN && in_buf && in_bufsz >= sizeof(struct pgdax_ioc_pin)) {
		struct pgdax_ioc_pin p;

		memcpy(&p, in_buf, sizeof(p));
		if ((p.flags & PGDAX_PIN_WRITE) && gated(req))
			return;
	}
	real.ioctl(req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz);
}

void fs_remount_wrap(struct fuse_lowlevel_ops *ops)
{
	real = *ops;
	ops->setattr = g_setattr;
	ops->mknod = g_mknod;
	ops->mkdir = g_mkdir;
	ops->unlink = g_unlink;
	ops->rmdir = g_rmdir;
	ops->symlink = g_symlink;
	ops->rename = g_rename;
	ops->link = g_link;
	ops->open = g_open;
	ops->create = g_create;
	ops->write = g_write;
	ops->setxattr = g_setxattr;
	ops->removexattr = g_removexattr;
	ops->fallocate = g_fallocate;
	ops->copy_file_range = g_copy_file_range;
	ops->ioctl = g_ioctl;
}
