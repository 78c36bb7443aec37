/* SPDX-License-Identifier: MIT */
/*
 * mkfs: lay out and write an empty pgdaxfs (lib/vol/mkfs.h, lib/vol/format.h).
 *
 * Order of writes (each persisted before the next), so that a crash or an
 * interrupted mkfs never leaves something that validates as a filesystem
 * with stale metadata: (1) invalidate the primary superblock and any stale
 * backup where one is looked for, (2) journal header + first record slot
 * cleared, (3) bitmaps, (4) root inode, (5) backup superblock, (6) primary
 * superblock (the volume exists now).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "util/log.h"
#include "mkfs.h"
#include "dev/dev.h"
#include "vol.h"

#define MIN_BLOCKS 64

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

void pgdax_uuid_format(const uint8_t u[16], char buf[37])
{
	snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

int pgdax_uuid_parse(const char *s, uint8_t u[16])
{
	int n = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '-')
			continue;
		int v;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			return -EINVAL;
		if (n >= 32)
			return -EINVAL;
		if (n % 2 == 0)
			u[n / 2] = (uint8_t)(v << 4);
		else
			u[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32 ? 0 : -EINVAL;
}

static int random_uuid(uint8_t u[16])
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t r = read(fd, u, 16);
	close(fd);
	if (r != 16)
		return -EIO;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	return 0;
}

/*
 * Where the backup superblock goes (format.h, "Why the backup moves"): the
 * last block of the first alignment unit when the unit is 2 MiB or 1 GiB,
 * the metadata ends before that block and the device has more than one
 * unit; else the last block of the device. Both are places fsck and mount
 * try without the primary (pgdax_sb_find_backup).
 */
static uint64_t backup_block(uint64_t blocks, uint64_t data_start, uint64_t align, uint32_t bs)
{
	uint64_t unit = align / bs;

	if ((align == (2u << 20) || align == (1u << 30)) && data_start < unit - 1 &&
	    unit < blocks)
		return unit - 1;
	return blocks - 1;
}

int pgdax_mkfs_layout(uint64_t dev_size, uint64_t align, const struct pgdax_mkfs_opts *o,
		      struct pgdax_sb *sb)
{
	uint32_t bs = o->block_size ? o->block_size : 4096;
	if (bs < PGDAX_MIN_BLOCK_SIZE || bs > PGDAX_MAX_BLOCK_SIZE || (bs & (bs - 1))) {
		pgdax_err("block size %u: must be a power of two from %u to %u", bs,
			  PGDAX_MIN_BLOCK_SIZE, PGDAX_MAX_BLOCK_SIZE);
		return -EINVAL;
	}
	uint64_t blocks = dev_size / bs;
	if (blocks < MIN_BLOCKS) {
		pgdax_err("device of %llu bytes is too small (at least %u blocks of %u bytes)",
			  (unsigned long long)dev_size, MIN_BLOCKS, bs);
		return -EINVAL;
	}
	uint64_t jbytes = o->journal_bytes;
	if (!jbytes) {
		jbytes = dev_size / 64;
		if (jbytes < (256 << 10))
			jbytes = 256 << 10;
		if (jbytes > (4 << 20))
			jbytes = 4 << 20;
	}
	uint64_t jblocks = div_up(jbytes, bs);
	if (jblocks * bs < PGDAX_JREC_START + (64 << 10) || jblocks < 2) {
		pgdax_err("journal of %llu bytes is too small (at least %u)",
			  (unsigned long long)jbytes, PGDAX_JREC_START + (64 << 10));
		return -EINVAL;
	}
	uint64_t bpi = o->bytes_per_inode ? o->bytes_per_inode : 16384;
	uint64_t ninodes = o->inodes ? o->inodes + 2 : dev_size / bpi;
	if (ninodes < 16)
		ninodes = 16;
	if (ninodes > (1ULL << 32)) {
		pgdax_err("too many inodes (%llu; at most 2^32)", (unsigned long long)ninodes);
		return -EINVAL;
	}
	uint64_t bbb = div_up(blocks, 8ULL * bs);
	uint64_t ibb = div_up(ninodes, 8ULL * bs);
	uint64_t itb = div_up(ninodes * PGDAX_INODE_SIZE, bs);
	uint64_t js = 1, bbs = js + jblocks, ibs = bbs + bbb, its = ibs + ibb;
	/* Data starts right after the inode table: the rest of that unit
	 * holds small allocations (the allocator breaks whole units last). */
	uint64_t ds = its + itb;
	uint64_t backup = backup_block(blocks, ds, align, bs);
	if (ds + 16 >= blocks - 1) {
		pgdax_err("device of %llu bytes is too small for %llu inodes and a %llu-byte "
			  "journal (metadata ends at block %llu of %llu)",
			  (unsigned long long)dev_size, (unsigned long long)ninodes,
			  (unsigned long long)(jblocks * bs), (unsigned long long)ds,
			  (unsigned long long)blocks);
		return -EINVAL;
	}
	memset(sb, 0, sizeof(*sb));
	sb->s_magic = htole64(PGDAX_SB_MAGIC);
	sb->s_major = htole16(PGDAX_FMT_MAJOR);
	sb->s_minor = htole16(PGDAX_FMT_MINOR);
	sb->s_block_size = htole32(bs);
	sb->s_dev_size = htole64(dev_size);
	sb->s_blocks = htole64(blocks);
	sb->s_align = htole64(align);
	if (o->uuid_set)
		memcpy(sb->s_uuid, o->uuid, 16);
	else if (random_uuid(sb->s_uuid))
		return -EIO;
	if (o->label) {
		if (strlen(o->label) >= PGDAX_LABEL_MAX) {
			pgdax_err("label \"%s\" is longer than %d bytes", o->label,
				  PGDAX_LABEL_MAX - 1);
			return -EINVAL;
		}
		strncpy(sb->s_label, o->label, PGDAX_LABEL_MAX - 1);
	}
	sb->s_journal_start = htole64(js);
	sb->s_journal_blocks = htole64(jblocks);
	sb->s_bbitmap_start = htole64(bbs);
	sb->s_bbitmap_blocks = htole64(bbb);
	sb->s_ibitmap_start = htole64(ibs);
	sb->s_ibitmap_blocks = htole64(ibb);
	sb->s_itable_start = htole64(its);
	sb->s_itable_blocks = htole64(itb);
	sb->s_inodes = htole64(ninodes);
	sb->s_data_start = htole64(ds);
	sb->s_backup_blk = htole64(backup);
	sb->s_feat_incompat = htole64(PGDAX_FEAT_INCOMPAT_INLINE_EXT | PGDAX_FEAT_INCOMPAT_XATTR_MULTI |
				      (backup != blocks - 1 ? PGDAX_FEAT_INCOMPAT_BACKUP_BLK : 0));
	sb->s_mkfs_time = htole64((uint64_t)time(NULL));
	sb->s_crc = htole32(pgdax_struct_crc(sb, offsetof(struct pgdax_sb, s_crc)));
	sb->s_state = htole64(PGDAX_STATE_CLEAN);
	return 0;
}

