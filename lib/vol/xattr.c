/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes: one block per inode (lib/vol/format.h). A change builds
 * the new block image in DRAM and writes it in place inside one
 * transaction (old bytes journaled), so a crash leaves the old or the new
 * set. Namespaces: user., trusted., security., system.posix_acl_access and
 * system.posix_acl_default.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "vol_internal.h"

#define XATTR_VALUE_MAX 65535	/* xe_value_len is 16 bits; a block is smaller anyway */

static uint32_t ent_size(unsigned nlen, unsigned vlen)
{
	return (uint32_t)((sizeof(struct pgdax_xattr_entry) + nlen + vlen + 7) & ~7u);
}

static int check_xname(const char *name, size_t *len)
{
	size_t n = strnlen(name, 256);
	if (n == 0)
		return -EINVAL;
	if (n > 255)
		return -ERANGE;
	if (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8) &&
	    strncmp(name, "security.", 9) && strcmp(name, "system.posix_acl_access") &&
	    strcmp(name, "system.posix_acl_default"))
		return -EOPNOTSUPP;
	*len = n;
	return 0;
}

static uint32_t blk_crc(const char *b, uint32_t used)
{
	struct pgdax_xattr_hdr h;
	memcpy(&h, b, sizeof(h));
	h.xh_crc = 0;
	uint32_t c = pgdax_crc32c(0, &h, sizeof(h));
	return pgdax_crc32c(c, b + sizeof(h), used - sizeof(h));
}

/* Validated xattr block of @ip, or NULL (none); -EUCLEAN via *err. */
static const char *xblock(struct pgdax_vol *vol, struct inode *ip, int *err)
{
	uint64_t b = le64toh(ip->d->i_xattr_block);
	*err = 0;
	if (!b)
		return NULL;
	const char *p = blk_addr(vol, b);
	const struct pgdax_xattr_hdr *h = (const void *)p;
	uint32_t used = le32toh(h->xh_used);
	if (le32toh(h->xh_magic) != PGDAX_XH_MAGIC || le64toh(h->xh_ino) != ip->ino ||
	    used < sizeof(*h) || used > vol->bs || blk_crc(p, used) != le32toh(h->xh_crc)) {
		pgdax_err("%s: xattr block @%llu (inode %llu): bad header or checksum",
			  vol->devname, (unsigned long long)dev_off(vol, p),
			  (unsigned long long)ip->ino);
		*err = vol_corrupt(vol, ip->ino);
		return NULL;
	}
	/* walk the entries once to check their bounds */
	uint32_t pos = sizeof(*h), n = 0;
	while (pos < used) {
		const struct pgdax_xattr_entry *e = (const void *)(p + pos);
		if (used - pos < sizeof(*e) || e->xe_name_len == 0 ||
		    ent_size(e->xe_name_len, le16toh(e->xe_value_len)) > used - pos) {
			pgdax_err("%s: xattr block @%llu: bad entry at %u", vol->devname,
				  (unsigned long long)dev_off(vol, p), pos);
			*err = vol_corrupt(vol, ip->ino);
			return NULL;
		}
		pos += ent_size(e->xe_name_len, le16toh(e->xe_value_len));
		n++;
	}
	if (n != le32toh(h->xh_count)) {
		pgdax_err("%s: xattr block @%llu: count mismatch", vol->devname,
			  (unsigned long long)dev_off(vol, p));
		*err = vol_corrupt(vol, ip->ino);
		return NULL;
	}
	return p;
}

static const struct pgdax_xattr_entry *xfind(const char *p, const char *name, size_t len)
{
	const struct pgdax_xattr_hdr *h = (const void *)p;
	uint32_t used = le32toh(h->xh_used);
	for (uint32_t pos = sizeof(*h); pos < used;) {
		const struct pgdax_xattr_entry *e = (const void *)(p + pos);
		if (e->xe_name_len == len && !memcmp(e->xe_name, name, len))
			return e;
		pos += ent_size(e->xe_name_len, le16toh(e->xe_value_len));
	}
	return NULL;
}

