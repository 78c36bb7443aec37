/* SPDX-License-Identifier: MIT */
/*
 * Namespace operations of lib/vol/vol.h: lookup, mknod/mkdir/symlink/create,
 * link, unlink, rmdir, rename, readlink, readdir, open/release.
 *
 * Every change holds vol->ns_lock, then the inode locks it needs (write),
 * and is one journal transaction: the directory records, link counts,
 * parent pointers, timestamps and the orphan list move together.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vol_internal.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

#define LINK_MAX_PGDAX 65000u

/* Take dp->lock for reading with its directory index built. */
static int lock_dir_read(struct pgdax_vol *vol, struct inode *dp)
{
	for (;;) {
		pthread_rwlock_rdlock(&dp->lock);
		if (dp->dix)
			return 0;
		pthread_rwlock_unlock(&dp->lock);
		pthread_rwlock_wrlock(&dp->lock);
		int rc = dir_prepare(vol, dp);
		pthread_rwlock_unlock(&dp->lock);
		if (rc)
			return rc;
	}
}

static int get_dir(struct pgdax_vol *vol, uint64_t ino, struct inode **out)
{
	int rc = inode_get(vol, ino, out);
	if (rc)
		return rc;
	if (!S_ISDIR(inode_mode(*out))) {
		inode_put(vol, *out);
		return -ENOTDIR;
	}
	return 0;
}

/* Directory mtime = ctime = now, inside @tx. */
static int dir_touch(struct jtx *tx, struct inode *dp)
{
	int rc = jtx_add(tx, &dp->d->i_mtime, 2 * sizeof(struct pgdax_timespec));
	if (rc)
		return rc;
	inode_now(&dp->d->i_mtime);
	dp->d->i_ctime = dp->d->i_mtime;
	return 0;
}

static int ctime_touch(struct jtx *tx, struct inode *ip)
{
	int rc = jtx_add(tx, &ip->d->i_ctime, sizeof(struct pgdax_timespec));
	if (!rc)
		inode_now(&ip->d->i_ctime);
	return rc;
}

static int add_nlink(struct jtx *tx, struct inode *ip, int delta)
{
	int rc = jtx_inode(tx, ip->d);
	if (rc)
		return rc;
	ip->d->i_nlink = htole32(inode_nlink(ip) + (uint32_t)delta);
	return 0;
}

/*
 * vol_ack for calls that hand the caller an entry with a reference: -EIO
 * if the device was lost meanwhile, after dropping that reference again.
 */
static int ack_entry(struct pgdax_vol *vol, int rc, const struct stat *st)
{
	if (!vol_dead(vol))
		return rc;
	if (rc == 0)
		pgdax_vol_iput(vol, st->st_ino, 1);
	return -EIO;
}

static int getattr_impl(struct pgdax_vol *vol, uint64_t ino, struct stat *st)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	inode_stat(vol, ip, st);
	inode_put(vol, ip);
	return 0;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_getattr(struct pgdax_vol *vol, uint64_t ino, struct stat *st)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, getattr_impl(vol, ino, st));
}

static int getattr_btime_impl(struct pgdax_vol *vol, uint64_t ino, struct stat *st,
			      struct timespec *btime)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	inode_stat(vol, ip, st);
	inode_btime(ip, btime);
	inode_put(vol, ip);
	return 0;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_getattr_btime(struct pgdax_vol *vol, uint64_t ino, struct stat *st,
			    struct timespec *btime)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, getattr_btime_impl(vol, ino, st, btime));
}

static int lookup_impl(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     struct stat *st)
{
	struct inode *dp, *ip;
	uint64_t ino;
	size_t len;
	int rc = check_name(name, &len);
	if (rc)
		return rc;
	rc = get_dir(vol, dir, &dp);
	if (rc)
		return rc;
	if (len <= 2 && name[0] == '.' && (len == 1 || name[1] == '.')) {
		ino = len == 1 ? dp->ino : le64toh(dp->d->i_parent);
		rc = 0;
	} else {
		rc = lock_dir_read(vol, dp);
		if (rc)
			goto out;
		/* the entry cannot be unlinked (and its inode freed or reused)
		 * while we hold the directory: take the inode before dropping it */
		rc = dir_lookup(vol, dp, name, len, &ino, NULL);
		if (!rc)
			rc = inode_get(vol, ino, &ip);
		pthread_rwlock_unlock(&dp->lock);
		goto got;
	}
	if (!rc)
		rc = inode_get(vol, ino, &ip);
got:
	if (!rc) {
		inode_stat(vol, ip, st);	/* the reference goes to the caller */
	} else if (rc == -ESTALE) {
		pgdax_err("%s: directory %llu: entry \"%s\" points to free inode %llu",
			  vol->devname, (unsigned long long)dir, name, (unsigned long long)ino);
		rc = -EUCLEAN;
	}
out:
	inode_put(vol, dp);
	return rc;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_lookup(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     struct stat *st)
{
	VOL_LIVE_OR_EIO(vol);
	return ack_entry(vol, lookup_impl(vol, dir, name, st), st);
}

static int iget_impl(struct pgdax_vol *vol, uint64_t ino)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);

	if (rc)
		pgdax_err("iget of unknown inode %llu (%d)", (unsigned long long)ino, rc);
	return rc;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_iget(struct pgdax_vol *vol, uint64_t ino)
{
	int rc;

	VOL_LIVE_OR_EIO(vol);
	rc = iget_impl(vol, ino);
	if (vol_dead(vol)) {
		if (rc == 0)
			pgdax_vol_iput(vol, ino, 1);
		rc = -EIO;
	}
	return rc;
}

