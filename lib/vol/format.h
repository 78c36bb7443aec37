/* SPDX-License-Identifier: MIT */
/*
 * The pgdaxfs on-media format. Everything the volume stores on the device
 * is described here, in one header, so fsck.pgdaxfs, the corruption fuzzer
 * and the filesystem agree byte for byte.
 *
 * Conventions
 *  - All multi-byte fields are little-endian fixed width (read them with
 *    le16toh/le32toh/le64toh; the pgdax_leNN typedefs document the intent).
 *  - Each structure has its own field prefix (s_ superblock, j_ journal
 *    header, r_ journal record, i_ inode, x_ extent, eb_ extent block,
 *    d_ directory record, xh_/xe_ xattr block).
 *  - A "block" is the filesystem block (= pgmap page), 4096 bytes by
 *    default (any power of two from 4096 to 65536). Block numbers are
 *    absolute: block b starts at byte b * block_size of the device.
 *  - CRC32C (Castagnoli, reflected, init ~0, final ~0; pgdax_crc32c() below)
 *    covers the bytes of a structure *before* its crc field. Fields placed
 *    after the crc are "hot": they are updated with single aligned 8-byte
 *    stores (atomic on the device) without a journal, and are validated by
 *    range instead.
 *
 * Layout (all regions block aligned; numbers for a 4 KiB block size)
 *
 *   block 0                 primary superblock (struct pgdax_sb at byte 0)
 *   [journal_start, +jblk)  undo journal: header block + records
 *   [bbitmap_start, +n)     block allocation bitmap, 1 bit per block,
 *                           bit b = (le64 word b/64) >> (b%64) & 1; 1 = used.
 *                           Every metadata block (superblocks, journal,
 *                           bitmaps, inode table) and bad block is marked
 *                           used by mkfs; bits past the last block are 1.
 *   [ibitmap_start, +n)     inode bitmap, same encoding, 1 bit per inode;
 *                           inode 0 is reserved (always 1), inode 1 = root.
 *   [itable_start, +n)      inode table: inode i at byte
 *                           itable_start*bs + i*256. Never written by mkfs
 *                           (except the root): a free inode's contents are
 *                           meaningless; only the bitmap says what is used.
 *   [data_start, data_end)  data blocks: file data, directory blocks,
 *                           extent blocks, xattr blocks (all allocated
 *                           through the bitmap). data_start is the first
 *                           block after the inode table (minor < 3: rounded
 *                           up to the alignment); data_end is blocks - 1
 *                           when the backup is the last block, else blocks.
 *   backup superblock       a copy of the primary's checksummed part, used
 *                           when the primary fails validation; marked used.
 *                           Its block is s_backup_blk (pgdax_sb_backup_blk):
 *                           the last block (blocks - 1) on images of minor
 *                           < 3 and whenever the rule below does not apply;
 *                           the last block of the first alignment unit
 *                           (s_align / bs - 1) when s_align >= 2 MiB and the
 *                           metadata ends before it. There it lies inside
 *                           the data area, a hole no extent may cover (like
 *                           a bad block), and PGDAX_FEAT_INCOMPAT_BACKUP_BLK
 *                           is set.
 *
 * Why the backup moves (minor 3): clients map aligned units of s_align
 * bytes, and an aligned unit is useful only while it is free as a whole.
 * The metadata already breaks the first unit; a backup in the last block
 * broke the last one too, so a 3 GiB volume at 1 GiB alignment had one
 * unit for pins instead of two. With the backup in the first unit, the
 * metadata and the backup cost one unit together, and the rest of that
 * unit holds small allocations. The backup stays 1 GiB (or 2 MiB) away from
 * the primary, at a place found without it: fsck and mount look at the
 * last block of the first 2 MiB and 1 GiB and of the device, for every
 * block size (pgdax_sb_find_backup).
 *
 * Invariants fsck can check (all hold at every transaction boundary):
 *  - block accounting: the used bits of [data_start, data_end) equal the sum
 *    of i_blocks over in-use inodes (i_blocks counts data extents, extent
 *    blocks, xattr blocks and xattr value extents, in filesystem blocks; an inline extent
 *    map, PGDAX_IFL_INLINE_EXT, costs none) plus s_bad_blocks,
 *    plus 1 when the backup superblock lies in that range;
 *    every block is owned by at most one inode.
 *  - an in-use inode has its bit set and i_mode != 0; a free slot's bytes
 *    are meaningless (but i_generation is kept and bumped on reuse).
 *  - nlink: files = number of directory records naming them; directories =
 *    2 + number of subdirectories; the root's i_parent is itself.
 *  - orphans: s_orphan_head -> i_orphan_next -> ... lists every in-use inode
 *    with PGDAX_IFL_ORPHAN: files unlinked while open (nlink 0; a mount
 *    frees them) and files with a pending trim (PGDAX_IFL_TRIM, nlink > 0;
 *    a mount frees their blocks past EOF and takes them off the list).
 *    nlink 0 without the flag is an inconsistency.
 *  - bytes of a regular file's extents at offsets >= i_size are zero (new
 *    extents are zero-filled where not written; truncate zeroes the tail of
 *    the last block), so DAX clients mapping whole extents never see stale
 *    data, except in an inode with PGDAX_IFL_TRIM, whose blocks past EOF
 *    are on their way to the allocator and are never exposed (see the
 *    flag). (After a crash, bytes past EOF may hold the file's own
 *    unacknowledged write.)
 *  - symlinks: target in i_inline (PGDAX_IFL_INLINE, i_size <= 64) or in the
 *    first bytes of the block mapped at file page 0; i_size = target length.
 *  - directories: i_size = mapped blocks * block size, no holes.
 *
 * Crash consistency: every metadata update is one undo-journal transaction
 * (lib/vol/journal.c): the old bytes of each range are persisted in the journal
 * before the range is changed in place; commit persists the ranges, then
 * bumps j_seq with one 8-byte store. Mount rolls back the records of an
 * uncommitted transaction. File data is never journaled: it is written
 * (and persisted) before the metadata that exposes it.
 */
