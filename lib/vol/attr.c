/* SPDX-License-Identifier: MIT */
/*
 * setattr (chmod/chown/truncate/utimens) and statfs. Permission checks are
 * the caller's (the daemon asks perm.c before); this applies the change as
 * one transaction (checksummed fields) plus hot-field stores.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "vol_internal.h"

static int setattr_impl(struct pgdax_vol *vol, uint64_t ino, const struct stat *attr,
		      int valid, const struct pgdax_cred *cred, struct stat *out)
{
	struct inode *ip;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	uint32_t mode = inode_mode(ip);
	rc = iflags_check(ip, IFL_SETATTR, valid);
	if (rc)
		goto out;
	if (valid & PGDAX_SET_SIZE) {
		if (S_ISDIR(mode))
			rc = -EISDIR;
		else if (!S_ISREG(mode))
			rc = -EINVAL;
		else if (attr->st_size < 0)
			rc = -EINVAL;
		else
			rc = data_setsize(vol, ip, (uint64_t)attr->st_size, cred);
		if (rc)
			goto out;
		/* it may have dropped the lock to wait (a layout break): a
		 * chmod meanwhile must not be undone with the mode read before */
		mode = inode_mode(ip);
	}
	bool kill = (valid & PGDAX_SET_KILL_SUIDGID) ||
		    (((valid & (PGDAX_SET_UID | PGDAX_SET_GID)) && !(valid & PGDAX_SET_MODE)) &&
		     !S_ISDIR(mode));
	if (valid & (PGDAX_SET_MODE | PGDAX_SET_UID | PGDAX_SET_GID) || kill) {
		struct jtx *tx = jtx_begin(vol);
		rc = jtx_inode(tx, ip->d);
		if (rc) {
			jtx_abort(tx);
			goto out;
		}
		if (valid & PGDAX_SET_MODE)
			mode = (mode & S_IFMT) | (attr->st_mode & 07777);
		if (valid & PGDAX_SET_UID)
			ip->d->i_uid = htole32(attr->st_uid);
		if (valid & PGDAX_SET_GID)
			ip->d->i_gid = htole32(attr->st_gid);
		if (kill && !(valid & PGDAX_SET_MODE)) {
			mode &= ~(uint32_t)S_ISUID;
			if (mode & S_IXGRP)
				mode &= ~(uint32_t)S_ISGID;
		}
		ip->d->i_mode = htole32(mode);
		rc = jtx_commit(tx);
		if (rc)
			goto out;
	}
	struct pgdax_timespec now;
	inode_now(&now);
	if (valid & PGDAX_SET_ATIME_NOW)
		ip->d->i_atime = now;
	else if (valid & PGDAX_SET_ATIME)
		inode_set_time(&ip->d->i_atime, &attr->st_atim);
	if (valid & PGDAX_SET_MTIME_NOW)
		ip->d->i_mtime = now;
	else if (valid & PGDAX_SET_MTIME)
		inode_set_time(&ip->d->i_mtime, &attr->st_mtim);
	else if (valid & PGDAX_SET_SIZE)
		ip->d->i_mtime = now;
	if (valid & PGDAX_SET_CTIME)
		inode_set_time(&ip->d->i_ctime, &attr->st_ctim);
	else
		ip->d->i_ctime = now;
	pgdax_dev_persist(vol->dev, &ip->d->i_atime, 3 * sizeof(now));
	inode_stat(vol, ip, out);
out:
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

/* Refused once the device is lost, and not acknowledged if it was lost
 * meanwhile: its stores may have landed in the fence (vol_ack). */
int pgdax_vol_setattr(struct pgdax_vol *vol, uint64_t ino, const struct stat *attr,
		      int valid, const struct pgdax_cred *cred, struct stat *out)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, setattr_impl(vol, ino, attr, valid, cred, out));
}

static int touch_atime_impl(struct pgdax_vol *vol, uint64_t ino, int policy, bool lazy)
{
	struct inode *ip;
	int rc;

	if (vol->rdonly || policy == PGDAX_ATIME_NOATIME)
		return 0;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	/* shared: the times are stored whole (inode.c), as by the write
	 * fast path; a chmod or utimens (exclusive) is not interleaved */
	pthread_rwlock_rdlock(&ip->lock);
	rc = inode_touch_atime(vol, ip, policy, lazy) ? 1 : 0;
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

int pgdax_vol_touch_atime(struct pgdax_vol *vol, uint64_t ino, int policy, bool lazy)
{
	VOL_LIVE_OR_EIO(vol);
	return touch_atime_impl(vol, ino, policy, lazy);
}

static int statfs_impl(struct pgdax_vol *vol, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	st->f_bsize = vol->bs;
	st->f_frsize = vol->bs;
	st->f_blocks = vol_data_blocks(vol);	/* accounting: lib/vol/vol.h */
	st->f_bfree = pgdax_alloc_free_pages(vol->alloc);
	st->f_bavail = st->f_bfree;
	st->f_files = vol_inode_slots(vol);
	st->f_ffree = atomic_load(&vol->free_inodes);
	st->f_favail = st->f_ffree;
	st->f_fsid = 0;
	memcpy(&st->f_fsid, vol->geo.s_uuid, sizeof(st->f_fsid) < 16 ? sizeof(st->f_fsid) : 16);
	st->f_namemax = PGDAX_NAME_MAX;
	if (vol->rdonly)
		st->f_flag |= ST_RDONLY;
	return 0;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_statfs(struct pgdax_vol *vol, struct statvfs *st)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, statfs_impl(vol, st));
}