void pgdax_vol_iput(struct pgdax_vol *vol, uint64_t ino, uint64_t n)
{
	struct inode *ip;
	if (n == 0)
		return;
	/* find it (an extra internal reference), then drop n + 1 */
	if (inode_get(vol, ino, &ip)) {
		pgdax_err("iput of unknown inode %llu", (unsigned long long)ino);
		return;
	}
	pthread_mutex_lock(&vol->icache_lock);
	if (ip->ref < n + 1) {
		pgdax_err("iput: inode %llu has %llu references, dropping %llu",
			  (unsigned long long)ino, (unsigned long long)(ip->ref - 1),
			  (unsigned long long)n);
		abort();
	}
	ip->ref -= n;
	pthread_mutex_unlock(&vol->icache_lock);
	inode_put(vol, ip);
}

/* Create @name in @dir: an inode of @mode (symlink to @target). */
static int do_create(struct pgdax_vol *vol, uint64_t dir, const char *name, mode_t mode,
		     dev_t rdev, const char *target, const struct pgdax_cred *cred,
		     struct inode **out)
{
	struct inode *dp, *ip = NULL;
	size_t len, tlen = 0;
	uint64_t ino;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	rc = check_name(name, &len);
	if (rc)
		return rc;
	if (target) {
		tlen = strnlen(target, 4096);
		if (tlen == 0)
			return -ENOENT;
		if (tlen >= 4096 || tlen >= vol->bs)
			return -ENAMETOOLONG;
	}
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	case 0:
		mode |= S_IFREG;
		break;
	default:
		return -EINVAL;
	}
	rc = get_dir(vol, dir, &dp);
	if (rc)
		return rc;
	pthread_mutex_lock(&vol->ns_lock);
	pthread_rwlock_wrlock(&dp->lock);
	if (inode_nlink(dp) == 0) {
		rc = -ENOENT;	/* directory removed */
		goto unlock;
	}
	if (len <= 2 && name[0] == '.' && (len == 1 || name[1] == '.')) {
		rc = -EEXIST;
		goto unlock;
	}
	rc = dir_lookup(vol, dp, name, len, &ino, NULL);
	if (rc != -ENOENT) {
		if (rc == 0)
			rc = -EEXIST;
		goto unlock;
	}
	if (S_ISDIR(mode) && inode_nlink(dp) >= LINK_MAX_PGDAX) {
		rc = -EMLINK;
		goto unlock;
	}
	rc = iflags_check(dp, IFL_DIR_ADD, 0);
	if (rc)
		goto unlock;
	uid_t uid = cred ? cred->uid : 0;
	gid_t gid = cred ? cred->gid : 0;
	if (inode_mode(dp) & S_ISGID) {	/* BSD group semantics */
		gid = le32toh(dp->d->i_gid);
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	struct jtx *tx = jtx_begin(vol);
	rc = inode_new(tx, mode, uid, gid, dir, rdev, &ip);
	if (!rc && target) {
		rc = jtx_inode(tx, ip->d);
		if (!rc && tlen <= PGDAX_INLINE_MAX) {
			memcpy(ip->d->i_inline, target, tlen);
			ip->d->i_flags = htole32(PGDAX_IFL_INLINE);
		} else if (!rc) {
			uint64_t b;
			rc = blk_alloc(tx, 0, NULL, &b);
			if (!rc) {
				char *p = blk_addr(vol, b);
				memcpy(p, target, tlen);
				memset(p + tlen, 0, vol->bs - tlen);
				rc = jtx_touch(tx, p, vol->bs);
			}
			if (!rc)
				rc = extmap_insert(tx, ip, 0, b, 0);
		}
		ip->d->i_size = htole64(tlen);
	}
	if (!rc)
		rc = dir_add(tx, dp, name, len, ip->ino, mode_to_dt(mode));
	if (!rc && S_ISDIR(mode))
		rc = add_nlink(tx, dp, 1);
	if (!rc)
		rc = dir_touch(tx, dp);
	if (rc)
		jtx_abort(tx);
	else
		rc = jtx_commit(tx);	/* fails only by aborting (journal full) */
	if (rc && ip) {
		/* the slot is free again: drop the DRAM inode, or the next
		 * inode_new of this number finds it cached "in use" */
		inode_forget_new(vol, ip);
		ip = NULL;
	}
unlock:
	pthread_rwlock_unlock(&dp->lock);
	pthread_mutex_unlock(&vol->ns_lock);
	inode_put(vol, dp);
	if (!rc)
		*out = ip;
	return rc;
}