#ifndef PGDAX_FORMAT_H
#define PGDAX_FORMAT_H

#include <assert.h>
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint16_t pgdax_le16;
typedef uint32_t pgdax_le32;
typedef uint64_t pgdax_le64;

/* ------------------------------------------------------------------ */
/* Superblock                                                          */
/* ------------------------------------------------------------------ */

#define PGDAX_SB_MAGIC		0x3153464b58414447ULL	/* "GDAXKFS1" read as LE bytes */
#define PGDAX_FMT_MAJOR		1	/* an unknown major is refused */
#define PGDAX_FMT_MINOR		4	/* a newer minor is accepted */
/* Minor versions:
 *   0  first format.
 *   1  PGDAX_IFL_TRIM and inodes with nlink > 0 on the orphan list (a
 *      truncate whose blocks past EOF are not all freed yet). Images of
 *      minor 0 never hold either and mount unchanged; mkfs writes 1. A
 *      minor-0 driver refuses an inode with the flag (unknown flags) rather
 *      than expose the blocks it guards.
 *   2  the error-state hot fields (s_errors ... s_last_error_ino). On an
 *      image of an older minor they are not trusted (read as 0).
 *   3  PGDAX_IFL_INLINE_EXT: up to PGDAX_INLINE_EXTENTS extent records in
 *      the inode instead of an extent block. Only a driver mounting a
 *      minor >= 3 image creates such inodes, so an older image stays
 *      readable by older drivers after a mount by this one; mkfs writes 3
 *      and sets PGDAX_FEAT_INCOMPAT_INLINE_EXT, so older drivers and fscks
 *      refuse the volume instead of clearing inodes they cannot read.
 *      Also in 3: s_backup_blk; data_start no longer rounded up to the
 *      alignment; the backup superblock in the first alignment unit (the layout
 *      above), flagged PGDAX_FEAT_INCOMPAT_BACKUP_BLK, so that older
 *      drivers, which would take the last block for the backup and the
 *      backup's block for a leak, refuse such an image. An image whose
 *      backup is the last block does not set the flag and mounts with
 *      older drivers. Images of minor < 3 (s_backup_blk reads 0: it was
 *      reserved, zero) keep their backup in the last block and mount and
 *      check unchanged.
 *   4  Extended attributes beyond one block (PGDAX_FEAT_INCOMPAT_XATTR_MULTI):
 *      a chain of xattr blocks (xh_next, reserved and zero before) and
 *      values in their own extent (PGDAX_XE_EXTERNAL). mkfs writes 4 and
 *      sets the flag; only a volume with the flag gets either shape, so an
 *      image of minor <= 3 keeps its single blocks (and their 4 KiB cap)
 *      and stays readable by older drivers. An older driver or fsck would
 *      see only the first block of a chain and take the rest, and every
 *      value extent, for leaks (fsck -p would free them): hence incompat. */

