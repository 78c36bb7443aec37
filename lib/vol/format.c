/* SPDX-License-Identifier: MIT */
/*
 * Read-only helpers over the on-media format (lib/vol/format.h): CRC32C, the
 * name hash, and validators for every structure read from the medium. They
 * never trust a field before checking it and never write, so fsck.pgdaxfs
 * and the fuzzer can run them on arbitrary images.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "format.h"

/* ---- CRC32C (Castagnoli), reflected polynomial 0x82F63B78 ---- */

static uint32_t crc_table[8][256];
static int crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
	__atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		crc_init();	/* idempotent: racing initializers write the same values */
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v = le64toh(v) ^ crc;
		crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
		      crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
		      crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
		      crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

/* crc is the running value (start with 0); returns the finalized crc. */
uint32_t pgdax_crc32c(uint32_t crc, const void *buf, size_t len)
{
	crc = ~crc;
#if defined(__x86_64__)
	static int hw = -1;
	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (hw)
		return ~crc_hw(crc, buf, len);
#endif
	return ~crc_sw(crc, buf, len);
}

uint32_t pgdax_struct_crc(const void *p, size_t crc_off)
{
	return pgdax_crc32c(0, p, crc_off);
}

/* FNV-1a, 32 bit: cheap, and only an index hint (names are compared). */
uint32_t pgdax_name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 16777619u;
	}
	return h;
}