void pgdax_mkfs_print_layout(FILE *f, const struct pgdax_sb *sb)
{
	char u[37];
	uint32_t bs = le32toh(sb->s_block_size);
	pgdax_uuid_format(sb->s_uuid, u);
	fprintf(f, "pgdaxfs %u.%u  uuid %s  label \"%.*s\"\n", le16toh(sb->s_major),
		le16toh(sb->s_minor), u, PGDAX_LABEL_MAX, sb->s_label);
	fprintf(f, "  %llu blocks of %u bytes (%llu bytes), alignment %llu\n",
		(unsigned long long)le64toh(sb->s_blocks), bs,
		(unsigned long long)le64toh(sb->s_blocks) * bs,
		(unsigned long long)le64toh(sb->s_align));
#define REGION(name, s, n) \
	fprintf(f, "  %-13s blocks %12llu .. %-12llu (%llu blocks)\n", name, \
		(unsigned long long)(s), (unsigned long long)((s) + (n) - 1), (unsigned long long)(n))
	REGION("superblock", 0ULL, 1ULL);
	REGION("journal", le64toh(sb->s_journal_start), le64toh(sb->s_journal_blocks));
	REGION("block bitmap", le64toh(sb->s_bbitmap_start), le64toh(sb->s_bbitmap_blocks));
	REGION("inode bitmap", le64toh(sb->s_ibitmap_start), le64toh(sb->s_ibitmap_blocks));
	REGION("inode table", le64toh(sb->s_itable_start), le64toh(sb->s_itable_blocks));
	uint64_t ds = le64toh(sb->s_data_start), de = pgdax_sb_data_end(sb);
	uint64_t bk = pgdax_sb_backup_blk(sb);
	REGION("data", ds, de - ds);
	REGION("backup sb", bk, 1ULL);
	if (bk < de)
		fprintf(f, "  (the backup superblock is a hole in the data area, in the first "
			"alignment unit with the metadata)\n");
#undef REGION
	fprintf(f, "  %llu inodes (%u bytes each)\n",
		(unsigned long long)le64toh(sb->s_inodes) - 2, PGDAX_INODE_SIZE);
}

/* Zero [off, off+len) of the device, skipping pages that already read as
 * zero (through the file on an emulated device, so holes stay holes). */