static int mknod_impl(struct pgdax_vol *vol, uint64_t dir, const char *name,
		    mode_t mode, dev_t rdev, const struct pgdax_cred *cred, struct stat *st)
{
	struct inode *ip;
	if (S_ISDIR(mode) || S_ISLNK(mode))
		return -EINVAL;
	int rc = do_create(vol, dir, name, mode, rdev, NULL, cred, &ip);
	if (!rc)
		inode_stat(vol, ip, st);
	return rc;
}

/* -EIO if the device was lost meanwhile (ack_entry). */
int pgdax_vol_mknod(struct pgdax_vol *vol, uint64_t dir, const char *name,
		    mode_t mode, dev_t rdev, const struct pgdax_cred *cred, struct stat *st)
{
	VOL_LIVE_OR_EIO(vol);
	return ack_entry(vol, mknod_impl(vol, dir, name, mode, rdev, cred, st), st);
}

static int mkdir_impl(struct pgdax_vol *vol, uint64_t dir, const char *name,
		    mode_t mode, const struct pgdax_cred *cred, struct stat *st)
{
	struct inode *ip;
	int rc = do_create(vol, dir, name, (mode & 07777) | S_IFDIR, 0, NULL, cred, &ip);
	if (!rc)
		inode_stat(vol, ip, st);
	return rc;
}

/* -EIO if the device was lost meanwhile (ack_entry). */
int pgdax_vol_mkdir(struct pgdax_vol *vol, uint64_t dir, const char *name,
		    mode_t mode, const struct pgdax_cred *cred, struct stat *st)
{
	VOL_LIVE_OR_EIO(vol);
	return ack_entry(vol, mkdir_impl(vol, dir, name, mode, cred, st), st);
}

static int symlink_impl(struct pgdax_vol *vol, uint64_t dir, const char *name,
		      const char *target, const struct pgdax_cred *cred, struct stat *st)
{
	struct inode *ip;
	int rc = do_create(vol, dir, name, S_IFLNK | 0777, 0, target, cred, &ip);
	if (!rc)
		inode_stat(vol, ip, st);
	return rc;
}

/* -EIO if the device was lost meanwhile (ack_entry). */
int pgdax_vol_symlink(struct pgdax_vol *vol, uint64_t dir, const char *name,
		      const char *target, const struct pgdax_cred *cred, struct stat *st)
{
	VOL_LIVE_OR_EIO(vol);
	return ack_entry(vol, symlink_impl(vol, dir, name, target, cred, st), st);
}

static int readlink_impl(struct pgdax_vol *vol, uint64_t ino, char *buf, size_t size)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	if (!S_ISLNK(inode_mode(ip))) {
		inode_put(vol, ip);
		return -EINVAL;
	}
	pthread_rwlock_wrlock(&ip->lock);
	uint64_t len = inode_size(ip);
	const char *src = NULL;
	if (le32toh(ip->d->i_flags) & PGDAX_IFL_INLINE) {
		src = (const char *)ip->d->i_inline;
	} else if (len < vol->bs) {
		rc = extmap_load(vol, ip);
		if (!rc)
			src = extmap_addr(vol, ip, 0);
	}
	if (!rc && !src) {
		pgdax_err("%s: symlink inode %llu has no target", vol->devname,
			  (unsigned long long)ino);
		rc = -EUCLEAN;
	}
	if (!rc) {
		if (size == 0)
			rc = -ERANGE;
		else {
			size_t n = len < size - 1 ? len : size - 1;
			memcpy(buf, src, n);
			buf[n] = 0;
			rc = (int)n;
		}
	}
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_readlink(struct pgdax_vol *vol, uint64_t ino, char *buf, size_t size)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, readlink_impl(vol, ino, buf, size));
}