static int why_fmt(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int why_fmt(char *why, size_t whylen, int err, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

#define BAD(...) why_fmt(why, whylen, -EUCLEAN, __VA_ARGS__)

static bool region_ok(uint64_t start, uint64_t n, uint64_t lo, uint64_t hi)
{
	return start >= lo && n <= hi && start <= hi - n;
}

int pgdax_sb_validate(const struct pgdax_sb *sb, uint64_t dev_size,
		      char *why, size_t whylen)
{
	if (le64toh(sb->s_magic) != PGDAX_SB_MAGIC)
		return BAD("bad magic 0x%016llx (not a pgdaxfs superblock)",
			   (unsigned long long)le64toh(sb->s_magic));
	uint32_t crc = pgdax_struct_crc(sb, offsetof(struct pgdax_sb, s_crc));
	if (crc != le32toh(sb->s_crc))
		return BAD("bad checksum (stored 0x%08x, computed 0x%08x)",
			   le32toh(sb->s_crc), crc);
	if (le16toh(sb->s_major) != PGDAX_FMT_MAJOR)
		return why_fmt(why, whylen, -EPROTONOSUPPORT,
			       "format version %u.%u is not supported (this build reads %u.x)",
			       le16toh(sb->s_major), le16toh(sb->s_minor), PGDAX_FMT_MAJOR);
	if (le64toh(sb->s_feat_incompat) & ~PGDAX_FEAT_INCOMPAT_SUPP)
		return why_fmt(why, whylen, -EPROTONOSUPPORT,
			       "unknown incompatible features 0x%llx",
			       (unsigned long long)le64toh(sb->s_feat_incompat));
	uint32_t bs = le32toh(sb->s_block_size);
	if (bs < PGDAX_MIN_BLOCK_SIZE || bs > PGDAX_MAX_BLOCK_SIZE || (bs & (bs - 1)))
		return BAD("bad block size %u", bs);
	uint64_t blocks = le64toh(sb->s_blocks);
	uint64_t dsz = le64toh(sb->s_dev_size);
	if (blocks < 16 || blocks > dsz / bs)
		return BAD("bad block count %llu for a %llu-byte filesystem",
			   (unsigned long long)blocks, (unsigned long long)dsz);
	if (dev_size && blocks > dev_size / bs)
		return BAD("filesystem of %llu blocks is larger than the device (%llu bytes)",
			   (unsigned long long)blocks, (unsigned long long)dev_size);
	uint64_t js = le64toh(sb->s_journal_start), jb = le64toh(sb->s_journal_blocks);
	uint64_t bbs = le64toh(sb->s_bbitmap_start), bbb = le64toh(sb->s_bbitmap_blocks);
	uint64_t ibs = le64toh(sb->s_ibitmap_start), ibb = le64toh(sb->s_ibitmap_blocks);
	uint64_t its = le64toh(sb->s_itable_start), itb = le64toh(sb->s_itable_blocks);
	uint64_t ds = le64toh(sb->s_data_start), ni = le64toh(sb->s_inodes);
	uint64_t last = blocks - 1;
	if (js != 1 || jb < 2 || !region_ok(js, jb, 1, last))
		return BAD("bad journal region [%llu, +%llu)", (unsigned long long)js,
			   (unsigned long long)jb);
	if (!region_ok(bbs, bbb, js + jb, last) || bbb * bs * 8 < blocks)
		return BAD("bad block bitmap region [%llu, +%llu)", (unsigned long long)bbs,
			   (unsigned long long)bbb);
	if (ni < 2 || !region_ok(ibs, ibb, bbs + bbb, last) || ibb * bs * 8 < ni)
		return BAD("bad inode bitmap region [%llu, +%llu) for %llu inodes",
			   (unsigned long long)ibs, (unsigned long long)ibb,
			   (unsigned long long)ni);
	if (!region_ok(its, itb, ibs + ibb, last) || itb * (bs / PGDAX_INODE_SIZE) < ni)
		return BAD("bad inode table region [%llu, +%llu) for %llu inodes",
			   (unsigned long long)its, (unsigned long long)itb,
			   (unsigned long long)ni);
	if (ds < its + itb || ds >= last)
		return BAD("bad data start %llu", (unsigned long long)ds);
	uint64_t al = le64toh(sb->s_align);
	if (al && (al & (al - 1)))
		return BAD("bad alignment %llu", (unsigned long long)al);
	/* the backup: the last block, or (flagged) a block of the data area */
	uint64_t bk = pgdax_sb_backup_blk(sb);
	bool flagged = le64toh(sb->s_feat_incompat) & PGDAX_FEAT_INCOMPAT_BACKUP_BLK;
	if (bk == last ? flagged : (!flagged || bk < ds || bk > last))
		return BAD("bad backup superblock place %llu%s", (unsigned long long)bk,
			   flagged ? "" : " (not flagged)");
	return 0;
}

uint64_t pgdax_sb_backup_blk(const struct pgdax_sb *sb)
{
	uint64_t bk = le64toh(sb->s_backup_blk);

	return bk ? bk : le64toh(sb->s_blocks) - 1;
}

uint64_t pgdax_sb_data_end(const struct pgdax_sb *sb)
{
	uint64_t blocks = le64toh(sb->s_blocks);

	return pgdax_sb_backup_blk(sb) == blocks - 1 ? blocks - 1 : blocks;
}

uint64_t pgdax_sb_data_blocks(const struct pgdax_sb *sb)
{
	uint64_t ds = le64toh(sb->s_data_start), de = pgdax_sb_data_end(sb);
	uint64_t bk = pgdax_sb_backup_blk(sb);

	return de - ds - (bk >= ds && bk < de ? 1 : 0);
}

bool pgdax_blk_in_data(const struct pgdax_sb *sb, uint64_t b)
{
	return b >= le64toh(sb->s_data_start) && b < pgdax_sb_data_end(sb) &&
	       b != pgdax_sb_backup_blk(sb);
}

/* Is @sb, found at byte @off, a valid backup that says it lives there? */
static bool backup_at(const void *base, uint64_t dev_size, uint32_t bs, uint64_t off,
		      struct pgdax_sb *sb)
{
	if (off + bs > dev_size)
		return false;
	memcpy(sb, (const char *)base + off, sizeof(*sb));
	return le64toh(sb->s_magic) == PGDAX_SB_MAGIC &&
	       pgdax_sb_validate(sb, dev_size, NULL, 0) == 0 &&
	       le32toh(sb->s_block_size) == bs && pgdax_sb_backup_blk(sb) * bs == off;
}

int pgdax_sb_find_backup(const void *base, uint64_t dev_size, struct pgdax_sb *out,
			 uint64_t *off)
{
	static const uint64_t units[] = { 2ULL << 20, 1ULL << 30 };

	for (uint32_t bs = PGDAX_MIN_BLOCK_SIZE; bs <= PGDAX_MAX_BLOCK_SIZE; bs <<= 1) {
		if (dev_size / bs < 16)
			break;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (bs < units[i] && backup_at(base, dev_size, bs, units[i] - bs, out)) {
				*off = units[i] - bs;
				return 0;
			}
		}
		if (backup_at(base, dev_size, bs, (dev_size / bs - 1) * bs, out)) {
			*off = (dev_size / bs - 1) * bs;
			return 0;
		}
	}
	return -EUCLEAN;
}

int pgdax_inode_validate(const struct pgdax_sb *sb, const struct pgdax_inode *in,
			 uint64_t ino, char *why, size_t whylen)
{
	uint32_t crc = pgdax_struct_crc(in, offsetof(struct pgdax_inode, i_crc));
	if (crc != le32toh(in->i_crc))
		return BAD("inode %llu: bad checksum (stored 0x%08x, computed 0x%08x)",
			   (unsigned long long)ino, le32toh(in->i_crc), crc);
	if (le64toh(in->i_ino) != ino)
		return BAD("inode %llu: records number %llu", (unsigned long long)ino,
			   (unsigned long long)le64toh(in->i_ino));
	uint32_t mode = le32toh(in->i_mode);
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return BAD("inode %llu: bad mode 0%o", (unsigned long long)ino, mode);
	}
	if (le32toh(in->i_nlink) == 0 && !(le32toh(in->i_flags) & PGDAX_IFL_ORPHAN))
		return BAD("inode %llu: no links but not on the orphan list",
			   (unsigned long long)ino);
	if (le32toh(in->i_flags) & ~PGDAX_IFL_KNOWN)
		return BAD("inode %llu: unknown flags 0x%x", (unsigned long long)ino,
			   le32toh(in->i_flags));
	uint64_t eh = le64toh(in->i_extent_head), xb = le64toh(in->i_xattr_block);
	if (eh && !pgdax_blk_in_data(sb, eh))
		return BAD("inode %llu: extent block %llu outside the data area",
			   (unsigned long long)ino, (unsigned long long)eh);
	if (xb && !pgdax_blk_in_data(sb, xb))
		return BAD("inode %llu: xattr block %llu outside the data area",
			   (unsigned long long)ino, (unsigned long long)xb);
	uint64_t on = le64toh(in->i_orphan_next);
	if (on >= le64toh(sb->s_inodes) || on == ino)
		return BAD("inode %llu: bad orphan link %llu", (unsigned long long)ino,
			   (unsigned long long)on);
	if (S_ISDIR(mode) && (le64toh(in->i_parent) == 0 ||
			      le64toh(in->i_parent) >= le64toh(sb->s_inodes)))
		return BAD("inode %llu: bad parent %llu", (unsigned long long)ino,
			   (unsigned long long)le64toh(in->i_parent));
	if ((le32toh(in->i_flags) & PGDAX_IFL_INLINE_EXT) &&
	    ((le32toh(in->i_flags) & PGDAX_IFL_INLINE) || eh ||
	     !(le64toh(sb->s_feat_incompat) & PGDAX_FEAT_INCOMPAT_INLINE_EXT)))
		return BAD("inode %llu: inline extent map with %s", (unsigned long long)ino,
			   (le32toh(in->i_flags) & PGDAX_IFL_INLINE) ? "an inline symlink target" :
			   eh ? "an extent block" : "a volume without the inline-map feature");
	if ((le32toh(in->i_flags) & PGDAX_IFL_INLINE) &&
	    (!S_ISLNK(mode) || le64toh(in->i_size) > PGDAX_INLINE_MAX))
		return BAD("inode %llu: bad inline data (size %llu)", (unsigned long long)ino,
			   (unsigned long long)le64toh(in->i_size));
	if (le64toh(in->i_size) >> 63)
		return BAD("inode %llu: bad size", (unsigned long long)ino);
	if (le32toh(in->i_atime.t_nsec) >= 1000000000u ||
	    le32toh(in->i_mtime.t_nsec) >= 1000000000u ||
	    le32toh(in->i_ctime.t_nsec) >= 1000000000u)
		return BAD("inode %llu: bad timestamp nanoseconds", (unsigned long long)ino);
	return 0;
}