int xattr_free(struct jtx *tx, struct inode *ip)
{
	uint64_t b = le64toh(ip->d->i_xattr_block);
	if (!b)
		return 0;
	if (!pgdax_blk_in_data(&jtx_vol(tx)->geo, b))
		return -EUCLEAN;
	int rc = jtx_inode(tx, ip->d);
	if (!rc)
		rc = blk_free(tx, b, 1);
	if (!rc) {
		ip->d->i_xattr_block = 0;
		ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) - 1);
	}
	return rc;
}

/* Replace (or, value NULL, remove) @name; flags XATTR_CREATE/REPLACE. */
static int xset(struct pgdax_vol *vol, struct inode *ip, const char *name, size_t len,
		const void *value, size_t size, int flags)
{
	int rc;
	const char *old = xblock(vol, ip, &rc);
	if (rc)
		return rc;
	const struct pgdax_xattr_entry *cur = old ? xfind(old, name, len) : NULL;
	if (!cur && (flags & XATTR_REPLACE || !value))
		return -ENODATA;
	if (cur && (flags & XATTR_CREATE))
		return -EEXIST;

	char *img = calloc(1, vol->bs);
	if (!img)
		return -ENOMEM;
	struct pgdax_xattr_hdr *h = (void *)img;
	uint32_t pos = sizeof(*h), count = 0, old_used = 0;
	if (old) {
		const struct pgdax_xattr_hdr *oh = (const void *)old;
		old_used = le32toh(oh->xh_used);
		for (uint32_t p = sizeof(*h); p < old_used;) {
			const struct pgdax_xattr_entry *e = (const void *)(old + p);
			uint32_t es = ent_size(e->xe_name_len, le16toh(e->xe_value_len));
			if (e != cur) {
				memcpy(img + pos, e, es);
				pos += es;
				count++;
			}
			p += es;
		}
	}
	if (value) {
		uint32_t es = ent_size((unsigned)len, (unsigned)size);
		if (es > vol->bs - pos) {
			free(img);
			return -ENOSPC;
		}
		struct pgdax_xattr_entry *e = (void *)(img + pos);
		e->xe_name_len = (uint8_t)len;
		e->xe_value_len = htole16((uint16_t)size);
		memcpy(e->xe_name, name, len);
		memcpy(e->xe_name + len, value, size);
		pos += es;
		count++;
	}
	h->xh_magic = htole32(PGDAX_XH_MAGIC);
	h->xh_count = htole32(count);
	h->xh_used = htole32(pos);
	h->xh_ino = htole64(ip->ino);
	h->xh_crc = htole32(blk_crc(img, pos));

	struct jtx *tx = jtx_begin(vol);
	uint64_t b = le64toh(ip->d->i_xattr_block);
	if (count == 0) {
		rc = xattr_free(tx, ip);
	} else if (!b) {
		rc = blk_alloc(tx, 0, NULL, &b);
		if (!rc)
			rc = jtx_inode(tx, ip->d);
		if (!rc) {
			char *dst = blk_addr(vol, b);
			memcpy(dst, img, vol->bs);
			rc = jtx_touch(tx, dst, vol->bs);
			ip->d->i_xattr_block = htole64(b);
			ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) + 1);
		}
	} else {
		char *dst = blk_addr(vol, b);
		uint32_t n = pos > old_used ? pos : old_used;
		rc = jtx_add(tx, dst, n);
		if (!rc)
			memcpy(dst, img, n);
	}
	if (!rc)
		rc = jtx_add(tx, &ip->d->i_ctime, sizeof(ip->d->i_ctime));
	if (!rc)
		inode_now(&ip->d->i_ctime);
	if (rc)
		jtx_abort(tx);
	else
		rc = jtx_commit(tx);
	free(img);
	return rc;
}