static int zero_region(struct pgdax_dev *dev, uint64_t off, uint64_t len)
{
	char *base = pgdax_dev_base(dev);
	const size_t chunk = 1 << 20;
	bool emul = pgdax_dev_info(dev)->kind == PGDAX_DEV_EMULATED;
	char *buf = emul ? malloc(chunk) : NULL;

	if (emul && !buf)
		return -ENOMEM;
	for (uint64_t p = 0; p < len; p += chunk) {
		size_t n = len - p < chunk ? (size_t)(len - p) : chunk;
		const char *src = base + off + p;
		if (emul) {
			int r = pgdax_dev_read(dev, off + p, buf, n);
			if (r) {
				free(buf);
				return r;
			}
			src = buf;
		}
		for (size_t q = 0; q < n; q += 4096) {
			size_t m = n - q < 4096 ? n - q : 4096;
			const uint64_t *w = (const void *)(src + q);
			size_t k;
			for (k = 0; k < m / 8 && !w[k]; k++)
				;
			if (k < m / 8)
				pgdax_dev_memset_persist(dev, base + off + p + q, 0, m);
		}
	}
	free(buf);
	return 0;
}

static void set_bits(uint8_t *map, uint64_t from, uint64_t to)
{
	while (from < to && (from & 7))
		map[from / 8] |= (uint8_t)(1u << (from & 7)), from++;
	if (to - from >= 8) {
		memset(map + from / 8, 0xff, (to - from) / 8);
		from += (to - from) & ~7ULL;
	}
	while (from < to)
		map[from / 8] |= (uint8_t)(1u << (from & 7)), from++;
}

/* Mark known bad blocks of the data area used (the backup superblock's
 * block is not counted: it is used anyway); returns how many. */
static uint64_t mark_bad(struct pgdax_dev *dev, uint8_t *map, uint64_t lo, uint64_t hi,
			 uint64_t backup, uint32_t bs)
{
	uint64_t n = 0;
	uint64_t step = (1ULL << 30) / bs;
	for (uint64_t b = lo; b < hi; b += step) {
		uint64_t e = b + step < hi ? b + step : hi;
		if (!pgdax_dev_range_is_bad(dev, b * bs, (e - b) * bs))
			continue;
		for (uint64_t k = b; k < e; k++) {
			if (k != backup && pgdax_dev_range_is_bad(dev, k * bs, bs)) {
				set_bits(map, k, k + 1);
				n++;
			}
		}
	}
	return n;
}

static void write_root(struct pgdax_dev *dev, const struct pgdax_sb *sb)
{
	uint32_t bs = le32toh(sb->s_block_size);
	struct pgdax_inode *d = (void *)((char *)pgdax_dev_base(dev) +
					 le64toh(sb->s_itable_start) * bs + PGDAX_INODE_SIZE);
	struct pgdax_inode in;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&in, 0, sizeof(in));
	in.i_mode = htole32(S_IFDIR | 0755);
	in.i_uid = htole32(getuid());
	in.i_gid = htole32(getgid());
	in.i_nlink = htole32(2);
	in.i_generation = htole32(1);
	in.i_ino = htole64(PGDAX_ROOT_INO);
	in.i_parent = htole64(PGDAX_ROOT_INO);
	in.i_btime.t_sec = htole64((uint64_t)ts.tv_sec);
	in.i_btime.t_nsec = htole32((uint32_t)ts.tv_nsec);
	in.i_atime = in.i_mtime = in.i_ctime = in.i_btime;
	in.i_crc = htole32(pgdax_struct_crc(&in, offsetof(struct pgdax_inode, i_crc)));
	pgdax_dev_memcpy_persist(dev, d, &in, sizeof(in));
}

static int check_existing(struct pgdax_dev *dev, const char *device, bool force)
{
	const char *base = pgdax_dev_base(dev);
	uint64_t size = pgdax_dev_size(dev), off;
	struct pgdax_sb sb;
	char why[160], u[37];

	memcpy(&sb, base, sizeof(sb));
	bool found = pgdax_sb_validate(&sb, 0, why, sizeof(why)) == 0;
	if (!found && le64toh(sb.s_magic) == PGDAX_SB_MAGIC)
		found = true;	/* damaged, but still a pgdaxfs */
	if (!found)
		found = pgdax_sb_find_backup(base, size, &sb, &off) == 0;
	if (!found || force)
		return 0;
	pgdax_uuid_format(sb.s_uuid, u);
	pgdax_err("found a pgdaxfs filesystem (label \"%.*s\", uuid %s) on %s; use -f to "
		  "overwrite", PGDAX_LABEL_MAX, sb.s_label, u, device);
	return -EEXIST;
}

/*
 * A backup superblock of an earlier filesystem at any place fsck and mount
 * look for one (pgdax_sb_find_backup) other than ours would be taken for
 * this volume's backup if the primary were damaged: clear its magic.
 * Only blocks that hold the magic are written (sparse files stay sparse).
 */