#define PGDAX_MIN_BLOCK_SIZE	4096u
#define PGDAX_MAX_BLOCK_SIZE	65536u
#define PGDAX_INODE_SIZE	256u
#define PGDAX_LABEL_MAX		64	/* bytes, NUL padded, not always NUL terminated */
#define PGDAX_NAME_MAX		255

/* s_state (hot field) */
#define PGDAX_STATE_CLEAN	0x4e41454c43ULL	/* "CLEAN" */
#define PGDAX_STATE_DIRTY	0x5954524944ULL	/* "DIRTY" */

/* s_errors (hot field): why the volume is known to be damaged, 0 = not
 * known to be. Set by fsck when it leaves a problem unrepaired and by the
 * filesystem when it meets corruption while mounted; cleared only by an
 * fsck that ends with a consistent volume. */
#define PGDAX_ERR_FSCK		0x1ULL	/* fsck left problems unrepaired */
#define PGDAX_ERR_RUNTIME	0x2ULL	/* corruption met while mounted */

/* feature flags: a set bit this code does not know in incompat refuses the
 * mount, in ro_compat forces a read-only mount, in compat is ignored. */
#define PGDAX_FEAT_COMPAT_SUPP		0ULL
/* The backup superblock is at s_backup_blk, inside the data area (minor 3) */
#define PGDAX_FEAT_INCOMPAT_BACKUP_BLK	(1ULL << 0)
/* Inodes may keep their extent list in i_inline (PGDAX_IFL_INLINE_EXT,
 * minor 3). Incompatible, not just a new minor: a driver or fsck that does
 * not know inline maps would take those inodes for damaged ones and clear
 * them (and an older fsck -p would then free their blocks). mkfs sets it;
 * only a volume with it gets inline maps. */
#define PGDAX_FEAT_INCOMPAT_INLINE_EXT	(1ULL << 1)
/* Extended attributes in a chain of blocks and values in their own extents
 * (minor 4; the extended attributes section below). */
#define PGDAX_FEAT_INCOMPAT_XATTR_MULTI	(1ULL << 2)
#define PGDAX_FEAT_INCOMPAT_SUPP	(PGDAX_FEAT_INCOMPAT_BACKUP_BLK | PGDAX_FEAT_INCOMPAT_INLINE_EXT | \
					 PGDAX_FEAT_INCOMPAT_XATTR_MULTI)
#define PGDAX_FEAT_RO_COMPAT_SUPP	0ULL

