/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes: a chain of blocks per inode, values longer than a
 * quarter block in their own extent (lib/vol/format.h; before minor 4 and
 * on volumes without PGDAX_FEAT_INCOMPAT_XATTR_MULTI, one block and inline
 * values only). A change builds the new images of the blocks it touches in
 * DRAM and writes them in place inside one transaction (old bytes
 * journaled; a new block or value extent is written and persisted before
 * the commit that links it), so a crash leaves the old or the new set.
 * Every operation validates the whole chain first (crc of each block, every
 * entry's bounds): a small set is one block, as before; a big one costs a
 * walk of its blocks, a few tens for thousands of names. Namespaces:
 * user., trusted., security., system.posix_acl_access and
 * system.posix_acl_default.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "vol_internal.h"

#define XV_SIZE ((unsigned)sizeof(struct pgdax_xattr_value))

static uint32_t ent_size(unsigned nlen, unsigned vlen)
{
	return (uint32_t)((sizeof(struct pgdax_xattr_entry) + nlen + vlen + 7) & ~7u);
}

static uint32_t e_size(const struct pgdax_xattr_entry *e)
{
	return ent_size(e->xe_name_len, le16toh(e->xe_value_len));
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

static struct pgdax_xattr_value e_ref(const struct pgdax_xattr_entry *e)
{
	struct pgdax_xattr_value v;
	memcpy(&v, e->xe_name + e->xe_name_len, sizeof(v));	/* may be unaligned */
	return v;
}

/* Is an external value's extent where the format says it may be? */
static bool ref_ok(struct pgdax_vol *vol, const struct pgdax_xattr_entry *e)
{
	if (le16toh(e->xe_value_len) != XV_SIZE)
		return false;
	struct pgdax_xattr_value v = e_ref(e);
	uint32_t len = le32toh(v.xv_len);
	uint64_t b = le64toh(v.xv_blk);
	if (len == 0 || len > PGDAX_XATTR_VALUE_MAX)
		return false;
	uint64_t n = 1ull << pgdax_xattr_value_order(vol->bs, len);
	if (b % n)
		return false;
	for (uint64_t k = 0; k < n; k++)
		if (!pgdax_blk_in_data(&vol->geo, b + k))
			return false;
	return true;
}

/* Validate the xattr block @p (@b) of @ip: header, crc, entries. */
static int xblock_check(struct pgdax_vol *vol, struct inode *ip, uint64_t b, const char *p)
{
	const struct pgdax_xattr_hdr *h = (const void *)p;
	uint32_t used = le32toh(h->xh_used);
	if (le32toh(h->xh_magic) != PGDAX_XH_MAGIC || le64toh(h->xh_ino) != ip->ino ||
	    used < sizeof(*h) || used > vol->bs || blk_crc(p, used) != le32toh(h->xh_crc)) {
		pgdax_err("%s: xattr block %llu (inode %llu): bad header or checksum",
			  vol->devname, (unsigned long long)b, (unsigned long long)ip->ino);
		return vol_corrupt(vol, ip->ino);
	}
	/* walk the entries once to check their bounds */
	uint32_t pos = sizeof(*h), n = 0;
	while (pos < used) {
		const struct pgdax_xattr_entry *e = (const void *)(p + pos);
		if (used - pos < sizeof(*e) || e->xe_name_len == 0 ||
		    e_size(e) > used - pos || (e->xe_flags & ~PGDAX_XE_EXTERNAL) ||
		    ((e->xe_flags & PGDAX_XE_EXTERNAL) && !ref_ok(vol, e))) {
			pgdax_err("%s: xattr block %llu (inode %llu): bad entry at %u",
				  vol->devname, (unsigned long long)b,
				  (unsigned long long)ip->ino, pos);
			return vol_corrupt(vol, ip->ino);
		}
		pos += e_size(e);
		n++;
	}
	if (n != le32toh(h->xh_count) || n == 0) {
		pgdax_err("%s: xattr block %llu (inode %llu): count mismatch", vol->devname,
			  (unsigned long long)b, (unsigned long long)ip->ino);
		return vol_corrupt(vol, ip->ino);
	}
	return 0;
}

/* One block of a loaded chain, and the DRAM image a change builds of it */
struct xblk {
	uint64_t b;
	char *p;		/* on the device */
	char *img;		/* NULL: unchanged */
	uint32_t old_used;	/* 0: a block this change allocated */
	bool dead;		/* emptied: unlinked and freed */
};

struct xchain {
	struct xblk *v;
	size_t n, cap;
};

static void chain_free(struct xchain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		free(ch->v[i].img);
	free(ch->v);
	ch->v = NULL;
	ch->n = ch->cap = 0;
}

static int chain_push(struct xchain *ch, size_t at, const struct xblk *x)
{
	if (ch->n == ch->cap) {
		size_t nc = ch->cap ? ch->cap * 2 : 4;
		struct xblk *v = realloc(ch->v, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ch->v = v;
		ch->cap = nc;
	}
	memmove(ch->v + at + 1, ch->v + at, (ch->n - at) * sizeof(*x));
	ch->v[at] = *x;
	ch->n++;
	return 0;
}

/* Load and validate @ip's chain, in link order. */
static int chain_load(struct pgdax_vol *vol, struct inode *ip, struct xchain *ch)
{
	uint64_t b = le64toh(ip->d->i_xattr_block);
	int rc = 0;

	memset(ch, 0, sizeof(*ch));
	while (b) {
		bool loop = false;
		for (size_t i = 0; i < ch->n; i++)
			loop |= ch->v[i].b == b;
		if (loop || !pgdax_blk_in_data(&vol->geo, b)) {
			pgdax_err("%s: inode %llu: xattr block %llu %s", vol->devname,
				  (unsigned long long)ip->ino, (unsigned long long)b,
				  loop ? "twice in the chain" : "outside the data area");
			rc = vol_corrupt(vol, ip->ino);
			break;
		}
		const char *p = blk_addr(vol, b);
		rc = xblock_check(vol, ip, b, p);
		if (rc)
			break;
		const struct pgdax_xattr_hdr *h = (const void *)p;
		struct xblk x = { .b = b, .p = (char *)p, .old_used = le32toh(h->xh_used) };
		rc = chain_push(ch, ch->n, &x);
		if (rc)
			break;
		b = le64toh(h->xh_next);
	}
	if (rc)
		chain_free(ch);
	return rc;
}

/* The bytes a lookup reads: the image when a change built one */
static const char *xb_bytes(const struct xblk *x)
{
	return x->img ? x->img : x->p;
}

static struct pgdax_xattr_hdr *xb_hdr(const struct xblk *x)
{
	return (struct pgdax_xattr_hdr *)xb_bytes(x);
}

static const struct pgdax_xattr_entry *xfind(const char *p, const char *name, size_t len)
{
	const struct pgdax_xattr_hdr *h = (const void *)p;
	uint32_t used = le32toh(h->xh_used);
	for (uint32_t pos = sizeof(*h); pos < used;) {
		const struct pgdax_xattr_entry *e = (const void *)(p + pos);
		if (e->xe_name_len == len && !memcmp(e->xe_name, name, len))
			return e;
		pos += e_size(e);
	}
	return NULL;
}

static const struct pgdax_xattr_entry *chain_find(const struct xchain *ch, const char *name,
						  size_t len, size_t *at)
{
	for (size_t i = 0; i < ch->n; i++) {
		const struct pgdax_xattr_entry *e = xfind(xb_bytes(&ch->v[i]), name, len);
		if (e) {
			*at = i;
			return e;
		}
	}
	return NULL;
}

/* Give @x a DRAM image to change (a copy of the block) */
static int xb_edit(struct pgdax_vol *vol, struct xblk *x)
{
	if (x->img)
		return 0;
	x->img = calloc(1, vol->bs);
	if (!x->img)
		return -ENOMEM;
	memcpy(x->img, x->p, x->old_used);
	return 0;
}

static void img_remove(char *img, uint32_t off)
{
	struct pgdax_xattr_hdr *h = (void *)img;
	uint32_t used = le32toh(h->xh_used);
	uint32_t es = e_size((const void *)(img + off));
	memmove(img + off, img + off + es, used - off - es);
	memset(img + used - es, 0, es);
	h->xh_used = htole32(used - es);
	h->xh_count = htole32(le32toh(h->xh_count) - 1);
}

static void img_add(char *img, const char *name, size_t len, uint8_t fl, const void *val,
		    size_t vlen)
{
	struct pgdax_xattr_hdr *h = (void *)img;
	uint32_t used = le32toh(h->xh_used);
	struct pgdax_xattr_entry *e = (void *)(img + used);
	e->xe_name_len = (uint8_t)len;
	e->xe_flags = fl;
	e->xe_value_len = htole16((uint16_t)vlen);
	memcpy(e->xe_name, name, len);
	memcpy(e->xe_name + len, val, vlen);
	h->xh_used = htole32(used + ent_size((unsigned)len, (unsigned)vlen));
	h->xh_count = htole32(le32toh(h->xh_count) + 1);
}

static int value_free(struct jtx *tx, struct inode *ip, const struct pgdax_xattr_entry *e)
{
	if (!(e->xe_flags & PGDAX_XE_EXTERNAL))
		return 0;
	struct pgdax_xattr_value v = e_ref(e);
	uint64_t n = 1ull << pgdax_xattr_value_order(jtx_vol(tx)->bs, le32toh(v.xv_len));
	int rc = blk_free(tx, le64toh(v.xv_blk), n);
	if (!rc)
		ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) - n);
	return rc;
}

/* Caller journaled the inode (jtx_inode). */
static int chain_release(struct jtx *tx, struct inode *ip, const struct xchain *ch)
{
	for (size_t i = 0; i < ch->n; i++) {
		const char *p = ch->v[i].p;
		const struct pgdax_xattr_hdr *h = (const void *)p;
		for (uint32_t pos = sizeof(*h); pos < le32toh(h->xh_used);) {
			const struct pgdax_xattr_entry *e = (const void *)(p + pos);
			int rc = value_free(tx, ip, e);
			if (rc)
				return rc;
			pos += e_size(e);
		}
		int rc = blk_free(tx, ch->v[i].b, 1);
		if (rc)
			return rc;
		ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) - 1);
	}
	ip->d->i_xattr_block = 0;
	return 0;
}