int pgdax_extent_validate(const struct pgdax_sb *sb, const struct pgdax_extent *x,
			  char *why, size_t whylen)
{
	uint64_t v = le64toh(x->x_dblk_order);
	uint64_t fp = le64toh(x->x_fpage);
	if (!(v & PGDAX_X_VALID) || (v & 0x40))
		return BAD("extent: bad flags 0x%llx", (unsigned long long)(v & 0xff));
	unsigned order = v & PGDAX_X_ORDER_MASK;
	uint64_t d = v >> PGDAX_X_DBLK_SHIFT;
	uint64_t n = 1ULL << (order > 40 ? 40 : order);
	if (order > 30)
		return BAD("extent: bad order %u", order);
	if ((d & (n - 1)) || (fp & (n - 1)))
		return BAD("extent: file page %llu / block %llu not aligned to order %u",
			   (unsigned long long)fp, (unsigned long long)d, order);
	uint64_t bk = pgdax_sb_backup_blk(sb);
	if (!pgdax_blk_in_data(sb, d) || d + n - 1 < d || !pgdax_blk_in_data(sb, d + n - 1) ||
	    (bk >= d && bk < d + n))
		return BAD("extent: blocks [%llu, +%llu) outside the data area",
			   (unsigned long long)d, (unsigned long long)n);
	if (fp > (UINT64_MAX >> 13) - n)
		return BAD("extent: file page %llu out of range", (unsigned long long)fp);
	return 0;
}

int pgdax_dirent_validate(const void *blk, uint32_t bs, uint32_t pos,
			  char *why, size_t whylen)
{
	if (pos % 8 || pos > bs - PGDAX_DIRENT_MIN)
		return BAD("dirent at %u: misplaced", pos);
	const struct pgdax_dirent *d = (const void *)((const char *)blk + pos);
	uint32_t rl = le16toh(d->d_rec_len);
	if (rl < PGDAX_DIRENT_MIN || rl % 8 || rl > bs - pos)
		return BAD("dirent at %u: bad record length %u", pos, rl);
	if (le64toh(d->d_ino) == 0)
		return 0;
	if (d->d_name_len == 0 || pgdax_dirent_size(d->d_name_len) > rl)
		return BAD("dirent at %u: bad name length %u (record %u)", pos,
			   d->d_name_len, rl);
	if (memchr(d->d_name, '/', d->d_name_len) || memchr(d->d_name, 0, d->d_name_len))
		return BAD("dirent at %u: name contains '/' or NUL", pos);
	if (d->d_name[0] == '.' && (d->d_name_len == 1 ||
				    (d->d_name_len == 2 && d->d_name[1] == '.')))
		return BAD("dirent at %u: \".\" or \"..\" stored", pos);
	if (pgdax_name_hash(d->d_name, d->d_name_len) != le32toh(d->d_hash))
		return BAD("dirent at %u: bad name hash", pos);
	return 0;
}