static int setxattr_impl(struct pgdax_vol *vol, uint64_t ino, const char *name,
		       const void *value, size_t size, int flags)
{
	struct inode *ip;
	size_t len;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	rc = check_xname(name, &len);
	if (rc)
		return rc;
	if (size > XATTR_VALUE_MAX)
		return -E2BIG;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	rc = iflags_check(ip, IFL_XATTR, 0);
	if (!rc)
		rc = xset(vol, ip, name, len, value ? value : "", size, flags);
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

/* Not acknowledged if the device was lost meanwhile (vol_ack). */
int pgdax_vol_setxattr(struct pgdax_vol *vol, uint64_t ino, const char *name,
		       const void *value, size_t size, int flags)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, setxattr_impl(vol, ino, name, value, size, flags));
}

static ssize_t getxattr_impl(struct pgdax_vol *vol, uint64_t ino, const char *name,
			   void *buf, size_t size)
{
	struct inode *ip;
	size_t len;
	int rc = check_xname(name, &len);
	if (rc)
		return rc;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	ssize_t ret;
	pthread_rwlock_rdlock(&ip->lock);
	const char *p = xblock(vol, ip, &rc);
	const struct pgdax_xattr_entry *e = p ? xfind(p, name, len) : NULL;
	if (rc)
		ret = rc;
	else if (!e)
		ret = -ENODATA;
	else {
		size_t vl = le16toh(e->xe_value_len);
		if (size == 0)
			ret = (ssize_t)vl;
		else if (size < vl)
			ret = -ERANGE;
		else {
			memcpy(buf, e->xe_name + e->xe_name_len, vl);
			ret = (ssize_t)vl;
		}
	}
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return ret;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
ssize_t pgdax_vol_getxattr(struct pgdax_vol *vol, uint64_t ino, const char *name,
			   void *buf, size_t size)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, getxattr_impl(vol, ino, name, buf, size));
}

static ssize_t listxattr_impl(struct pgdax_vol *vol, uint64_t ino, char *buf, size_t size)
{
	struct inode *ip;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	ssize_t total = 0;
	pthread_rwlock_rdlock(&ip->lock);
	const char *p = xblock(vol, ip, &rc);
	if (rc)
		total = rc;
	else if (p) {
		const struct pgdax_xattr_hdr *h = (const void *)p;
		uint32_t used = le32toh(h->xh_used);
		for (uint32_t pos = sizeof(*h); pos < used;) {
			const struct pgdax_xattr_entry *e = (const void *)(p + pos);
			size_t nl = e->xe_name_len;
			if (size) {
				if ((size_t)total + nl + 1 > size) {
					total = -ERANGE;
					break;
				}
				memcpy(buf + total, e->xe_name, nl);
				buf[total + (ssize_t)nl] = 0;
			}
			total += (ssize_t)nl + 1;
			pos += ent_size(e->xe_name_len, le16toh(e->xe_value_len));
		}
	}
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return total;
}

/* -EIO if the device was lost meanwhile (vol_ack). */
ssize_t pgdax_vol_listxattr(struct pgdax_vol *vol, uint64_t ino, char *buf, size_t size)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, listxattr_impl(vol, ino, buf, size));
}

static int removexattr_impl(struct pgdax_vol *vol, uint64_t ino, const char *name)
{
	struct inode *ip;
	size_t len;
	int rc;

	if (vol->rdonly)
		return -EROFS;
	rc = check_xname(name, &len);
	if (rc)
		return rc;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ip->lock);
	rc = iflags_check(ip, IFL_XATTR, 0);
	if (!rc)
		rc = xset(vol, ip, name, len, NULL, 0, XATTR_REPLACE);
	pthread_rwlock_unlock(&ip->lock);
	inode_put(vol, ip);
	return rc;
}

/* Not acknowledged if the device was lost meanwhile (vol_ack). */
int pgdax_vol_removexattr(struct pgdax_vol *vol, uint64_t ino, const char *name)
{
	VOL_LIVE_OR_EIO(vol);
	return vol_ack(vol, removexattr_impl(vol, ino, name));
}