struct pgdax_sb {
	/* --- checksummed, written by mkfs; besides, pgdaxctl tune rewrites
	 * s_uuid and s_label (and so s_crc) of an UNMOUNTED, clean volume
	 * with no pending journal transaction: j_uuid of the journal header
	 * first, then the backup copy, then the primary, each persisted
	 * before the next (lib/vol/tune.c says what a crash between them
	 * leaves).
	 * Nothing else changes these bytes on a mounted volume. --- */
	pgdax_le64 s_magic;		/* PGDAX_SB_MAGIC */
	pgdax_le16 s_major;		/* PGDAX_FMT_MAJOR */
	pgdax_le16 s_minor;		/* PGDAX_FMT_MINOR */
	pgdax_le32 s_block_size;	/* bytes, power of two, 4096..65536 */
	pgdax_le64 s_dev_size;		/* bytes of the device at mkfs */
	pgdax_le64 s_blocks;		/* blocks covered by the filesystem */
	pgdax_le64 s_align;		/* mapping alignment of the volume: what clients map
					 * with (4K, 2M or 1G); the mount imposes it on an
					 * emulated device, a devdax must be compatible */
	pgdax_le64 s_feat_compat;
	pgdax_le64 s_feat_incompat;
	pgdax_le64 s_feat_ro_compat;
	uint8_t    s_uuid[16];
	char       s_label[PGDAX_LABEL_MAX];
	pgdax_le64 s_journal_start;	/* block */
	pgdax_le64 s_journal_blocks;
	pgdax_le64 s_bbitmap_start;	/* block */
	pgdax_le64 s_bbitmap_blocks;
	pgdax_le64 s_ibitmap_start;	/* block */
	pgdax_le64 s_ibitmap_blocks;
	pgdax_le64 s_itable_start;	/* block */
	pgdax_le64 s_itable_blocks;
	pgdax_le64 s_inodes;		/* inode slots, including reserved 0 */
	pgdax_le64 s_data_start;	/* first block the allocator may hand out */
	pgdax_le64 s_mkfs_time;		/* seconds since the epoch */
	pgdax_le64 s_bad_blocks;	/* bad blocks found by mkfs (marked used) */
	pgdax_le64 s_backup_blk;	/* minor >= 3: block of the backup superblock;
					 * 0 (older images) = the last block */
	uint8_t    s_reserved[120];	/* zero */
	pgdax_le32 s_pad;
	pgdax_le32 s_crc;		/* crc32c of every byte above */
	/* --- hot fields, primary copy only (the backup keeps mkfs values) --- */
	pgdax_le64 s_state;		/* PGDAX_STATE_CLEAN / _DIRTY, 8-byte store */
	pgdax_le64 s_orphan_head;	/* first orphan inode, 0 = none (journaled) */
	pgdax_le64 s_mount_count;
	pgdax_le64 s_mount_time;
	pgdax_le64 s_write_time;
	/* minor >= 2: the error state, each an 8-byte store */
	pgdax_le64 s_errors;		/* PGDAX_ERR_* bits */
	pgdax_le64 s_error_count;	/* errors recorded since the last clean fsck */
	pgdax_le64 s_first_error_time;	/* seconds since the epoch */
	pgdax_le64 s_last_error_time;
	pgdax_le64 s_last_error_ino;	/* inode of the last runtime error, 0 = none */
};
static_assert(offsetof(struct pgdax_sb, s_crc) == 372, "superblock crc offset");
static_assert(sizeof(struct pgdax_sb) == 456, "superblock size");

/* ------------------------------------------------------------------ */
/* Undo journal                                                        */
/* ------------------------------------------------------------------ */
/*
 * The first block of the journal area holds struct pgdax_jhdr; records
 * start at byte PGDAX_JREC_START of the area and are packed, each aligned
 * to 64 bytes: struct pgdax_jrec followed by r_len bytes of old data.
 *
 * Transaction t (t = j_seq + 1):
 *   1. for each range: write record (r_seq = t, old bytes, r_crc) at the
 *      next position, persist the record; only then modify the range;
 *   2. commit: persist every modified range, then store j_seq = t
 *      (8 bytes, atomic) and persist it. The records are now dead.
 * Recovery: walk records from PGDAX_JREC_START while r_magic is right,
 * r_seq == j_seq + 1 and r_crc matches; copy each record's old bytes back,
 * in reverse order, persist, then store j_seq = j_seq + 1 and persist.
 * Records of older transactions have r_seq <= j_seq and end the walk.
 *
 * The header must match the superblock (magic, j_area_bytes, j_uuid =
 * s_uuid, j_crc). One mismatch is accepted: magic and size right but j_uuid
 * or j_crc not, no transaction j_seq + 1 pending, and the superblock in use
 * the primary, valid and CLEAN. That is what a uuid change cut short leaves
 * (pgdaxctl tune writes the header first, on a clean volume); with nothing
 * to replay the header carries no information, so a read-write mount
 * rewrites [0, j_seq) from the superblock and fsck repairs it as a safe
 * (-p) fix. Otherwise such a journal is stale: never replayed (mount
 * refuses, fsck -y discards it).
 */