static int link_impl(struct pgdax_vol *vol, uint64_t ino, uint64_t newdir,
		   const char *newname, struct stat *st)
{
	struct inode *dp, *ip;
	size_t len;
	uint64_t x;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	rc = check_name(newname, &len);
	if (rc)
		return rc;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	if (S_ISDIR(inode_mode(ip))) {
		inode_put(vol, ip);
		return -EPERM;
	}
	rc = get_dir(vol, newdir, &dp);
	if (rc) {
		inode_put(vol, ip);
		return rc;
	}
	pthread_mutex_lock(&vol->ns_lock);
	pthread_rwlock_wrlock(&dp->lock);
	pthread_rwlock_wrlock(&ip->lock);
	bool from_tmp = inode_nlink(ip) == 0 && ip->linkable;
	if (inode_nlink(dp) == 0 || (inode_nlink(ip) == 0 && !from_tmp))
		rc = -ENOENT;
	else if (inode_nlink(ip) >= LINK_MAX_PGDAX)
		rc = -EMLINK;
	else if (len <= 2 && newname[0] == '.' && (len == 1 || newname[1] == '.'))
		rc = -EEXIST;
	else {
		rc = dir_lookup(vol, dp, newname, len, &x, NULL);
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
	}
	if (!rc)
		rc = iflags_check(ip, IFL_LINK, 0);
	if (!rc)
		rc = iflags_check(dp, IFL_DIR_ADD, 0);
	if (!rc) {
		struct jtx *tx = jtx_begin(vol);
		rc = dir_add(tx, dp, newname, len, ino, mode_to_dt(inode_mode(ip)));
		/* an O_TMPFILE gets its first name: off the orphan list, unless
		 * a trim pending keeps it there (PGDAX_IFL_TRIM; the trim's end
		 * takes it off) */
		if (!rc && from_tmp && !(le32toh(ip->d->i_flags) & PGDAX_IFL_TRIM))
			rc = orphan_remove(tx, ino);
		if (!rc)
			rc = add_nlink(tx, ip, 1);
		if (!rc)
			rc = ctime_touch(tx, ip);
		if (!rc)
			rc = dir_touch(tx, dp);
		if (rc)
			jtx_abort(tx);
		else
			rc = jtx_commit(tx);
		if (!rc)
			ip->linkable = false;
	}
	pthread_rwlock_unlock(&ip->lock);
	pthread_rwlock_unlock(&dp->lock);
	pthread_mutex_unlock(&vol->ns_lock);
	inode_put(vol, dp);
	if (rc) {
		inode_put(vol, ip);
		return rc;
	}
	inode_stat(vol, ip, st);	/* reference to the caller */
	return 0;
}

/* -EIO if the device was lost meanwhile (ack_entry). */
int pgdax_vol_link(struct pgdax_vol *vol, uint64_t ino, uint64_t newdir,
		   const char *newname, struct stat *st)
{
	VOL_LIVE_OR_EIO(vol);
	return ack_entry(vol, link_impl(vol, ino, newdir, newname, st), st);
}

/* Drop one link of @ip (write-locked) inside @tx; a directory loses both. */
static int drop_link(struct jtx *tx, struct inode *ip)
{
	int rc = jtx_inode(tx, ip->d);
	if (rc)
		return rc;
	uint32_t n = inode_nlink(ip);
	if (S_ISDIR(inode_mode(ip)) || n == 0)
		n = 0;
	else
		n--;
	ip->d->i_nlink = htole32(n);
	rc = ctime_touch(tx, ip);
	if (!rc && n == 0)
		rc = orphan_add(tx, ip);
	return rc;
}

static int do_remove(struct pgdax_vol *vol, uint64_t dir, const char *name, bool isdir)
{
	struct inode *dp, *ip = NULL;
	uint64_t ino, pos, count;
	size_t len;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	rc = check_name(name, &len);
	if (rc)
		return rc;
	if (len == 1 && name[0] == '.')
		return isdir ? -EINVAL : -EISDIR;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return isdir ? -ENOTEMPTY : -EISDIR;
	rc = get_dir(vol, dir, &dp);
	if (rc)
		return rc;
	pthread_mutex_lock(&vol->ns_lock);
	pthread_rwlock_wrlock(&dp->lock);
	rc = dir_lookup(vol, dp, name, len, &ino, &pos);
	if (!rc)
		rc = inode_get(vol, ino, &ip);
	if (rc)
		goto unlock;
	pthread_rwlock_wrlock(&ip->lock);
	if (isdir && !S_ISDIR(inode_mode(ip)))
		rc = -ENOTDIR;
	else if (!isdir && S_ISDIR(inode_mode(ip)))
		rc = -EISDIR;
	else if (isdir) {
		rc = dir_count(vol, ip, &count);
		if (!rc && count)
			rc = -ENOTEMPTY;
	}
	if (!rc)
		rc = iflags_check(dp, IFL_DIR_REMOVE, 0);
	if (!rc)
		rc = iflags_check(ip, IFL_DELETE, 0);
	if (!rc) {
		struct jtx *tx = jtx_begin(vol);
		rc = dir_remove(tx, dp, pos);
		if (!rc)
			rc = drop_link(tx, ip);
		if (!rc && isdir)
			rc = add_nlink(tx, dp, -1);
		if (!rc)
			rc = dir_touch(tx, dp);
		if (rc)
			jtx_abort(tx);
		else
			rc = jtx_commit(tx);
	}
	pthread_rwlock_unlock(&ip->lock);
unlock:
	pthread_rwlock_unlock(&dp->lock);
	pthread_mutex_unlock(&vol->ns_lock);
	inode_put(vol, ip);	/* the last reference of an unlinked inode frees it */
	inode_put(vol, dp);
	return rc;
}

