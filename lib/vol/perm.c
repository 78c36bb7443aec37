/* SPDX-License-Identifier: MIT */
/*
 * Permission checks: the POSIX rules, in one place.
 *
 * The daemon mounts without default_permissions (so the kernel does not ask
 * for the parent's attributes before every create and unlink: one round
 * trip each, issue 19), and then the kernel checks almost nothing itself:
 * fuse_permission() only sends FUSE_ACCESS for access(2) and chdir(2) and,
 * for exec of a regular file, checks that some x bit is set. Everything
 * else is decided here, on the attributes the volume holds (never a cached
 * copy), with the rules of generic_permission() and setattr_prepare():
 *
 *   - owner, else group (the caller's fsgid or a supplementary group),
 *     else other: the first class that matches decides, even if a later
 *     one would grant more;
 *   - root (uid 0) has CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN and
 *     CAP_FSETID: it may read and write anything, search any directory,
 *     and execute a file only if some x bit is set;
 *   - what the VFS still checks before asking us (immutable files, xattr
 *     namespaces of trusted.* and user.*, security.* capabilities, the
 *     protected_hardlinks rule, setgid stripping on create) is checked again
 *     here only where that costs nothing.
 *
 * Supplementary groups are looked up only when the class is still open
 * (not the owner, not the primary group): cred->groups reads them from the
 * kernel (/proc for FUSE: a syscall), so most checks never need them.
 *
 * Each function returns 0 or the errno the kernel would give (-EACCES for
 * a missing permission bit, -EPERM for an ownership rule).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "vol.h"

#define MAX_GROUPS	1024

static bool is_root(const struct pgdax_cred *cred)
{
	return cred->uid == 0;
}

bool pgdax_perm_in_group(const struct pgdax_cred *cred, gid_t gid)
{
	gid_t list[MAX_GROUPS];
	int n;

	if (cred->gid == gid)
		return true;
	if (!cred->groups)
		return false;
	n = cred->groups(cred->groups_arg, MAX_GROUPS, list);
	if (n > MAX_GROUPS)
		n = MAX_GROUPS;
	for (int i = 0; i < n; i++)
		if (list[i] == gid)
			return true;
	return false;
}

static bool owner_or_root(const struct stat *st, const struct pgdax_cred *cred)
{
	return is_root(cred) || cred->uid == st->st_uid;
}

/* The permission bits (R 4, W 2, X 1) of the caller's class. */
static unsigned class_bits(const struct stat *st, const struct pgdax_cred *cred)
{
	if (cred->uid == st->st_uid)
		return (st->st_mode >> 6) & 7;
	/* group and other grant the same: no need to know the groups */
	if (((st->st_mode >> 3) & 7) == (st->st_mode & 7))
		return st->st_mode & 7;
	if (pgdax_perm_in_group(cred, st->st_gid))
		return (st->st_mode >> 3) & 7;
	return st->st_mode & 7;
}

int pgdax_perm_inode(const struct stat *st, const struct pgdax_cred *cred, int mask)
{
	mask &= PGDAX_MAY_READ | PGDAX_MAY_WRITE | PGDAX_MAY_EXEC;
	if (!mask)
		return 0;
	if (is_root(cred)) {
		/* exec needs some x bit, except to search a directory */
		if ((mask & PGDAX_MAY_EXEC) && !S_ISDIR(st->st_mode) && !(st->st_mode & 0111))
			return -EACCES;
		return 0;
	}
	return ((unsigned)mask & ~class_bits(st, cred)) ? -EACCES : 0;
}

int pgdax_perm_lookup(const struct stat *dir, const struct pgdax_cred *cred)
{
	if (!S_ISDIR(dir->st_mode))
		return -ENOTDIR;
	return pgdax_perm_inode(dir, cred, PGDAX_MAY_EXEC);
}