#define PGDAX_JHDR_MAGIC	0x4c4e524a58444750ULL	/* "PGDXJRNL" */
#define PGDAX_JREC_MAGIC	0x43455258u		/* "XREC" */
#define PGDAX_JREC_ALIGN	64u
#define PGDAX_JREC_START	4096u	/* byte offset of the first record in the area */

struct pgdax_jhdr {
	pgdax_le64 j_magic;		/* PGDAX_JHDR_MAGIC */
	pgdax_le64 j_area_bytes;	/* journal area size, = s_journal_blocks * bs */
	uint8_t    j_uuid[16];		/* = s_uuid: a stale journal is not replayed (see above) */
	pgdax_le32 j_pad;
	pgdax_le32 j_crc;		/* crc32c of the fields above */
	pgdax_le64 j_seq;		/* hot: last committed (or rolled back) transaction */
};
static_assert(sizeof(struct pgdax_jhdr) == 48, "journal header size");

struct pgdax_jrec {
	pgdax_le32 r_magic;		/* PGDAX_JREC_MAGIC */
	pgdax_le32 r_len;		/* bytes of old data that follow */
	pgdax_le64 r_seq;		/* transaction */
	pgdax_le64 r_off;		/* device byte offset of the range */
	pgdax_le32 r_pad;
	pgdax_le32 r_crc;		/* crc32c of the fields above, then the data */
};
static_assert(sizeof(struct pgdax_jrec) == 32, "journal record size");

/* ------------------------------------------------------------------ */
/* Inodes                                                              */
/* ------------------------------------------------------------------ */

#define PGDAX_INLINE_MAX	64	/* symlink targets up to this stay in the inode */

/* i_flags */
#define PGDAX_IFL_INLINE	(1u << 0)	/* symlink target in i_inline */
#define PGDAX_IFL_ORPHAN	(1u << 1)	/* on the orphan list */
/* Trim pending (minor 1): i_size was lowered, but extents (or parts of
 * them) past the new EOF may still be allocated and hold old bytes. Set in
 * the transaction that lowers i_size, together with PGDAX_IFL_ORPHAN (the
 * inode goes on the orphan list, nlink > 0 or not); cleared in the
 * transaction after the last block past EOF was freed. Until then nothing
 * may raise i_size or hand out an extent past EOF: the trim is finished
 * first (at mount for every listed inode, at run time by the operation
 * that would grow the file, by fsck -y). */
#define PGDAX_IFL_TRIM		(1u << 2)
/* Inline extent map (minor 3): the inode's extent records are the
 * PGDAX_INLINE_EXTENTS records of struct pgdax_extent in i_inline (same
 * encoding and rules as in an extent block; all-zero = free), and
 * i_extent_head is 0. Never together with PGDAX_IFL_INLINE (a symlink
 * whose target is inline has no extents). Set in the transaction that
 * inserts the first extent of an inode without an extent block; cleared
 * in the transaction that moves the records into a new extent block
 * (a fifth extent) or that frees an emptied map. Saves the 4 KiB extent
 * block of every file of up to 4 extents (nearly every small file). */
#define PGDAX_IFL_INLINE_EXT	(1u << 3)
#define PGDAX_INLINE_EXTENTS	4	/* = PGDAX_INLINE_MAX / sizeof(struct pgdax_extent) */
#define PGDAX_IFL_KNOWN		(PGDAX_IFL_INLINE | PGDAX_IFL_ORPHAN | PGDAX_IFL_TRIM | \
				 PGDAX_IFL_INLINE_EXT)

struct pgdax_timespec {
	pgdax_le64 t_sec;		/* signed seconds */
	pgdax_le32 t_nsec;		/* < 1e9 */
	pgdax_le32 t_pad;
};
static_assert(sizeof(struct pgdax_timespec) == 16, "timespec size");