static int unlink_impl(struct pgdax_vol *vol, uint64_t dir, const char *name)
{
	return do_remove(vol, dir, name, false);
}

/* Not acknowledged if the device was lost meanwhile (vol_ack). */
int pgdax_vol_unlink(struct pgdax_vol *vol, uint64_t dir, const char *name)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, unlink_impl(vol, dir, name));
}

static int rmdir_impl(struct pgdax_vol *vol, uint64_t dir, const char *name)
{
	return do_remove(vol, dir, name, true);
}

/* Not acknowledged if the device was lost meanwhile (vol_ack). */
int pgdax_vol_rmdir(struct pgdax_vol *vol, uint64_t dir, const char *name)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, rmdir_impl(vol, dir, name));
}

/* Is @dir (an inode number) @anc or below it? Walks i_parent (ns_lock held). */
static int is_under(struct pgdax_vol *vol, uint64_t dir, uint64_t anc)
{
	for (uint64_t n = 0; n < vol->ninodes; n++) {
		if (dir == anc)
			return 1;
		if (dir == PGDAX_ROOT_INO)
			return 0;
		if (dir >= vol->ninodes)
			return -EUCLEAN;
		dir = le64toh(inode_slot(vol, dir)->i_parent);
	}
	return -EUCLEAN;
}

static int set_parent(struct jtx *tx, struct inode *ip, uint64_t parent)
{
	int rc = jtx_inode(tx, ip->d);
	if (!rc)
		ip->d->i_parent = htole64(parent);
	return rc;
}

/* chattr flags: both names leave or change their directories */
static int rename_iflags_check(struct inode *dp, struct inode *ndp, struct inode *sip,
			       struct inode *dip, unsigned flags)
{
	int rc = iflags_check(dp, IFL_DIR_REMOVE, 0);

	if (!rc)
		rc = iflags_check(ndp, dip ? IFL_DIR_REMOVE : IFL_DIR_ADD, 0);
	if (!rc && (flags & RENAME_EXCHANGE))
		rc = iflags_check(dp, IFL_DIR_ADD, 0);
	if (!rc)
		rc = iflags_check(sip, IFL_DELETE, 0);
	if (!rc && dip)
		rc = iflags_check(dip, IFL_DELETE, 0);
	return rc;
}