int xattr_free(struct jtx *tx, struct inode *ip)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct xchain ch;

	if (!ip->d->i_xattr_block)
		return 0;
	int rc = chain_load(vol, ip, &ch);
	if (!rc)
		rc = jtx_inode(tx, ip->d);
	if (!rc)
		rc = chain_release(tx, ip, &ch);
	chain_free(&ch);
	return rc;
}

/*
 * Free the chain of an inode being reclaimed one block at a time, each
 * block with its value extents in its own transaction (the head is
 * unlinked: every step leaves a consistent, smaller set), so that a file
 * with thousands of 64 KiB values does not need one transaction larger
 * than the journal. The caller holds the inode exclusively.
 */
int xattr_free_chunked(struct pgdax_vol *vol, struct inode *ip)
{
	while (ip->d->i_xattr_block) {
		uint64_t b = le64toh(ip->d->i_xattr_block);
		if (!pgdax_blk_in_data(&vol->geo, b))
			return vol_corrupt(vol, ip->ino);
		const char *p = blk_addr(vol, b);
		int rc = xblock_check(vol, ip, b, p);
		if (rc)
			return rc;
		const struct pgdax_xattr_hdr *h = (const void *)p;
		struct xchain one = { 0 };
		struct xblk x = { .b = b, .p = (char *)p, .old_used = le32toh(h->xh_used) };
		one.v = &x;
		one.n = 1;
		struct jtx *tx = jtx_begin(vol);
		rc = jtx_inode(tx, ip->d);
		if (!rc)
			rc = chain_release(tx, ip, &one);
		if (!rc)
			ip->d->i_xattr_block = h->xh_next;
		if (rc) {
			jtx_abort(tx);
			return rc;
		}
		rc = jtx_commit(tx);
		if (rc)
			return rc;
	}
	return 0;
}