struct pgdax_inode {
	/* --- checksummed, updated in journal transactions only; a
	 * transaction journals (and an abort or a recovery puts back) these
	 * bytes only, never the hot fields below it did not change itself --- */
	pgdax_le32 i_mode;		/* S_IFMT | permission bits; 0 = free slot */
	pgdax_le32 i_uid;
	pgdax_le32 i_gid;
	pgdax_le32 i_nlink;
	pgdax_le32 i_flags;		/* PGDAX_IFL_* */
	pgdax_le32 i_generation;	/* bumped each time the slot is reused */
	pgdax_le64 i_ino;		/* own number: catches misdirected reads */
	pgdax_le64 i_blocks;		/* data + extent + xattr blocks owned */
	pgdax_le64 i_rdev;
	pgdax_le64 i_extent_head;	/* first extent block, 0 = none */
	pgdax_le64 i_xattr_block;	/* first xattr block, 0 = none */
	pgdax_le64 i_orphan_next;	/* next orphan inode, 0 = end */
	pgdax_le64 i_parent;		/* directories: parent inode (for "..") */
	struct pgdax_timespec i_btime;	/* creation */
	uint8_t    i_inline[PGDAX_INLINE_MAX];
	/* chattr flags, PGDAX_IATTR_* in lib/vol/vol.h (lib/vol/iflags.c):
	 * the first 4 of what were 36 reserved bytes, zero in every older
	 * image, ignored by older drivers; no format change */
	pgdax_le32 i_attr;
	uint8_t    i_reserved[32];
	pgdax_le32 i_crc;		/* crc32c of every byte above */
	/* --- hot fields: single 8-byte stores (size) or benign tears (times) --- */
	pgdax_le64 i_size;		/* bytes; < 2^63 */
	struct pgdax_timespec i_atime;
	struct pgdax_timespec i_mtime;
	struct pgdax_timespec i_ctime;
};
static_assert(offsetof(struct pgdax_inode, i_crc) == 196, "inode crc offset");
/* jtx_inode journals [0, i_size): the checksummed part and its crc, exactly */
static_assert(offsetof(struct pgdax_inode, i_size) == 200, "inode hot fields offset");
static_assert(sizeof(struct pgdax_inode) == PGDAX_INODE_SIZE, "inode size");

/* ------------------------------------------------------------------ */
/* Extent maps                                                         */
/* ------------------------------------------------------------------ */
/*
 * An inode's extent map is a chain of extent blocks (i_extent_head ->
 * eb_next -> ...), or, with PGDAX_IFL_INLINE_EXT, the records in i_inline. Each block: a header and fixed records. A record maps
 * file pages [x_fpage, x_fpage + 2^order) to device blocks
 * [dblk, dblk + 2^order); both x_fpage and dblk are multiples of 2^order,
 * and every block of the device range is in the data area
 * (pgdax_blk_in_data). A record whose x_dblk_order is 0 is free (a zeroed block is all free records). Records
 * do not overlap. The order of records in the chain is meaningless.
 * Extent blocks carry no crc (records change one at a time under the
 * journal); each record is validated when the map is loaded.
 */
#define PGDAX_EB_MAGIC		0x4b4c4258u	/* "XBLK" */
#define PGDAX_X_VALID		0x80u
#define PGDAX_X_ORDER_MASK	0x3fu
#define PGDAX_X_DBLK_SHIFT	8

struct pgdax_extent_blk {
	pgdax_le32 eb_magic;		/* PGDAX_EB_MAGIC */
	pgdax_le32 eb_pad;
	pgdax_le64 eb_ino;		/* owner */
	pgdax_le64 eb_next;		/* next extent block, 0 = end */
	pgdax_le64 eb_reserved;
};
static_assert(sizeof(struct pgdax_extent_blk) == 32, "extent block header size");

struct pgdax_extent {
	pgdax_le64 x_fpage;		/* first file page */
	pgdax_le64 x_dblk_order;	/* dblk << 8 | PGDAX_X_VALID | order; 0 = free */
};
static_assert(sizeof(struct pgdax_extent) == 16, "extent record size");
static_assert(PGDAX_INLINE_EXTENTS * sizeof(struct pgdax_extent) == PGDAX_INLINE_MAX,
	      "inline extent records fill i_inline");
static_assert(offsetof(struct pgdax_inode, i_inline) % 8 == 0, "inline records aligned");