static int rename_impl(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     uint64_t newdir, const char *newname, unsigned flags,
		     const struct pgdax_cred *cred)
{
	struct inode *dp = NULL, *ndp = NULL, *sip = NULL, *dip = NULL, *wip = NULL;
	uint64_t sino, spos, dino = 0, dpos = 0, count;
	size_t slen, dlen;
	bool have_dst, locked_n = false;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	if ((flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) ||
	    ((flags & RENAME_WHITEOUT) && (flags & RENAME_EXCHANGE)))
		return -EINVAL;
	rc = check_name(name, &slen);
	if (!rc)
		rc = check_name(newname, &dlen);
	if (rc)
		return rc;
	if ((slen <= 2 && name[0] == '.' && (slen == 1 || name[1] == '.')) ||
	    (dlen <= 2 && newname[0] == '.' && (dlen == 1 || newname[1] == '.')))
		return -EBUSY;
	rc = get_dir(vol, dir, &dp);
	if (!rc)
		rc = get_dir(vol, newdir, &ndp);
	if (rc)
		goto out;
	pthread_mutex_lock(&vol->ns_lock);
	pthread_rwlock_wrlock(&dp->lock);
	if (ndp != dp) {
		pthread_rwlock_wrlock(&ndp->lock);
		locked_n = true;
	}
	rc = dir_lookup(vol, dp, name, slen, &sino, &spos);
	if (rc)
		goto unlock;
	rc = dir_lookup(vol, ndp, newname, dlen, &dino, &dpos);
	if (rc && rc != -ENOENT)
		goto unlock;
	have_dst = rc == 0;
	rc = 0;
	if (have_dst && dino == sino)
		goto unlock;	/* same inode: nothing to do */
	if ((flags & RENAME_EXCHANGE) && !have_dst) {
		rc = -ENOENT;
		goto unlock;
	}
	if ((flags & RENAME_NOREPLACE) && have_dst) {
		rc = -EEXIST;
		goto unlock;
	}
	if (sino == ndp->ino || (have_dst && dino == dp->ino)) {
		rc = -EINVAL;	/* a directory into itself / over an ancestor */
		goto unlock;
	}
	rc = inode_get(vol, sino, &sip);
	if (!rc && have_dst)
		rc = inode_get(vol, dino, &dip);
	if (rc)
		goto unlock;
	bool sdir = S_ISDIR(inode_mode(sip)), ddir = dip && S_ISDIR(inode_mode(dip));
	if (sdir && ndp != dp) {
		rc = is_under(vol, ndp->ino, sino);
		if (rc) {
			rc = rc > 0 ? -EINVAL : rc;
			goto unlock;
		}
	}
	if ((flags & RENAME_EXCHANGE) && ddir && ndp != dp) {
		rc = is_under(vol, dp->ino, dino);
		if (rc) {
			rc = rc > 0 ? -EINVAL : rc;
			goto unlock;
		}
	}
	pthread_rwlock_wrlock(&sip->lock);
	if (dip)
		pthread_rwlock_wrlock(&dip->lock);
	if (!(flags & RENAME_EXCHANGE) && dip) {
		if (sdir && !ddir)
			rc = -ENOTDIR;
		else if (!sdir && ddir)
			rc = -EISDIR;
		else if (ddir) {
			rc = dir_count(vol, dip, &count);
			if (!rc && count)
				rc = -ENOTEMPTY;
		}
	}
	if (!rc && sdir && ndp != dp && !dip && inode_nlink(ndp) >= LINK_MAX_PGDAX)
		rc = -EMLINK;
	if (!rc)
		rc = rename_iflags_check(dp, ndp, sip, dip, flags);
	if (!rc) {
		struct jtx *tx = jtx_begin(vol);
		unsigned st = mode_to_dt(inode_mode(sip));
		if (flags & RENAME_EXCHANGE) {
			unsigned dt = mode_to_dt(inode_mode(dip));
			rc = dir_set_ino(tx, dp, spos, dino, dt);
			if (!rc)
				rc = dir_set_ino(tx, ndp, dpos, sino, st);
			if (!rc && dp != ndp && sdir != ddir) {
				/* one directory changes parent */
				rc = add_nlink(tx, sdir ? dp : ndp, -1);
				if (!rc)
					rc = add_nlink(tx, sdir ? ndp : dp, 1);
			}
			if (!rc && sdir && dp != ndp)
				rc = set_parent(tx, sip, ndp->ino);
			if (!rc && ddir && dp != ndp)
				rc = set_parent(tx, dip, dp->ino);
			if (!rc)
				rc = ctime_touch(tx, dip);
		} else {
			if (dip) {
				rc = dir_set_ino(tx, ndp, dpos, sino, st);
				if (!rc)
					rc = drop_link(tx, dip);
				if (!rc && ddir)
					rc = add_nlink(tx, ndp, -1);	/* dip's ".." */
			} else {
				rc = dir_add(tx, ndp, newname, dlen, sino, st);
			}
			if (!rc && (flags & RENAME_WHITEOUT)) {
				/* the old name now names a whiteout (mode and
				 * rdev as the kernel's vfs_whiteout) */
				rc = inode_new(tx, S_IFCHR, cred ? cred->uid : 0,
					       cred ? cred->gid : 0, dp->ino, 0, &wip);
				if (!rc)
					rc = dir_set_ino(tx, dp, spos, wip->ino, mode_to_dt(S_IFCHR));
			} else if (!rc) {
				rc = dir_remove(tx, dp, spos);
			}
			if (!rc && sdir && dp != ndp) {
				rc = add_nlink(tx, dp, -1);
				if (!rc)
					rc = add_nlink(tx, ndp, 1);
				if (!rc)
					rc = set_parent(tx, sip, ndp->ino);
			}
		}
		if (!rc)
			rc = ctime_touch(tx, sip);
		if (!rc)
			rc = dir_touch(tx, dp);
		if (!rc && ndp != dp)
			rc = dir_touch(tx, ndp);
		if (rc)
			jtx_abort(tx);
		else
			rc = jtx_commit(tx);
		if (wip && rc)
			inode_forget_new(vol, wip);	/* its slot is free again */
		else if (wip)
			inode_put(vol, wip);	/* no lookup of it for the kernel */
	}
	if (dip)
		pthread_rwlock_unlock(&dip->lock);
	pthread_rwlock_unlock(&sip->lock);
unlock:
	if (locked_n)
		pthread_rwlock_unlock(&ndp->lock);
	pthread_rwlock_unlock(&dp->lock);
	pthread_mutex_unlock(&vol->ns_lock);
out:
	inode_put(vol, dip);
	inode_put(vol, sip);
	inode_put(vol, ndp);
	inode_put(vol, dp);
	return rc;
}

/* Not acknowledged if the device was lost meanwhile (vol_ack). */
int pgdax_vol_rename(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     uint64_t newdir, const char *newname, unsigned flags)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, rename_impl(vol, dir, name, newdir, newname, flags, NULL));
}

int pgdax_vol_rename2(struct pgdax_vol *vol, uint64_t dir, const char *name,
		      uint64_t newdir, const char *newname, unsigned flags,
		      const struct pgdax_cred *cred)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, rename_impl(vol, dir, name, newdir, newname, flags, cred));
}

/* ---- readdir ---- */