int pgdax_perm_create(const struct stat *dir, const struct pgdax_cred *cred)
{
	if (!S_ISDIR(dir->st_mode))
		return -ENOTDIR;
	return pgdax_perm_inode(dir, cred, PGDAX_MAY_WRITE | PGDAX_MAY_EXEC);
}

/* may_delete(): write and search on the directory; in a sticky directory
 * only the owner of the entry or of the directory (or root) removes it. */
int pgdax_perm_delete(const struct stat *dir, const struct stat *victim,
		      const struct pgdax_cred *cred)
{
	int rc = pgdax_perm_create(dir, cred);

	if (rc)
		return rc;
	if ((dir->st_mode & S_ISVTX) && !is_root(cred) && cred->uid != victim->st_uid &&
	    cred->uid != dir->st_uid)
		return -EPERM;
	return 0;
}

/* vfs_rename(): delete from the old directory, create (or delete the
 * target) in the new one, and a directory moving to another parent needs
 * write permission on itself (its ".." changes). */
int pgdax_perm_rename(const struct stat *olddir, const struct stat *victim,
		      const struct stat *newdir, const struct stat *target,
		      const struct pgdax_cred *cred)
{
	int rc = pgdax_perm_delete(olddir, victim, cred);

	if (!rc)
		rc = target ? pgdax_perm_delete(newdir, target, cred)
			    : pgdax_perm_create(newdir, cred);
	if (!rc && S_ISDIR(victim->st_mode) && olddir->st_ino != newdir->st_ino)
		rc = pgdax_perm_inode(victim, cred, PGDAX_MAY_WRITE);
	if (!rc && target && S_ISDIR(target->st_mode) && olddir->st_ino != newdir->st_ino)
		rc = pgdax_perm_inode(target, cred, PGDAX_MAY_WRITE);
	return rc;
}

/* may_linkat() with fs.protected_hardlinks = 1: who does not own the
 * file (and is not root) may link only a regular file it may read and
 * write, which is not setuid nor setgid-executable. The VFS asks the
 * filesystem's permission for that, which without default_permissions is
 * this one. */
int pgdax_perm_link(const struct stat *st, bool protected, const struct pgdax_cred *cred)
{
	mode_t m = st->st_mode;

	if (!protected || owner_or_root(st, cred))
		return 0;
	if (!S_ISREG(m) || (m & S_ISUID) || (m & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) ||
	    pgdax_perm_inode(st, cred, PGDAX_MAY_READ | PGDAX_MAY_WRITE))
		return -EPERM;
	return 0;
}

/* may_open(): the access mode, O_TRUNC needs write; an exec open
 * (PGDAX_O_EXEC: the kernel's __FMODE_EXEC in the FUSE open flags) needs
 * exec only, so a 0711 program runs for others but cannot be read. */
int pgdax_perm_open(const struct stat *st, int flags, const struct pgdax_cred *cred)
{
	int mask = 0;

	if (flags & PGDAX_O_EXEC)
		mask = PGDAX_MAY_EXEC;
	else if ((flags & O_ACCMODE) == O_RDONLY)
		mask = PGDAX_MAY_READ;
	else if ((flags & O_ACCMODE) == O_WRONLY)
		mask = PGDAX_MAY_WRITE;
	else if ((flags & O_ACCMODE) == O_RDWR)
		mask = PGDAX_MAY_READ | PGDAX_MAY_WRITE;
	if (flags & O_TRUNC)
		mask |= PGDAX_MAY_WRITE;
	return pgdax_perm_inode(st, cred, mask);
}

/*
 * The kernel clears setuid/setgid after a write or truncate by someone
 * other than root with a SETATTR of the mode (no HANDLE_KILLPRIV): the
 * caller may not be the owner. Such a change only clears those bits, and
 * the caller could write the file (or holds it open: fh), so it is the
 * writer's right, not a chmod.
 */
static bool only_kills_priv(const struct stat *st, mode_t mode)
{
	mode_t old = st->st_mode & 07777, new = mode & 07777;

	return new != old && (old & ~new & ~(mode_t)(S_ISUID | S_ISGID)) == 0 &&
	       (new & ~old) == 0;
}