#define PGDAX_EXTENTS_PER_BLOCK(bs) \
	(((bs) - sizeof(struct pgdax_extent_blk)) / sizeof(struct pgdax_extent))

/* ------------------------------------------------------------------ */
/* Directories                                                         */
/* ------------------------------------------------------------------ */
/*
 * A directory's data (mapped by its extent map, one block per file page,
 * i_size = number of blocks * bs) is a sequence of records that tile each
 * block exactly: d_rec_len is a multiple of 8, >= PGDAX_DIRENT_MIN, and no
 * record crosses a block boundary. d_ino == 0 is a free record (tombstone)
 * whose space can be reused. "." and ".." are not stored (synthesized from
 * the inode number and i_parent). d_hash = pgdax_name_hash(name).
 * readdir cookies: 0 = ".", 1 = "..", 2 + byte position of a record.
 */
#define PGDAX_DIRENT_MIN	24u

struct pgdax_dirent {
	pgdax_le64 d_ino;		/* 0 = free */
	pgdax_le16 d_rec_len;		/* bytes of this record */
	uint8_t    d_name_len;		/* 1..255 */
	uint8_t    d_type;		/* DT_* */
	pgdax_le32 d_hash;
	char       d_name[];		/* not NUL terminated */
};
static_assert(sizeof(struct pgdax_dirent) == 16, "dirent header size");

static inline uint32_t pgdax_dirent_size(unsigned name_len)
{
	uint32_t n = (uint32_t)sizeof(struct pgdax_dirent) + name_len;
	n = (n + 7u) & ~7u;
	return n < PGDAX_DIRENT_MIN ? PGDAX_DIRENT_MIN : n;
}

/* ------------------------------------------------------------------ */
/* Extended attributes                                                 */
/* ------------------------------------------------------------------ */
/*
 * A chain of blocks per inode (i_xattr_block -> xh_next -> ...; before
 * minor 4 always one block). Each block: header, then packed entries, each
 * aligned to 8 bytes: struct pgdax_xattr_entry, name (no NUL), value.
 * xh_used = bytes used from the start of the block; a block of the chain
 * holds at least one entry (an emptied block is unlinked and freed). A
 * change builds the new images of the blocks it touches in DRAM and writes
 * them in place inside one journal transaction, so each block carries a
 * crc over [0, xh_used) computed with xh_crc = 0. A name appears once in
 * the whole chain; the order of entries and of blocks is meaningless.
 *
 * Values longer than PGDAX_XATTR_INLINE_MAX(bs) (minor 4) are stored in
 * their own extent: the entry has PGDAX_XE_EXTERNAL and its value is a
 * struct pgdax_xattr_value naming 2^order blocks (the least order holding
 * xv_len bytes) at xv_blk, aligned to their size, in the data area, owned
 * by the inode (i_blocks counts them). The extent is written and persisted
 * before the entry that names it, and freed in the transaction that drops
 * the entry. Why a chain with values out of line: a small set (nearly every
 * file: ACLs, SELinux labels) stays one block, read as before; big values
 * do not crowd the names out of the blocks a lookup walks, so thousands of
 * names take a few tens of blocks.
 */
#define PGDAX_XH_MAGIC		0x52544158u	/* "XATR" */
#define PGDAX_XATTR_VALUE_MAX	65536u		/* XATTR_SIZE_MAX */
#define PGDAX_XE_EXTERNAL	0x01u		/* xe_flags: value in its own extent */
#define PGDAX_XATTR_INLINE_MAX(bs)	((bs) / 4)	/* longer values go external */

struct pgdax_xattr_hdr {
	pgdax_le32 xh_magic;
	pgdax_le32 xh_count;
	pgdax_le32 xh_used;
	pgdax_le32 xh_crc;
	pgdax_le64 xh_ino;
	pgdax_le64 xh_next;		/* minor 4: next block of the chain, 0 = end */
};
static_assert(sizeof(struct pgdax_xattr_hdr) == 32, "xattr header size");

struct pgdax_xattr_entry {
	uint8_t    xe_name_len;		/* 1..255 */
	uint8_t    xe_flags;		/* PGDAX_XE_* (minor 4; zero before) */
	pgdax_le16 xe_value_len;	/* bytes of value stored here */
	pgdax_le32 xe_pad2;
	char       xe_name[];		/* then the value */
};
static_assert(sizeof(struct pgdax_xattr_entry) == 8, "xattr entry size");