struct rd_ctx {
	struct pgdax_vol *vol;
	bool plus;
	pgdax_filldir_t fill;
	void *ctx;
	int err;
};

static int rd_cb(void *arg, const char *name, size_t len, uint64_t ino, unsigned type,
		 uint64_t next_off)
{
	struct rd_ctx *c = arg;
	char nm[PGDAX_NAME_MAX + 1];
	struct stat st;
	struct inode *ip = NULL;
	bool dots = len <= 2 && name[0] == '.' && (len == 1 || name[1] == '.');

	memcpy(nm, name, len);
	nm[len] = 0;
	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_mode = (mode_t)(type << 12);
	if (c->plus) {
		int rc = inode_get(c->vol, ino, &ip);
		if (rc) {
			c->err = rc == -ESTALE ? -EUCLEAN : rc;
			return 1;
		}
		inode_stat(c->vol, ip, &st);
		if (dots) {
			inode_put(c->vol, ip);
			ip = NULL;
		}
	}
	int stop = c->fill(c->ctx, nm, &st, next_off);
	if (stop && ip)
		inode_put(c->vol, ip);	/* not returned: no reference */
	return stop;
}

static int readdir_impl(struct pgdax_vol *vol, uint64_t dir, uint64_t off, bool plus,
		      pgdax_filldir_t fill, void *ctx)
{
	struct inode *dp;
	struct rd_ctx c = { .vol = vol, .plus = plus, .fill = fill, .ctx = ctx };
	int rc = get_dir(vol, dir, &dp);
	if (rc)
		return rc;
	rc = lock_dir_read(vol, dp);
	if (!rc) {
		rc = dir_iterate(vol, dp, off, rd_cb, &c);
		pthread_rwlock_unlock(&dp->lock);
	}
	inode_put(vol, dp);
	return rc ? rc : c.err;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
int pgdax_vol_readdir(struct pgdax_vol *vol, uint64_t dir, uint64_t off, bool plus,
		      pgdax_filldir_t fill, void *ctx)
{
	int rc;

	VOL_LIVE_OR_EIO(vol);
	rc = readdir_impl(vol, dir, off, plus, fill, ctx);
	if (rc < 0 && vol_dead(vol))
		rc = -EIO;	/* entries already given stay the caller's */
	return rc;
}

/* ---- open files ---- */

static int file_new(struct inode *ip, int flags, struct pgdax_vol_file **f)
{
	struct pgdax_vol_file *nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->ip = ip;
	nf->flags = flags;
	atomic_fetch_add(&ip->opens, 1);
	*f = nf;
	return 0;
}

static int open_impl(struct pgdax_vol *vol, uint64_t ino, int flags,
		   const struct pgdax_cred *cred, struct pgdax_vol_file **f)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	bool wr = (flags & O_ACCMODE) != O_RDONLY;
	if (S_ISDIR(inode_mode(ip)) && wr)
		rc = -EISDIR;
	else if (wr && vol->rdonly)
		rc = -EROFS;
	else if (S_ISLNK(inode_mode(ip)))
		rc = -ELOOP;
	if (!rc)
		rc = iflags_check(ip, IFL_OPEN, flags);
	if (!rc && (flags & O_TRUNC) && wr && S_ISREG(inode_mode(ip)) && inode_size(ip)) {
		pthread_rwlock_wrlock(&ip->lock);
		rc = data_setsize(vol, ip, 0, cred);
		if (!rc)
			inode_touch_mc(vol, ip);
		pthread_rwlock_unlock(&ip->lock);
	}
	if (!rc)
		rc = file_new(ip, flags, f);
	if (rc)
		inode_put(vol, ip);
	return rc;
}

/* Not acknowledged if the device was lost meanwhile (vol_ack). */
int pgdax_vol_open(struct pgdax_vol *vol, uint64_t ino, int flags,
		   const struct pgdax_cred *cred, struct pgdax_vol_file **f)
{
	int rc;

	VOL_LIVE_OR_EIO(vol);
	rc = open_impl(vol, ino, flags, cred, f);
	if (vol_dead(vol)) {
		if (rc == 0)
			pgdax_vol_release(vol, f);
		rc = -EIO;
	}
	return rc;
}


static int create_impl(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     mode_t mode, int flags, const struct pgdax_cred *cred,
		     struct stat *st, struct pgdax_vol_file **f)
{
	struct inode *ip;
	if ((mode & S_IFMT) && !S_ISREG(mode))
		return -EINVAL;
	int rc = do_create(vol, dir, name, (mode & 07777) | S_IFREG, 0, NULL, cred, &ip);
	if (rc)
		return rc;
	inode_stat(vol, ip, st);
	/* one reference for the lookup count, one for the open file */
	inode_hold(vol, ip);
	rc = file_new(ip, flags, f);
	if (rc)
		inode_put(vol, ip);
	return rc;
}