/* Write the value extent of a new external entry; fills @ref. */
static int value_write(struct jtx *tx, struct inode *ip, const void *value, size_t size,
		       struct pgdax_xattr_value *ref)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	unsigned order = pgdax_xattr_value_order(vol->bs, (uint32_t)size);
	uint64_t vb;
	int rc = blk_alloc(tx, order, NULL, &vb);
	if (rc)
		return rc;
	char *dst = blk_addr(vol, vb);
	memcpy(dst, value, size);
	rc = jtx_touch(tx, dst, size);	/* persisted before the commit */
	if (rc)
		return rc;
	ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) + (1ull << order));
	ref->xv_blk = htole64(vb);
	ref->xv_len = htole32((uint32_t)size);
	ref->xv_crc = htole32(pgdax_crc32c(0, value, size));
	return 0;
}

/* A new, empty block at the head of the chain */
static int chain_grow(struct jtx *tx, struct inode *ip, struct xchain *ch)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	struct xblk x = { 0 };
	int rc = blk_alloc(tx, 0, NULL, &x.b);
	if (rc)
		return rc;
	x.p = blk_addr(vol, x.b);
	x.img = calloc(1, vol->bs);
	if (!x.img)
		return -ENOMEM;
	struct pgdax_xattr_hdr *h = (void *)x.img;
	h->xh_magic = htole32(PGDAX_XH_MAGIC);
	h->xh_used = htole32(sizeof(*h));
	h->xh_ino = htole64(ip->ino);
	h->xh_next = ip->d->i_xattr_block;
	rc = chain_push(ch, 0, &x);
	if (rc) {
		free(x.img);
		return rc;
	}
	ip->d->i_xattr_block = htole64(x.b);
	ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) + 1);
	return 0;
}