/* The value of a PGDAX_XE_EXTERNAL entry (xe_value_len = its size) */
struct pgdax_xattr_value {
	pgdax_le64 xv_blk;		/* first block of the extent */
	pgdax_le32 xv_len;		/* value bytes, 1..PGDAX_XATTR_VALUE_MAX */
	pgdax_le32 xv_crc;		/* crc32c of the value bytes */
};
static_assert(sizeof(struct pgdax_xattr_value) == 16, "xattr value ref size");

/* Order of the extent holding an external value of @len bytes */
static inline unsigned pgdax_xattr_value_order(uint32_t bs, uint32_t len)
{
	unsigned o = 0;
	while (((uint64_t)bs << o) < len)
		o++;
	return o;
}

/* ------------------------------------------------------------------ */
/* Read-only helpers (lib/vol/format.c): fsck and the fuzzer reuse these.  */
/* ------------------------------------------------------------------ */

uint32_t pgdax_crc32c(uint32_t crc, const void *buf, size_t len);
/* crc32c as stored in a structure: over [p, p + crc_off) */
uint32_t pgdax_struct_crc(const void *p, size_t crc_off);
uint32_t pgdax_name_hash(const char *name, size_t len);

/*
 * Validate a superblock read from a device of @dev_size bytes: magic,
 * major, crc, geometry (regions in order, in bounds, non-overlapping).
 * Returns 0 or -EUCLEAN (bad), -EPROTONOSUPPORT (unknown major or
 * incompat feature); writes a reason into @why.
 */
int pgdax_sb_validate(const struct pgdax_sb *sb, uint64_t dev_size,
		      char *why, size_t whylen);
/* Validate an in-use inode slot @ino against the superblock: crc, i_ino,
 * mode type, nlink, flags, block pointers in range. */
int pgdax_inode_validate(const struct pgdax_sb *sb, const struct pgdax_inode *in,
			 uint64_t ino, char *why, size_t whylen);
/* Validate one extent record (valid bit set): alignment, bounds. */
int pgdax_extent_validate(const struct pgdax_sb *sb, const struct pgdax_extent *x,
			  char *why, size_t whylen);
/* Validate the record at @pos of a directory block @blk (@bs bytes). */
int pgdax_dirent_validate(const void *blk, uint32_t bs, uint32_t pos,
			  char *why, size_t whylen);
/* Is data block @b a valid pointer target (inside the data area, not the
 * backup superblock)? */
bool pgdax_blk_in_data(const struct pgdax_sb *sb, uint64_t b);
/* Block of the backup superblock (s_backup_blk, or the last block). */
uint64_t pgdax_sb_backup_blk(const struct pgdax_sb *sb);
/* One past the last data block: blocks - 1 when the backup is the last
 * block, else blocks (the backup is then a hole inside the data area). */
/* Blocks files may own: [data_start, data_end) but the backup superblock
 * (what df counts as the volume's size; lib/vol/vol.h accounting). */
uint64_t pgdax_sb_data_blocks(const struct pgdax_sb *sb);
uint64_t pgdax_sb_data_end(const struct pgdax_sb *sb);
/*
 * Find a valid backup superblock on a device of @dev_size bytes mapped at
 * @base, without the primary: the last block of the first 2 MiB and of the
 * first 1 GiB (minor 3) and the last block of the device (older images), for
 * every block size. A candidate counts only if it validates and names its
 * own place as the backup's. 0 with *out and *off (byte offset), or -EUCLEAN.
 */
int pgdax_sb_find_backup(const void *base, uint64_t dev_size, struct pgdax_sb *out,
			 uint64_t *off);

/* Bitmap helpers on little-endian u64 words */
static inline bool pgdax_bit_test(const void *map, uint64_t bit)
{
	const pgdax_le64 *w = (const pgdax_le64 *)map;
	return (le64toh(w[bit / 64]) >> (bit % 64)) & 1;
}

#endif /* PGDAX_FORMAT_H */