/*
 * O_TMPFILE: a regular file with no name, created with nlink 0 and on the
 * orphan list in one transaction, so a crash before linkat or the last
 * close leaves an orphan the next mount frees (vol.c orphans_reclaim_all),
 * as it does for an unlinked file still open.
 */
static int tmpfile_impl(struct pgdax_vol *vol, uint64_t dir, mode_t mode, int flags,
			const struct pgdax_cred *cred, struct stat *st,
			struct pgdax_vol_file **f)
{
	struct inode *dp, *ip = NULL;
	int rc;

	*f = NULL;
	if (vol->rdonly)
		return -EROFS;
	if ((mode & S_IFMT) && !S_ISREG(mode))
		return -EINVAL;
	rc = get_dir(vol, dir, &dp);
	if (rc)
		return rc;
	pthread_mutex_lock(&vol->ns_lock);
	pthread_rwlock_wrlock(&dp->lock);
	if (inode_nlink(dp) == 0)
		rc = -ENOENT;
	else
		rc = iflags_check(dp, IFL_DIR_ADD, 0);
	if (rc)
		goto unlock;
	uid_t uid = cred ? cred->uid : 0;
	gid_t gid = (inode_mode(dp) & S_ISGID) ? le32toh(dp->d->i_gid) : cred ? cred->gid : 0;
	struct jtx *tx = jtx_begin(vol);
	rc = inode_new(tx, (mode & 07777) | S_IFREG, uid, gid, dir, 0, &ip);
	if (!rc)
		rc = orphan_add(tx, ip);	/* journals the inode too */
	if (!rc)
		ip->d->i_nlink = htole32(0);
	if (rc)
		jtx_abort(tx);
	else
		rc = jtx_commit(tx);
	if (rc && ip) {
		inode_forget_new(vol, ip);
		ip = NULL;
	}
unlock:
	pthread_rwlock_unlock(&dp->lock);
	pthread_mutex_unlock(&vol->ns_lock);
	inode_put(vol, dp);
	if (rc)
		return rc;
	ip->linkable = true;
	inode_stat(vol, ip, st);
	inode_hold(vol, ip);	/* as create: the lookup count and the open file */
	rc = file_new(ip, flags, f);
	if (rc)
		inode_put(vol, ip);
	return rc;
}

int pgdax_vol_tmpfile(struct pgdax_vol *vol, uint64_t dir, mode_t mode, int flags,
		      const struct pgdax_cred *cred, struct stat *st,
		      struct pgdax_vol_file **f)
{
	VOL_LIVE_OR_EIO(vol);
	int rc = vol_ack(vol, tmpfile_impl(vol, dir, mode, flags, cred, st, f));
	if (rc && *f)
		pgdax_vol_release(vol, f);
	return rc;
}

/* Not acknowledged if the device was lost meanwhile (vol_ack). */
int pgdax_vol_create(struct pgdax_vol *vol, uint64_t dir, const char *name,
		     mode_t mode, int flags, const struct pgdax_cred *cred,
		     struct stat *st, struct pgdax_vol_file **f)
{
	int rc;

	VOL_LIVE_OR_EIO(vol);
	rc = create_impl(vol, dir, name, mode, flags, cred, st, f);
	if (vol_dead(vol)) {
		if (rc == 0) {
			pgdax_vol_release(vol, f);
			pgdax_vol_iput(vol, st->st_ino, 1);
		}
		rc = -EIO;
	}
	return rc;
}


void pgdax_vol_release(struct pgdax_vol *vol, struct pgdax_vol_file **fp)
{
	struct pgdax_vol_file *f = fp ? *fp : NULL;
	if (!f)
		return;
	*fp = NULL;
	holder_release_file(vol, f);	/* drop the DAX pins (lib/pin/) */
	if (atomic_fetch_sub(&f->ip->opens, 1) == 1 && (f->flags & O_ACCMODE) != O_RDONLY &&
	    !vol_dead(vol)) {
		/* the last close: give back what writes allocated past EOF */
		pthread_rwlock_wrlock(&f->ip->lock);
		int rc = data_trim_prealloc(vol, f->ip);
		pthread_rwlock_unlock(&f->ip->lock);
		if (rc)
			pgdax_warn("%s: inode %llu: blocks allocated past EOF kept (%d)",
				   vol->devname, (unsigned long long)f->ip->ino, rc);
	}
	inode_put(vol, f->ip);
	free(f);
}

uint64_t pgdax_vol_file_ino(const struct pgdax_vol_file *f)
{
	return f->ip->ino;
}

void **pgdax_vol_file_holder(struct pgdax_vol_file *f)
{
	return &f->holder;
}

int pgdax_vol_file_flags(const struct pgdax_vol_file *f)
{
	return f->flags;
}

mode_t pgdax_vol_file_mode(const struct pgdax_vol_file *f)
{
	return inode_mode(f->ip);
}

uint64_t pgdax_vol_file_size(const struct pgdax_vol_file *f)
{
	return inode_size(f->ip);
}