int pgdax_perm_setattr(const struct stat *st, struct stat *attr, int valid, bool has_fh,
		       const struct pgdax_cred *cred)
{
	bool owner = owner_or_root(st, cred);
	int rc;

	if (valid & PGDAX_SET_UID) {
		/* chown: root; the owner only to itself (a no-op) */
		if (!is_root(cred) && !(cred->uid == st->st_uid && attr->st_uid == st->st_uid))
			return -EPERM;
	}
	if (valid & PGDAX_SET_GID) {
		/* chgrp: root; the owner to the file's group or one it is in */
		if (!is_root(cred) && !(cred->uid == st->st_uid &&
					(attr->st_gid == st->st_gid ||
					 pgdax_perm_in_group(cred, attr->st_gid))))
			return -EPERM;
	}
	if (valid & PGDAX_SET_MODE) {
		gid_t gid = (valid & PGDAX_SET_GID) ? attr->st_gid : st->st_gid;

		if (!owner) {
			if (!only_kills_priv(st, attr->st_mode))
				return -EPERM;
			if (!has_fh && (rc = pgdax_perm_inode(st, cred, PGDAX_MAY_WRITE)))
				return -EPERM;
		} else if (!is_root(cred) && (attr->st_mode & S_ISGID) &&
			   !pgdax_perm_in_group(cred, gid)) {
			/* setattr_prepare(): the setgid bit only for members */
			attr->st_mode &= ~(mode_t)S_ISGID;
		}
	}
	if (valid & PGDAX_SET_SIZE) {
		/* truncate(2) needs write permission; ftruncate(2) an fd
		 * opened for writing, which the kernel checked */
		if (!has_fh && (rc = pgdax_perm_inode(st, cred, PGDAX_MAY_WRITE)))
			return rc;
	}
	if (((valid & PGDAX_SET_ATIME) && !(valid & PGDAX_SET_ATIME_NOW)) ||
	    ((valid & PGDAX_SET_MTIME) && !(valid & PGDAX_SET_MTIME_NOW))) {
		/* explicit times: the owner (or root) only */
		if (!owner && !(valid & PGDAX_SET_SIZE))
			return -EPERM;
	} else if (valid & (PGDAX_SET_ATIME_NOW | PGDAX_SET_MTIME_NOW)) {
		/* "now": the owner or anyone who may write */
		if (!owner && !(valid & PGDAX_SET_SIZE) &&
		    (rc = pgdax_perm_inode(st, cred, PGDAX_MAY_WRITE)))
			return rc;
	}
	return 0;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* xattr_permission() plus the LSM's security.* rule: @mask is
 * PGDAX_MAY_READ (get) or PGDAX_MAY_WRITE (set, remove). */
int pgdax_perm_xattr(const struct stat *st, const char *name, int mask,
		     const struct pgdax_cred *cred)
{
	bool write = mask & PGDAX_MAY_WRITE;

	if (has_prefix(name, "trusted."))
		return is_root(cred) ? 0 : write ? -EPERM : -ENODATA;
	if (has_prefix(name, "security."))
		/* cap_inode_setxattr(): CAP_SYS_ADMIN (CAP_SETFCAP for
		 * security.capability) to write; reading is free */
		return !write || is_root(cred) ? 0 : -EPERM;
	if (has_prefix(name, "user.")) {
		if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
			return write ? -EPERM : -ENODATA;
		if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && write &&
		    !owner_or_root(st, cred))
			return -EPERM;
	}
	return pgdax_perm_inode(st, cred, mask);
}

/* listxattr(2): trusted.* names are shown to root only (simple_xattr_list). */
bool pgdax_perm_xattr_listed(const char *name, const struct pgdax_cred *cred)
{
	return is_root(cred) || !has_prefix(name, "trusted.");
}