/* Unlink and free the emptied blocks; then write every changed image. */
static int chain_store(struct jtx *tx, struct inode *ip, struct xchain *ch)
{
	struct pgdax_vol *vol = jtx_vol(tx);
	int rc;

	for (size_t i = ch->n; i-- > 0;) {
		struct xblk *x = &ch->v[i];
		if (!x->img || xb_hdr(x)->xh_count)
			continue;
		pgdax_le64 next = xb_hdr(x)->xh_next;
		if (i == 0) {
			ip->d->i_xattr_block = next;
		} else {
			rc = xb_edit(vol, &ch->v[i - 1]);
			if (rc)
				return rc;
			xb_hdr(&ch->v[i - 1])->xh_next = next;
		}
		rc = blk_free(tx, x->b, 1);
		if (rc)
			return rc;
		ip->d->i_blocks = htole64(le64toh(ip->d->i_blocks) - 1);
		x->dead = true;
	}
	for (size_t i = 0; i < ch->n; i++) {
		struct xblk *x = &ch->v[i];
		if (!x->img || x->dead)
			continue;
		struct pgdax_xattr_hdr *h = xb_hdr(x);
		uint32_t used = le32toh(h->xh_used);
		h->xh_crc = htole32(blk_crc(x->img, used));
		if (!x->old_used) {
			memcpy(x->p, x->img, vol->bs);
			rc = jtx_touch(tx, x->p, vol->bs);
		} else {
			uint32_t n = used > x->old_used ? used : x->old_used;
			rc = jtx_add(tx, x->p, n);
			if (!rc)
				memcpy(x->p, x->img, n);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* The block of @ch where an entry of @es bytes goes: @pref if it has room,
 * else the first that has; ch->n if none. */
static size_t chain_room(struct pgdax_vol *vol, const struct xchain *ch, size_t pref,
			 uint32_t es)
{
	if (pref < ch->n && vol->bs - le32toh(xb_hdr(&ch->v[pref])->xh_used) >= es)
		return pref;
	for (size_t i = 0; i < ch->n; i++)
		if (vol->bs - le32toh(xb_hdr(&ch->v[i])->xh_used) >= es)
			return i;
	return ch->n;
}

/* Replace (or, value NULL, remove) @name; flags XATTR_CREATE/REPLACE. */
static int xset(struct pgdax_vol *vol, struct inode *ip, const char *name, size_t len,
		const void *value, size_t size, int flags)
{
	struct xchain ch;
	size_t at = 0;
	int rc = chain_load(vol, ip, &ch);
	if (rc)
		return rc;
	const struct pgdax_xattr_entry *cur = chain_find(&ch, name, len, &at);
	rc = !cur && (flags & XATTR_REPLACE || !value) ? -ENODATA :
	     cur && (flags & XATTR_CREATE) ? -EEXIST : 0;
	/* a volume without the feature keeps one block of inline values */
	bool ext = value && vol->xattr_multi && size > PGDAX_XATTR_INLINE_MAX(vol->bs);
	uint32_t es = ent_size((unsigned)len, ext ? XV_SIZE : (unsigned)size);
	if (!rc && value && es > vol->bs - sizeof(struct pgdax_xattr_hdr))
		rc = -ENOSPC;
	if (rc) {
		chain_free(&ch);
		return rc;
	}

	struct jtx *tx = jtx_begin(vol);
	rc = jtx_inode(tx, ip->d);
	if (!rc && cur) {
		uint32_t off = (uint32_t)((const char *)cur - xb_bytes(&ch.v[at]));
		rc = value_free(tx, ip, cur);
		if (!rc)
			rc = xb_edit(vol, &ch.v[at]);
		if (!rc)
			img_remove(ch.v[at].img, off);
	}
	if (!rc && value) {
		struct pgdax_xattr_value ref;
		const void *val = value;
		if (ext) {
			rc = value_write(tx, ip, value, size, &ref);
			val = &ref;
		}
		size_t to = chain_room(vol, &ch, at, es);
		if (!rc && to == ch.n) {
			if (ch.n && !vol->xattr_multi)
				rc = -ENOSPC;
			else
				rc = chain_grow(tx, ip, &ch);
			to = 0;
			at++;
		}
		if (!rc)
			rc = xb_edit(vol, &ch.v[to]);
		if (!rc)
			img_add(ch.v[to].img, name, len, ext ? PGDAX_XE_EXTERNAL : 0, val,
				ext ? XV_SIZE : size);
	}
	if (!rc)
		rc = chain_store(tx, ip, &ch);
	if (!rc)
		rc = jtx_add(tx, &ip->d->i_ctime, sizeof(ip->d->i_ctime));
	if (!rc)
		inode_now(&ip->d->i_ctime);
	if (rc)
		jtx_abort(tx);
	else
		rc = jtx_commit(tx);
	chain_free(&ch);
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
	if (size > PGDAX_XATTR_VALUE_MAX)
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

/* Copy the value of @e into @buf (@size 0: the length only). */
static ssize_t value_read(struct pgdax_vol *vol, struct inode *ip,
			  const struct pgdax_xattr_entry *e, void *buf, size_t size)
{
	const char *v = e->xe_name + e->xe_name_len;
	size_t vl = le16toh(e->xe_value_len);
	struct pgdax_xattr_value ref;

	if (e->xe_flags & PGDAX_XE_EXTERNAL) {
		ref = e_ref(e);
		vl = le32toh(ref.xv_len);
		v = blk_addr(vol, le64toh(ref.xv_blk));
	}
	if (size == 0)
		return (ssize_t)vl;
	if (size < vl)
		return -ERANGE;
	memcpy(buf, v, vl);
	if ((e->xe_flags & PGDAX_XE_EXTERNAL) &&
	    pgdax_crc32c(0, buf, vl) != le32toh(ref.xv_crc)) {
		pgdax_err("%s: inode %llu: xattr value at block %llu: bad checksum",
			  vol->devname, (unsigned long long)ip->ino,
			  (unsigned long long)le64toh(ref.xv_blk));
		return vol_corrupt(vol, ip->ino);
	}
	return (ssize_t)vl;
}

static ssize_t getxattr_impl(struct pgdax_vol *vol, uint64_t ino, const char *name,
			   void *buf, size_t size)
{
	struct inode *ip;
	struct xchain ch;
	size_t len, at;
	int rc = check_xname(name, &len);
	if (rc)
		return rc;
	rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	ssize_t ret;
	pthread_rwlock_rdlock(&ip->lock);
	ret = chain_load(vol, ip, &ch);
	if (!ret) {
		const struct pgdax_xattr_entry *e = chain_find(&ch, name, len, &at);
		ret = e ? value_read(vol, ip, e, buf, size) : -ENODATA;
		chain_free(&ch);
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
	struct xchain ch;
	int rc = inode_get(vol, ino, &ip);
	if (rc)
		return rc;
	ssize_t total = 0;
	pthread_rwlock_rdlock(&ip->lock);
	rc = chain_load(vol, ip, &ch);
	if (rc)
		total = rc;
	for (size_t i = 0; i < ch.n && total >= 0; i++) {
		const char *p = ch.v[i].p;
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
			pos += e_size(e);
		}
	}
	if (!rc)
		chain_free(&ch);
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
