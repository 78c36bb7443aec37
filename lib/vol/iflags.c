/* SPDX-License-Identifier: MIT */
/*
 * Inode attribute flags (chattr/lsattr): append-only, immutable, noatime.
 *
 * Stored in the inode's i_attr (the first four bytes of what was
 * i_reserved, inside the checksummed part, so set in a journal transaction
 * like chmod): no format change. mkfs zeroed those bytes and no driver or
 * fsck of format 1.3 reads or checks them, so every existing inode reads
 * "no flags"; an older driver ignores them (it does not enforce them).
 *
 * Enforced here, for every operation, as ext4 does (the kernel's VFS checks
 * S_IMMUTABLE/S_APPEND on its own inodes, but FUSE inodes never carry them,
 * so the kernel checks nothing of it for a FUSE filesystem). The rules sit
 * in one function, iflags_check(), which the operations call next to their
 * other checks: the permission checks that move into lib/ stay apart from
 * it. Reading i_attr without the inode lock is a racy but whole 4-byte load:
 * a check racing a chattr sees the flag set or not, as on ext4.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>

#include "vol_internal.h"

uint32_t iflags_of(const struct inode *ip)
{
	return le32toh(__atomic_load_n(&ip->d->i_attr, __ATOMIC_RELAXED));
}

int iflags_check(const struct inode *ip, enum iflags_op op, int arg)
{
	uint32_t fl = iflags_of(ip);
	bool imm = fl & PGDAX_IATTR_IMMUTABLE, app = fl & PGDAX_IATTR_APPEND;

	switch (op) {
	case IFL_OPEN:		/* arg: open(2) flags */
		if ((arg & O_ACCMODE) == O_RDONLY && !(arg & O_TRUNC))
			return 0;
		if (imm || (app && ((arg & O_TRUNC) || !(arg & O_APPEND))))
			return -EPERM;
		return 0;
	case IFL_WRITE:		/* arg: the handle's open flags */
		return imm || (app && !(arg & O_APPEND)) ? -EPERM : 0;
	case IFL_SETATTR:	/* arg: PGDAX_SET_* */
		if (imm)
			return -EPERM;
		/* append-only: times may be set to "now" (touch), not to a
		 * given value (notify_change's ATTR_TIMES_SET rule) */
		if (app && ((arg & (PGDAX_SET_MODE | PGDAX_SET_UID | PGDAX_SET_GID |
				    PGDAX_SET_SIZE)) ||
			    ((arg & PGDAX_SET_ATIME) && !(arg & PGDAX_SET_ATIME_NOW)) ||
			    ((arg & PGDAX_SET_MTIME) && !(arg & PGDAX_SET_MTIME_NOW))))
			return -EPERM;
		return 0;
	case IFL_FALLOCATE:	/* arg: fallocate mode */
		return imm || (app && (arg & ~FALLOC_FL_KEEP_SIZE)) ? -EPERM : 0;
	case IFL_DELETE:	/* unlinked, renamed, or replaced by a rename */
	case IFL_LINK:		/* a new name for it */
	case IFL_XATTR:		/* set or remove an extended attribute */
	case IFL_DIR_REMOVE:	/* a directory losing an entry */
		return imm || app ? -EPERM : 0;
	case IFL_DIR_ADD:	/* a directory gaining an entry */
		return imm ? -EPERM : 0;
	}
	return -EINVAL;
}

static int setflags_impl(struct pgdax_vol *vol, uint64_t ino, uint32_t flags,
			 const struct pgdax_cred *cred)
{
	struct inode *ip;
	int rc;

	if (flags & ~PGDAX_IATTR_KNOWN)
		return -EOPNOTSUPP;
	if (vol->rdonly)
		return -EROFS;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	uint32_t old = iflags_of(ip);
	/* owner or root; a and i only by root (CAP_LINUX_IMMUTABLE: FUSE
	 * passes no capabilities, and the kernel checked it already) */
	if (cred && cred->uid != 0 && cred->uid != le32toh(ip->d->i_uid))
		rc = -EPERM;
	else if (cred && cred->uid != 0 &&
		 ((old ^ flags) & (PGDAX_IATTR_IMMUTABLE | PGDAX_IATTR_APPEND)))
		rc = -EPERM;
	if (rc || old == flags)
		goto out;
	struct jtx *tx = jtx_begin(vol);
	rc = jtx_inode(tx, ip->d);
	if (rc) {
		jtx_abort(tx);
		goto out;
	}
	ip->d->i_attr = htole32(flags);
	rc = jtx_commit(tx);
	if (!rc) {
		inode_now(&ip->d->i_ctime);
		pgdax_dev_persist(vol->dev, &ip->d->i_ctime, sizeof(ip->d->i_ctime));
	}
out:
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

int pgdax_vol_get_iflags(struct pgdax_vol *vol, uint64_t ino, uint32_t *flags)
{
	struct inode *ip;
	int rc;

	VOL_LIVE_OR_EIO(vol);
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	*flags = iflags_of(ip);
	inode_put(vol, ip);
	return 0;
}

int pgdax_vol_set_iflags(struct pgdax_vol *vol, uint64_t ino, uint32_t flags,
			 const struct pgdax_cred *cred)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, setflags_impl(vol, ino, flags, cred));
}