static void erase_stale_backups(struct pgdax_dev *dev, uint64_t ours)
{
	char *base = pgdax_dev_base(dev);
	uint64_t size = pgdax_dev_size(dev);

	for (uint32_t bs = PGDAX_MIN_BLOCK_SIZE; bs <= PGDAX_MAX_BLOCK_SIZE; bs <<= 1) {
		uint64_t at[3] = { (2u << 20) - bs, (1u << 30) - bs, (size / bs - 1) * bs };

		for (int i = 0; i < 3; i++) {
			pgdax_le64 *m = (void *)(base + at[i]);

			if (at[i] != ours && at[i] + bs <= size &&
			    le64toh(*m) == PGDAX_SB_MAGIC)
				pgdax_dev_memset_persist(dev, m, 0, sizeof(*m));
		}
	}
}

int pgdax_mkfs(const char *device, const struct pgdax_mkfs_opts *o)
{
	struct pgdax_dev *dev = NULL;
	struct pgdax_sb sb;
	FILE *out = o->out ? o->out : stdout;
	int rc;

	rc = pgdax_dev_open(device, PGDAX_DEV_EXCL | (o->dry_run ? PGDAX_DEV_RDONLY : 0),
			    o->align_override, &dev);
	if (rc)
		return rc;
	const struct pgdax_dev_info *info = pgdax_dev_info(dev);
	uint64_t size = pgdax_dev_size(dev), align = info->align ? info->align : 4096;
	if (size % align) {
		pgdax_err("%s: size %llu is not a multiple of the alignment %llu", device,
			  (unsigned long long)size, (unsigned long long)align);
		rc = -EINVAL;
		goto out;
	}
	rc = pgdax_mkfs_layout(size, align, o, &sb);
	if (rc)
		goto out;
	rc = check_existing(dev, device, o->force);
	if (rc)
		goto out;
	if (o->dry_run) {
		if (!o->quiet)
			pgdax_mkfs_print_layout(out, &sb);
		goto out;
	}

	char *base = pgdax_dev_base(dev);
	uint32_t bs = le32toh(sb.s_block_size);
	uint64_t ninodes = le64toh(sb.s_inodes);
	uint64_t ds = le64toh(sb.s_data_start), backup = pgdax_sb_backup_blk(&sb);
	uint64_t de = pgdax_sb_data_end(&sb);

	/* (1) no valid primary (nor a stale backup) while we work */
	pgdax_dev_memset_persist(dev, base, 0, sizeof(struct pgdax_sb));
	erase_stale_backups(dev, backup * bs);
	/* (2) */
	rc = journal_format(dev, &sb);
	if (rc)
		goto out;
	/* (3) bitmaps */
	uint64_t bbs = le64toh(sb.s_bbitmap_start), bbb = le64toh(sb.s_bbitmap_blocks);
	uint64_t ibs = le64toh(sb.s_ibitmap_start), ibb = le64toh(sb.s_ibitmap_blocks);
	rc = zero_region(dev, bbs * bs, bbb * bs);
	if (!rc)
		rc = zero_region(dev, ibs * bs, ibb * bs);
	if (rc)
		goto out;
	uint8_t *bmap = (uint8_t *)base + bbs * bs, *imap = (uint8_t *)base + ibs * bs;
	set_bits(bmap, 0, ds);
	set_bits(bmap, backup, backup + 1);
	set_bits(bmap, de, bbb * bs * 8);	/* the backup if last, bits past the end */
	uint64_t bad = mark_bad(dev, bmap, ds, de, backup, bs);
	set_bits(imap, 0, 2);
	set_bits(imap, ninodes, ibb * bs * 8);
	pgdax_dev_persist(dev, bmap, div_up(ds, 8));
	pgdax_dev_persist(dev, bmap + backup / 8, 1);
	pgdax_dev_persist(dev, bmap + de / 8, bbb * bs - de / 8);
	if (bad)
		pgdax_dev_persist(dev, bmap, bbb * bs);
	pgdax_dev_persist(dev, imap, 1);
	pgdax_dev_persist(dev, imap + ninodes / 8, ibb * bs - ninodes / 8);
	if (bad) {
		pgdax_warn("%s: %llu bad blocks kept out of use", device, (unsigned long long)bad);
		sb.s_bad_blocks = htole64(bad);
		sb.s_crc = htole32(pgdax_struct_crc(&sb, offsetof(struct pgdax_sb, s_crc)));
	}
	/* (4) */
	write_root(dev, &sb);
	/* (5), (6) */
	pgdax_dev_memcpy_persist(dev, base + backup * bs, &sb, sizeof(sb));
	pgdax_dev_memcpy_persist(dev, base, &sb, sizeof(sb));
	if (!o->quiet) {
		pgdax_mkfs_print_layout(out, &sb);
		fprintf(out, "%s: pgdaxfs created\n", device);
	}
out:
	pgdax_dev_close(&dev);
	return rc;
}
