/* SPDX-License-Identifier: MIT */
/*
 * The checker/repairer (lib/fsck/fsck.h). An independent reading of the format
 * (lib/vol/format.h) that trusts nothing on the image.
 *
 * Passes, in order; each later pass only sees what the earlier ones kept:
 *   1. superblock: primary vs backup (crc, geometry); repair either from
 *      the other; everything below uses a validated DRAM copy.
 *   2. journal: header; a pending transaction is rolled back exactly as
 *      mount does (lib/vol/journal.c), into the image under -y/-p, into a
 *      scratch view under -n (when the caller gives one: a buffer, or
 *      lib/dev's copy-on-write view of the device, never MAP_PRIVATE, which
 *      a devdax refuses), else reported.
 *   3. inodes: every slot the inode bitmap marks used is validated (crc,
 *      number, mode, flags, pointers); a bad one is cleared.
 *   4. blocks: every used inode's extent chain, extent records, xattr
 *      chain and xattr value extents claim their blocks in an owner map (one owner per block:
 *      a second claim is a double allocation and the later record is
 *      dropped; a chain that loops meets its own block again); extents are
 *      checked for alignment, bounds and overlap inside the file.
 *   5. directories: every record of every directory block (bounds, name,
 *      hash, target inode used and of the recorded type, no duplicate
 *      names, at most one name per directory).
 *   6. connectivity: a directory is reachable when its parent chain reaches
 *      the root (bounded walk: cycles are unreachable); links are counted
 *      from reachable directories only; unreachable inodes are orphans
 *      (reclaimed) or lost (freed); the orphan list is walked with cycle
 *      detection. A linked file on the list with PGDAX_IFL_TRIM is a
 *      truncate a crash left half done: consistent (the mount finishes
 *      it), reported under -n, finished under -y/-p (extents past EOF
 *      freed, the rest of an extent crossing EOF zeroed).
 *   7. link counts, i_parent, i_blocks, sizes of directories.
 *   8. bitmaps: the block bitmap against the owner map (leaks, used but
 *      free), the inode bitmap against the inodes kept.
 *
 *
 * -p runs the passes twice: a dry run that only rolls the journal back,
 * then, if it found nothing that needs -y, the repair (see problem()).
 * A run that ends with problems left records PGDAX_ERR_FSCK in the
 * superblock's error state (format minor >= 2); one that ends clean
 * clears the whole error state, runtime errors included.
 *
 * Memory: 4 bytes per block and ~24 bytes per inode slot, plus the extents
 * and directory entries found (each bounded by what the image holds); the
 * geometry those sizes come from has been validated first and is capped.
 * Loops: every walk is bounded by a count derived from the geometry.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "vol/format.h"
#include "fsck.h"
#include "util/log.h"

#define OWN_FREE	0u
#define OWN_META	0xffffffffu	/* superblocks, journal, bitmaps, table, bad */
#define MAX_MSGS	50		/* per category, then a count */
#define MEM_CAP		(4ull << 30)	/* refuse images needing more DRAM than this */

enum istate { I_FREE = 0, I_USED, I_CLEARED, I_ORPHAN /* unlinked, on the list, kept (-n) */ };

struct ext_rec {
	uint64_t fpage;
	uint64_t dblk;
	uint64_t rec_off;	/* byte offset of the on-media record */
	unsigned order;
};

struct dent {
	uint64_t dir;		/* directory inode */
	uint64_t ino;		/* target */
	uint64_t off;		/* byte offset of the record */
	uint32_t hash;
};

struct ctx {
	uint8_t *base;
	uint64_t size;
	const struct pgdax_fsck_opts *o;
	struct pgdax_fsck_result *r;
	FILE *out;
	bool repair, preen, scratch, quiet, verbose;
	bool probe;			/* -p's dry run: count the unsafe problems */
	bool stopped;			/* -p met an unsafe problem: write nothing more */
	bool live;			/* probe: the journal rollback is written */
	unsigned cow_failed;		/* scratch view: copies that could not be made */
	uint64_t unsafe;		/* problems only -y may fix (probe) */
	unsigned msgs;

	struct pgdax_sb sb;		/* validated copy (checksummed part) */
	uint32_t bs;
	uint64_t blocks, ninodes, data_start;
	uint64_t bb_off, ib_off, it_off, jr_off, jr_bytes;

	uint32_t *owner;		/* per block */
	uint8_t *istate;		/* per inode */
	uint8_t *on_orphan_list;	/* per inode */
	uint32_t *nref;			/* names from reachable dirs */
	uint32_t *nsubdir;		/* reachable subdirectories */
	uint64_t *dparent;		/* dir: the directory holding its one name */
	uint8_t *reach;			/* dir reachability: 0 ?, 1 yes, 2 no, 3 walking */
	uint64_t *ext_start;		/* per inode: first index in exts */
	uint32_t *ext_count;
	uint64_t *nblocks;		/* per inode: blocks claimed */

	struct ext_rec *exts;
	uint64_t next, capext;
	struct dent *dents;
	uint64_t ndent, capdent;
	char root_why[200];		/* why the root inode must be recreated */
};

/* ------------------------------------------------------------ reporting */

static void say(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
}

/*
 * Report a problem in @what at byte offset @off and decide whether to fix
 * it: true under -y, and under -p when the fix is @safe (loses nothing).
 * @act names the fix twice, "done|to do" ("entry removed|remove the
 * entry"): a line says what was done only when it was, else what would be
 * done ("; would remove the entry"), so every line is true in every mode.
 *
 * -p never applies a fix that is not @safe, and never one that depends on
 * such a fix: the passes below model the image as if every fix were
 * applied (a cleared inode's blocks look free, ...), so once an unsafe
 * fix is declined the model no longer matches the image and a "safe" fix
 * derived from it (freeing the blocks of an inode still named) would do
 * harm. pgdax_fsck_image() therefore runs -p as a dry run first and
 * repairs only when the dry run met no unsafe problem; should one appear
 * in the repair run all the same, c->stopped ends every later write.
 */
static bool problem(struct ctx *c, bool safe, const char *what, uint64_t off,
		    const char *act, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static bool problem(struct ctx *c, bool safe, const char *what, uint64_t off,
		    const char *act, const char *fmt, ...)
{
	bool fix = c->repair && !c->stopped && (safe || !c->preen);
	const char *bar = strchr(act, '|');
	va_list ap;

	if (c->repair && c->preen && !safe && !c->stopped)
		c->stopped = true;	/* the model is off the image from here */
	if (c->probe && !safe)
		c->unsafe++;
	c->r->problems++;
	if (fix)
		c->r->fixed++;
	if (c->quiet)
		return fix;
	if (c->msgs++ == MAX_MSGS * 20) {
		fprintf(c->out, "(further problems not printed)\n");
		return fix;
	}
	if (c->msgs > MAX_MSGS * 20)
		return fix;
	fprintf(c->out, "%s @%llu: ", what, (unsigned long long)off);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	if (fix)
		fprintf(c->out, "; %.*s [fixed]\n", (int)(bar - act), act);
	else
		fprintf(c->out, "; would %s%s\n", bar + 1,
			c->repair || (c->probe && !safe) ? " [not fixed: needs -y]" : "");
	return fix;
}

static bool cancelled(struct ctx *c)
{
	if (c->o->cancel && *c->o->cancel) {
		c->r->cancelled = true;
		return true;
	}
	return false;
}

static void progress(struct ctx *c, const char *phase, uint64_t done, uint64_t total)
{
	if (c->o->progress && (done % 4096 == 0 || done == total))
		c->o->progress(c->o->progress_arg, phase, done, total);
}

/* ------------------------------------------------------------ writes */

/* Every store into the image goes through here: bounds-checked, only when
 * repairing (or into a private scratch view), persisted when on a device. */
static void wr(struct ctx *c, void *dst, const void *src, size_t len)
{
	uint8_t *d = dst;

	if ((!c->repair && !c->scratch && !c->live) || c->stopped)
		return;
	if (d < c->base || len > c->size || (uint64_t)(d - c->base) > c->size - len)
		abort();	/* a bug in this file, never the image's fault */
	if (!c->repair && !c->live && c->o->cow && c->o->cow(c->o->cow_arg, d, len)) {
		if (!c->cow_failed++)
			say(c, "pgdaxfs: out of memory for the scratch view: what follows is "
			    "checked without some of the changes it would see\n");
		return;
	}
	memmove(d, src, len);
	if ((c->repair || c->live) && c->o->persist)
		c->o->persist(c->o->persist_arg, d, len);
}

static void wr64(struct ctx *c, pgdax_le64 *dst, uint64_t v)
{
	pgdax_le64 le = htole64(v);

	wr(c, dst, &le, sizeof(le));
}

static uint8_t *blk(struct ctx *c, uint64_t b)
{
	return c->base + b * c->bs;
}

static uint64_t off_of(struct ctx *c, const void *p)
{
	return (uint64_t)((const uint8_t *)p - c->base);
}

static struct pgdax_inode *slot(struct ctx *c, uint64_t ino)
{
	return (struct pgdax_inode *)(c->base + c->it_off + ino * PGDAX_INODE_SIZE);
}

/* Rewrite inode @ino from @in with a fresh crc. */
static void inode_put(struct ctx *c, uint64_t ino, struct pgdax_inode *in)
{
	in->i_crc = htole32(pgdax_struct_crc(in, offsetof(struct pgdax_inode, i_crc)));
	wr(c, slot(c, ino), in, sizeof(*in));
}

static void bit_set(struct ctx *c, uint64_t map_off, uint64_t bit, bool v)
{
	pgdax_le64 *w = (pgdax_le64 *)(c->base + map_off) + bit / 64;
	uint64_t x = le64toh(*w);

	x = v ? x | (1ull << (bit % 64)) : x & ~(1ull << (bit % 64));
	wr64(c, w, x);
}

static bool bit_get(struct ctx *c, uint64_t map_off, uint64_t bit)
{
	return pgdax_bit_test(c->base + map_off, bit);
}

/* ------------------------------------------------------------ 1. superblock */

static bool sb_same(const struct pgdax_sb *a, const struct pgdax_sb *b)
{
	return !memcmp(a, b, offsetof(struct pgdax_sb, s_crc) + sizeof(a->s_crc));
}

/* A backup where one is looked for (pgdax_sb_find_backup), any block size. */
static bool find_backup(struct ctx *c, struct pgdax_sb *out, uint64_t *where)
{
	return pgdax_sb_find_backup(c->base, c->size, out, where) == 0;
}

static int check_super(struct ctx *c)
{
	struct pgdax_sb p, b;
	char why[200];
	uint64_t boff = 0;
	int rc;

	memcpy(&p, c->base, sizeof(p));
	rc = pgdax_sb_validate(&p, c->size, why, sizeof(why));
	if (rc == -EPROTONOSUPPORT) {
		say(c, "superblock @0: %s\n", why);
		c->r->fatal = true;
		return PGDAX_FSCK_EXIT_OPERROR;
	}
	if (rc == 0) {
		boff = pgdax_sb_backup_blk(&p) * le32toh(p.s_block_size);
		memcpy(&b, c->base + boff, sizeof(b));
		if (pgdax_sb_validate(&b, c->size, why, sizeof(why)) == 0 && !sb_same(&p, &b))
			snprintf(why, sizeof(why), "differs from the primary");
		if (!sb_same(&p, &b) &&
		    problem(c, true, "superblock (backup)", boff,
			    "rewritten from the primary|rewrite it from the primary", "%s", why))
			wr(c, c->base + boff, &p, offsetof(struct pgdax_sb, s_state));
		c->sb = p;
	} else {
		if (!find_backup(c, &b, &boff)) {
			say(c, "superblock @0: %s; no valid backup superblock where one is kept "
			    "either: not a pgdaxfs volume (or too damaged to find)\n", why);
			c->r->fatal = true;
			return PGDAX_FSCK_EXIT_OPERROR;
		}
		if (problem(c, true, "superblock (primary)", 0,
			    "restored from the backup|restore it from the backup",
			    "%s; valid backup @%llu", why, (unsigned long long)boff)) {
			struct pgdax_sb n = b;

			/* hot fields are lost: orphans are found by the inode pass */
			n.s_state = htole64(PGDAX_STATE_DIRTY);
			n.s_orphan_head = 0;
			n.s_mount_count = 0;
			n.s_mount_time = 0;
			n.s_write_time = 0;
			wr(c, c->base, &n, sizeof(n));
		}
		c->sb = b;
		c->sb.s_orphan_head = 0;
		c->sb.s_state = htole64(PGDAX_STATE_DIRTY);
	}
	c->bs = le32toh(c->sb.s_block_size);
	c->blocks = le64toh(c->sb.s_blocks);
	c->ninodes = le64toh(c->sb.s_inodes);
	c->data_start = le64toh(c->sb.s_data_start);
	c->bb_off = le64toh(c->sb.s_bbitmap_start) * c->bs;
	c->ib_off = le64toh(c->sb.s_ibitmap_start) * c->bs;
	c->it_off = le64toh(c->sb.s_itable_start) * c->bs;
	c->jr_off = le64toh(c->sb.s_journal_start) * c->bs;
	c->jr_bytes = le64toh(c->sb.s_journal_blocks) * c->bs;
	/* the accounting df and pgdaxctl status use (lib/vol/vol.h): the data
	 * area, and every inode slot but 0 */
	c->r->blocks_total = pgdax_sb_data_blocks(&c->sb);
	c->r->inodes_total = c->ninodes - 1;
	c->r->blocks_used = le64toh(c->sb.s_bad_blocks);
	if (c->blocks >= OWN_META || c->ninodes >= OWN_META) {
		say(c, "superblock @0: %llu blocks / %llu inodes: too large for this fsck\n",
		    (unsigned long long)c->blocks, (unsigned long long)c->ninodes);
		c->r->fatal = true;
		return PGDAX_FSCK_EXIT_OPERROR;
	}
	return 0;
}

/* ------------------------------------------------------------ 2. journal */

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint32_t rec_crc(const struct pgdax_jrec *r, const void *data, size_t len)
{
	uint32_t crc = pgdax_crc32c(0, r, offsetof(struct pgdax_jrec, r_crc));

	return pgdax_crc32c(crc, data, len);
}

/* A fresh header (j_seq kept) and a cleared first record slot. */
static void journal_reset(struct ctx *c, struct pgdax_jhdr *h, uint64_t seq)
{
	struct pgdax_jhdr n;
	uint8_t zero[PGDAX_JREC_ALIGN] = { 0 };

	memset(&n, 0, sizeof(n));
	n.j_magic = htole64(PGDAX_JHDR_MAGIC);
	n.j_area_bytes = htole64(c->jr_bytes);
	memcpy(n.j_uuid, c->sb.s_uuid, sizeof(n.j_uuid));
	n.j_crc = htole32(pgdax_struct_crc(&n, offsetof(struct pgdax_jhdr, j_crc)));
	n.j_seq = htole64(seq);
	wr(c, (uint8_t *)h + PGDAX_JREC_START, zero, sizeof(zero));
	wr(c, h, &n, sizeof(n));
}

static int check_journal(struct ctx *c)
{
	uint8_t *area = c->base + c->jr_off;
	struct pgdax_jhdr *h = (void *)area;
	uint64_t pos = PGDAX_JREC_START, t, *offs;
	size_t n = 0;
	bool bad = false;

	if (le64toh(h->j_magic) != PGDAX_JHDR_MAGIC || le64toh(h->j_area_bytes) != c->jr_bytes) {
		/* nothing in the area can be trusted: no rollback */
		if (problem(c, false, "journal header", c->jr_off,
			    "header reset, any pending transaction lost|reset the header, losing "
			    "any pending transaction", "bad magic or size"))
			journal_reset(c, h, le64toh(h->j_seq));
		return 0;
	}
	t = le64toh(h->j_seq) + 1;
	if (pgdax_struct_crc(h, offsetof(struct pgdax_jhdr, j_crc)) != le32toh(h->j_crc) ||
	    memcmp(h->j_uuid, c->sb.s_uuid, sizeof(h->j_uuid))) {
		/* What an interrupted uuid change (pgdaxctl tune) leaves. With
		 * no record of transaction t there is nothing to replay and the
		 * header only has to name this volume again, as mount does
		 * (lib/vol/journal.c); records under it are a stale journal,
		 * never replayed. */
		const struct pgdax_jrec *r = (const void *)(area + PGDAX_JREC_START);
		bool pending = le32toh(r->r_magic) == PGDAX_JREC_MAGIC && le64toh(r->r_seq) == t;
		/* safe only in the state a cut tune leaves: the primary in use
		 * (a backup fallback has set s_state DIRTY) and clean */
		bool lag = !pending && le64toh(c->sb.s_state) == PGDAX_STATE_CLEAN;

		if (problem(c, lag, "journal header", c->jr_off,
			    pending ? "stale transaction discarded, header rewritten|discard the "
				      "stale transaction and rewrite the header"
				    : "header rewritten|rewrite the header",
			    pending ? "checksum or uuid does not match the superblock; pending "
				      "transaction %llu is stale"
				    : "checksum or uuid does not match the superblock (an "
				      "interrupted uuid change?); no transaction %llu is pending",
			    (unsigned long long)t))
			journal_reset(c, h, le64toh(h->j_seq));
		return 0;
	}
	offs = malloc((c->jr_bytes / PGDAX_JREC_ALIGN + 1) * sizeof(*offs));
	if (!offs)
		return -ENOMEM;
	/* the same walk as lib/vol/journal.c walk_records() */
	while (pos + sizeof(struct pgdax_jrec) <= c->jr_bytes) {
		const struct pgdax_jrec *r = (const void *)(area + pos);
		uint64_t len, off;

		if (le32toh(r->r_magic) != PGDAX_JREC_MAGIC || le64toh(r->r_seq) != t)
			break;
		len = le32toh(r->r_len);
		off = le64toh(r->r_off);
		if (len == 0 || len > c->jr_bytes - pos - sizeof(*r))
			break;
		if (rec_crc(r, r + 1, len) != le32toh(r->r_crc))
			break;
		if (off > c->size || len > c->size - off ||
		    (off < c->jr_off + c->jr_bytes && off + len > c->jr_off)) {
			bad = true;
			break;
		}
		offs[n++] = pos;
		pos += align_up(sizeof(*r) + len, PGDAX_JREC_ALIGN);
	}
	if (bad) {
		/* mount refuses such a journal; the transaction cannot be undone
		 * safely: retire it and let the passes below repair the rest */
		if (problem(c, false, "journal record", c->jr_off + pos,
			    "transaction discarded|discard the transaction",
			    "transaction %llu has a record outside the device or inside the "
			    "journal", (unsigned long long)t))
			journal_reset(c, h, t);
		free(offs);
		return 0;
	}
	if (n == 0) {
		free(offs);
		return 0;
	}
	c->r->journal_pending = true;
	/* -p's dry run rolls back for real, as the mount would: what it checks
	 * then is what the repair run and the mount see */
	c->live = c->probe;
	if (!c->repair && !c->scratch && !c->live) {
		say(c, "journal @%llu: transaction %llu (%zu ranges) is pending; it is rolled "
		    "back at mount or by fsck -y; checked without it\n",
		    (unsigned long long)c->jr_off, (unsigned long long)t, n);
		free(offs);
		return 0;
	}
	say(c, "journal @%llu: rolling back uncommitted transaction %llu (%zu ranges)%s\n",
	    (unsigned long long)c->jr_off, (unsigned long long)t, n,
	    c->repair || c->live ? "" : " in a private view");
	for (size_t i = n; i-- > 0;) {
		const struct pgdax_jrec *r = (const void *)(area + offs[i]);

		wr(c, c->base + le64toh(r->r_off), r + 1, le32toh(r->r_len));
	}
	free(offs);
	wr64(c, &h->j_seq, t);
	c->r->journal_replayed = c->repair || c->live;
	c->live = false;
	/* the superblock may have been among the ranges: reload its hot part */
	memcpy(&c->sb.s_state, c->base + offsetof(struct pgdax_sb, s_state),
	       sizeof(struct pgdax_sb) - offsetof(struct pgdax_sb, s_state));
	return 0;
}

/* ------------------------------------------------------------ 3. inodes */

static bool mode_ok_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* Free an inode: bitmap bit, slot mode (its blocks were or will be released
 * from the owner map by the caller). */
static void inode_clear(struct ctx *c, uint64_t ino)
{
	struct pgdax_inode in;

	memcpy(&in, slot(c, ino), sizeof(in));
	in.i_mode = 0;
	in.i_nlink = 0;
	in.i_flags = 0;
	in.i_extent_head = 0;
	in.i_xattr_block = 0;
	in.i_orphan_next = 0;
	in.i_size = 0;
	in.i_blocks = 0;
	inode_put(c, ino, &in);
	bit_set(c, c->ib_off, ino, false);
}

static void pass_inodes(struct ctx *c)
{
	char why[200];

	for (uint64_t i = 1; i < c->ninodes; i++) {
		struct pgdax_inode *in = slot(c, i);

		progress(c, "Pass 1: inodes", i, c->ninodes - 1);
		if ((i & 1023) == 0 && cancelled(c))
			return;
		if (!bit_get(c, c->ib_off, i) && i != 1)
			continue;
		if (pgdax_inode_validate(&c->sb, in, i, why, sizeof(why))) {
			struct pgdax_inode n = *in;

			/* only the checksum is wrong (every field still valid):
			 * keep the inode, so one flipped bit does not cost a tree */
			n.i_crc = htole32(pgdax_struct_crc(&n, offsetof(struct pgdax_inode, i_crc)));
			if (n.i_crc != in->i_crc && le32toh(n.i_mode) &&
			    !pgdax_inode_validate(&c->sb, &n, i, NULL, 0) &&
			    (i != 1 || S_ISDIR(le32toh(n.i_mode)))) {
				if (problem(c, false, "inode table", off_of(c, in),
					    "checksum rewritten|rewrite the checksum",
					    "%s; the fields are valid", why))
					inode_put(c, i, &n);
				goto used;
			}
			if (i == 1) {
				/* recreated after pass 2, when free blocks are known */
				c->istate[i] = I_CLEARED;
				snprintf(c->root_why, sizeof(c->root_why), "%s", why);
				continue;
			}
			c->istate[i] = I_CLEARED;
			if (problem(c, false, "inode table", off_of(c, in),
				    "inode cleared|clear the inode", "%s", why))
				inode_clear(c, i);
			continue;
		}
		if (!mode_ok_type(le32toh(in->i_mode)))
			continue;
used:
		c->istate[i] = I_USED;
		c->r->inodes_used++;
		if (S_ISDIR(le32toh(in->i_mode)))
			c->r->dirs++;
		else if (S_ISREG(le32toh(in->i_mode)))
			c->r->files++;
	}
	if (c->istate[1] == I_USED && !S_ISDIR(le32toh(slot(c, 1)->i_mode))) {
		c->istate[1] = I_CLEARED;
		snprintf(c->root_why, sizeof(c->root_why), "not a directory");
	}
	if (c->istate[1] != I_USED && !c->root_why[0])
		snprintf(c->root_why, sizeof(c->root_why), "marked free in the inode bitmap");
}

/* ------------------------------------------------------------ 4. blocks */

static int add_ext(struct ctx *c, const struct ext_rec *e)
{
	if (c->next == c->capext) {
		uint64_t nc = c->capext ? c->capext * 2 : 1024;
		void *p = realloc(c->exts, nc * sizeof(*c->exts));

		if (!p)
			return -ENOMEM;
		c->exts = p;
		c->capext = nc;
	}
	c->exts[c->next++] = *e;
	return 0;
}

/* Claim [b, b+n) for @ino; false (nothing claimed) if any block is taken. */
static bool claim(struct ctx *c, uint64_t b, uint64_t n, uint64_t ino, uint32_t *other)
{
	for (uint64_t k = 0; k < n; k++)
		if (c->owner[b + k] != OWN_FREE) {
			*other = c->owner[b + k];
			return false;
		}
	for (uint64_t k = 0; k < n; k++)
		c->owner[b + k] = (uint32_t)ino;
	c->nblocks[ino] += n;
	return true;
}

static void unclaim(struct ctx *c, uint64_t b, uint64_t n, uint64_t ino)
{
	for (uint64_t k = 0; k < n; k++)
		if (c->owner[b + k] == ino)
			c->owner[b + k] = OWN_FREE;
	c->nblocks[ino] -= n;
}

static const char *owner_name(uint32_t o, char *buf, size_t len)
{
	if (o == OWN_META)
		snprintf(buf, len, "filesystem metadata");
	else
		snprintf(buf, len, "inode %u", o);
	return buf;
}

static int cmp_ext(const void *a, const void *b)
{
	const struct ext_rec *x = a, *y = b;

	return x->fpage < y->fpage ? -1 : x->fpage > y->fpage;
}

static void zero_record(struct ctx *c, uint64_t rec_off)
{
	struct pgdax_extent z = { 0, 0 };
	uint64_t it_end = c->it_off + c->ninodes * PGDAX_INODE_SIZE;

	if (rec_off >= c->it_off && rec_off < it_end) {
		/* an inline record (PGDAX_IFL_INLINE_EXT): the inode's crc covers it */
		uint64_t ino = (rec_off - c->it_off) / PGDAX_INODE_SIZE;
		struct pgdax_inode n = *slot(c, ino);

		memcpy((char *)&n + (rec_off - off_of(c, slot(c, ino))), &z, sizeof(z));
		inode_put(c, ino, &n);
		return;
	}
	wr(c, c->base + rec_off, &z, sizeof(z));
}

/* Point the link at @link_off (i_extent_head in inode @ino, or eb_next) to 0. */
static void cut_chain(struct ctx *c, uint64_t ino, pgdax_le64 *link)
{
	struct pgdax_inode *in = slot(c, ino);

	if (link == &in->i_extent_head) {
		struct pgdax_inode n = *in;

		n.i_extent_head = 0;
		inode_put(c, ino, &n);
	} else {
		wr64(c, link, 0);
	}
}

/* Claim and collect the @n records at @x of inode @ino (an extent block's,
 * or the inode's own with PGDAX_IFL_INLINE_EXT); drop the bad ones. */
static int check_records(struct ctx *c, uint64_t ino, struct pgdax_extent *x, uint64_t n)
{
	char ob[64];
	uint32_t other;

	for (uint64_t k = 0; k < n; k++) {
		uint64_t v = le64toh(x[k].x_dblk_order);
		struct ext_rec e;
		char why[160];

		if (v == 0)
			continue;
		if (pgdax_extent_validate(&c->sb, &x[k], why, sizeof(why))) {
			if (problem(c, false, "extent record", off_of(c, &x[k]),
				    "record dropped|drop the record",
				    "inode %llu: %s", (unsigned long long)ino, why))
				zero_record(c, off_of(c, &x[k]));
			continue;
		}
		e.fpage = le64toh(x[k].x_fpage);
		e.dblk = v >> PGDAX_X_DBLK_SHIFT;
		e.order = v & PGDAX_X_ORDER_MASK;
		e.rec_off = off_of(c, &x[k]);
		if (!claim(c, e.dblk, 1ull << e.order, ino, &other)) {
			if (problem(c, false, "extent record", e.rec_off,
				    "record dropped|drop the record",
				    "inode %llu: blocks [%llu, +%llu) also owned by %s "
				    "(double allocation)",
				    (unsigned long long)ino, (unsigned long long)e.dblk,
				    1ull << e.order, owner_name(other, ob, sizeof(ob))))
				zero_record(c, e.rec_off);
			continue;
		}
		if (add_ext(c, &e))
			return -ENOMEM;
	}
	return 0;
}

static int check_extents(struct ctx *c, uint64_t ino)
{
	struct pgdax_inode *in = slot(c, ino);
	pgdax_le64 *link = &in->i_extent_head;
	uint64_t b = le64toh(*link), nrec = PGDAX_EXTENTS_PER_BLOCK(c->bs);
	uint64_t steps = 0;
	char ob[64];
	uint32_t other;

	c->ext_start[ino] = c->next;
	/* an inline map (validated with the inode: no extent block then) */
	if ((le32toh(in->i_flags) & PGDAX_IFL_INLINE_EXT) &&
	    check_records(c, ino, (struct pgdax_extent *)in->i_inline, PGDAX_INLINE_EXTENTS))
		return -ENOMEM;
	while (b) {
		struct pgdax_extent_blk *eb;

		if (++steps > c->blocks || !pgdax_blk_in_data(&c->sb, b)) {
			if (problem(c, false, "extent chain", off_of(c, link),
				    "chain cut|cut the chain",
				    "inode %llu: extent block %llu outside the data area", (unsigned long long)ino, (unsigned long long)b))
				cut_chain(c, ino, link);
			break;
		}
		eb = (void *)blk(c, b);
		if (le32toh(eb->eb_magic) != PGDAX_EB_MAGIC || le64toh(eb->eb_ino) != ino) {
			if (problem(c, false, "extent block", b * c->bs,
				    "chain cut|cut the chain", "inode %llu: bad magic 0x%08x or owner %llu",
				    (unsigned long long)ino, le32toh(eb->eb_magic),
				    (unsigned long long)le64toh(eb->eb_ino)))
				cut_chain(c, ino, link);
			break;
		}
		if (!claim(c, b, 1, ino, &other)) {
			if (problem(c, false, "extent chain", off_of(c, link),
				    "chain cut|cut the chain",
				    "inode %llu: extent block %llu already owned by %s%s",
				    (unsigned long long)ino, (unsigned long long)b,
				    owner_name(other, ob, sizeof(ob)),
				    other == ino ? " (loop)" : ""))
				cut_chain(c, ino, link);
			break;
		}
		if (check_records(c, ino, (struct pgdax_extent *)(eb + 1), nrec))
			return -ENOMEM;
		link = &eb->eb_next;
		b = le64toh(*link);
	}
	c->ext_count[ino] = (uint32_t)(c->next - c->ext_start[ino]);
	/* overlap inside the file */
	if (c->ext_count[ino] > 1) {
		struct ext_rec *v = c->exts + c->ext_start[ino];
		uint64_t n = c->ext_count[ino], w = 1;

		qsort(v, n, sizeof(*v), cmp_ext);
		for (uint64_t k = 1; k < n; k++) {
			struct ext_rec *p = &v[w - 1];

			if (p->fpage + (1ull << p->order) > v[k].fpage) {
				if (problem(c, false, "extent record", v[k].rec_off,
					    "record dropped|drop the record",
					    "inode %llu: file pages [%llu, +%llu) overlap another "
					    "extent", (unsigned long long)ino,
					    (unsigned long long)v[k].fpage, 1ull << v[k].order))
					zero_record(c, v[k].rec_off);
				unclaim(c, v[k].dblk, 1ull << v[k].order, ino);
				continue;
			}
			v[w++] = v[k];
		}
		c->ext_count[ino] = (uint32_t)w;
		c->next = c->ext_start[ino] + w;
	}
	return 0;
}

static uint32_t xattr_crc(const uint8_t *p, uint32_t used)
{
	struct pgdax_xattr_hdr tmp;

	memcpy(&tmp, p, sizeof(tmp));
	tmp.xh_crc = 0;
	return pgdax_crc32c(pgdax_crc32c(0, &tmp, sizeof(tmp)), p + sizeof(tmp),
			    used - sizeof(tmp));
}

/* Point the link to an xattr block (i_xattr_block of @ino when @prev is
 * NULL, else xh_next of the block @prev, whose crc is resealed) at @next. */
static void xattr_relink(struct ctx *c, uint64_t ino, uint8_t *prev, uint64_t next)
{
	if (!prev) {
		struct pgdax_inode n = *slot(c, ino);

		n.i_xattr_block = htole64(next);
		inode_put(c, ino, &n);
		return;
	}
	struct pgdax_xattr_hdr h;

	memcpy(&h, prev, sizeof(h));
	h.xh_next = htole64(next);
	wr(c, prev, &h, sizeof(h));
	h.xh_crc = htole32(xattr_crc(prev, le32toh(h.xh_used)));
	wr(c, prev, &h, sizeof(h));
}

static uint32_t xent_size(const struct pgdax_xattr_entry *e)
{
	return (uint32_t)align_up(sizeof(*e) + e->xe_name_len + le16toh(e->xe_value_len), 8);
}

/* Why the header and entries of xattr block @p of @ino are bad, or NULL */
static const char *xattr_block_why(struct ctx *c, uint64_t ino, const uint8_t *p)
{
	const struct pgdax_xattr_hdr *h = (const void *)p;
	uint32_t used = le32toh(h->xh_used), count = le32toh(h->xh_count), pos, k;
	bool multi = le64toh(c->sb.s_feat_incompat) & PGDAX_FEAT_INCOMPAT_XATTR_MULTI;

	if (le32toh(h->xh_magic) != PGDAX_XH_MAGIC)
		return "bad magic";
	if (le64toh(h->xh_ino) != ino)
		return "belongs to another inode";
	if (used < sizeof(*h) || used > c->bs)
		return "bad used size";
	if (xattr_crc(p, used) != le32toh(h->xh_crc))
		return "bad checksum";
	/* entries tile [32, used) */
	for (pos = sizeof(*h), k = 0; pos < used; k++) {
		const struct pgdax_xattr_entry *e = (const void *)(p + pos);
		uint32_t len;

		if (pos + sizeof(*e) > used || k >= count)
			return "entries overrun";
		len = xent_size(e);
		if (e->xe_name_len == 0 || len > used - pos ||
		    memchr(e->xe_name, 0, e->xe_name_len))
			return "bad entry";
		if ((e->xe_flags & ~PGDAX_XE_EXTERNAL) ||
		    ((e->xe_flags & PGDAX_XE_EXTERNAL) && !multi))
			return "entry with unknown flags";
		pos += len;
	}
	if (k != count)
		return "entry count mismatch";
	if (count == 0)
		return "empty block in the chain";
	return NULL;
}

/* Check and claim the value extent of external entry @e; why not, or NULL */
static const char *xattr_value_why(struct ctx *c, uint64_t ino,
				   const struct pgdax_xattr_entry *e, char *buf, size_t len)
{
	struct pgdax_xattr_value v;
	char ob[64];
	uint32_t other;

	if (le16toh(e->xe_value_len) != sizeof(v))
		return "external value reference of the wrong size";
	memcpy(&v, e->xe_name + e->xe_name_len, sizeof(v));
	uint32_t vlen = le32toh(v.xv_len);
	uint64_t b = le64toh(v.xv_blk);
	if (vlen == 0 || vlen > PGDAX_XATTR_VALUE_MAX)
		return "external value of a bad length";
	uint64_t n = 1ull << pgdax_xattr_value_order(c->bs, vlen);
	if (b % n)
		return "external value extent misaligned";
	for (uint64_t k = 0; k < n; k++)
		if (!pgdax_blk_in_data(&c->sb, b + k))
			return "external value outside the data area";
	if (pgdax_crc32c(0, blk(c, b), vlen) != le32toh(v.xv_crc))
		return "external value: bad checksum";
	if (!claim(c, b, n, ino, &other)) {
		snprintf(buf, len, "external value blocks [%llu, +%llu) also owned by %s",
			 (unsigned long long)b, (unsigned long long)n,
			 owner_name(other, ob, sizeof(ob)));
		return buf;
	}
	return NULL;
}

/* Rewrite xattr block @p without the entries at the offsets @drop[0..@nd) */
static void xattr_drop_entries(struct ctx *c, uint8_t *p, const uint32_t *drop, size_t nd)
{
	struct pgdax_xattr_hdr *h;
	uint32_t used = le32toh(((struct pgdax_xattr_hdr *)p)->xh_used), pos, out, k = 0;
	uint8_t *img = calloc(1, c->bs);

	if (!img)
		return;	/* left for a later run */
	memcpy(img, p, sizeof(*h));
	h = (void *)img;
	for (pos = out = sizeof(*h); pos < used;) {
		const struct pgdax_xattr_entry *e = (const void *)(p + pos);
		uint32_t len = xent_size(e);

		if (k < nd && drop[k] == pos)
			k++;
		else {
			memcpy(img + out, e, len);
			out += len;
		}
		pos += len;
	}
	h->xh_used = htole32(out);
	h->xh_count = htole32(le32toh(h->xh_count) - (uint32_t)nd);
	h->xh_crc = htole32(xattr_crc(img, out));
	wr(c, p, img, used);
	free(img);
}

/*
 * The chain of xattr blocks of @ino (lib/vol/format.h): each block valid
 * and owned once (a bad, shared or looping block cuts the chain there: the
 * attributes from it on are dropped and its blocks left to pass 8 as
 * leaks), and each external value in the data area, aligned, matching its
 * crc and owned once (a bad one drops its entry; an emptied block is
 * unlinked). A chain, or an external value, on a volume without
 * PGDAX_FEAT_INCOMPAT_XATTR_MULTI is bad too: an older driver reads neither.
 */
static void check_xattr(struct ctx *c, uint64_t ino)
{
	struct pgdax_inode *in = slot(c, ino);
	bool multi = le64toh(c->sb.s_feat_incompat) & PGDAX_FEAT_INCOMPAT_XATTR_MULTI;
	uint64_t b = le64toh(in->i_xattr_block), steps = 0;
	uint8_t *prev = NULL;
	char ob[64], vwhy[128];
	uint32_t other;

	while (b) {
		uint64_t link_off = prev ? off_of(c, prev) : off_of(c, in);
		const char *why;

		if (++steps > c->blocks || !pgdax_blk_in_data(&c->sb, b)) {
			if (problem(c, false, prev ? "xattr block" : "inode", link_off,
				    "xattr chain cut|cut the xattr chain",
				    "inode %llu: xattr block %llu outside the data area",
				    (unsigned long long)ino, (unsigned long long)b))
				xattr_relink(c, ino, prev, 0);
			return;
		}
		if (prev && !multi) {
			if (problem(c, false, "xattr block", link_off,
				    "xattr chain cut|cut the xattr chain",
				    "inode %llu: xattr chain on a volume without the "
				    "xattr_multi feature", (unsigned long long)ino))
				xattr_relink(c, ino, prev, 0);
			return;
		}
		uint8_t *p = blk(c, b);
		struct pgdax_xattr_hdr *h = (void *)p;

		why = xattr_block_why(c, ino, p);
		if (why) {
			if (problem(c, false, "xattr block", b * c->bs,
				    "extended attributes dropped|drop the extended attributes",
				    "inode %llu: %s", (unsigned long long)ino, why))
				xattr_relink(c, ino, prev, 0);
			return;
		}
		if (!claim(c, b, 1, ino, &other)) {
			if (problem(c, false, prev ? "xattr block" : "inode", link_off,
				    "xattr chain cut|cut the xattr chain",
				    "inode %llu: xattr block %llu also owned by %s%s",
				    (unsigned long long)ino, (unsigned long long)b,
				    owner_name(other, ob, sizeof(ob)),
				    other == ino ? " (loop)" : ""))
				xattr_relink(c, ino, prev, 0);
			return;
		}
		/* the external values */
		uint32_t used = le32toh(h->xh_used), drop[64];
		size_t nd = 0;
		for (uint32_t pos = sizeof(*h); pos < used; pos += xent_size((const void *)(p + pos))) {
			const struct pgdax_xattr_entry *e = (const void *)(p + pos);

			if (!(e->xe_flags & PGDAX_XE_EXTERNAL))
				continue;
			why = xattr_value_why(c, ino, e, vwhy, sizeof(vwhy));
			if (why && problem(c, false, "xattr block", b * c->bs + pos,
					   "entry dropped|drop the entry", "inode %llu: %s",
					   (unsigned long long)ino, why) &&
			    nd < sizeof(drop) / sizeof(drop[0]))
				drop[nd++] = pos;
		}
		uint64_t next = le64toh(h->xh_next);
		if (nd && nd == le32toh(h->xh_count)) {
			/* emptied: unlinked; its block is a leak for pass 8 */
			unclaim(c, b, 1, ino);
			xattr_relink(c, ino, prev, next);
		} else {
			if (nd)
				xattr_drop_entries(c, p, drop, nd);
			prev = p;
		}
		b = next;
	}
}

/* Forget what @ino claimed (DRAM only: -n, where its bits stay as they are). */
static void release_blocks_dram(struct ctx *c, uint64_t ino)
{
	uint64_t left = c->nblocks[ino];

	for (uint64_t b = c->data_start; b < c->blocks && left; b++)
		if (c->owner[b] == ino) {
			c->owner[b] = OWN_FREE;
			left--;
		}
	c->nblocks[ino] = 0;
}

/* Give back every block @ino owns, in the owner map and the bitmap. */
static void release_blocks(struct ctx *c, uint64_t ino)
{
	uint64_t left = c->nblocks[ino];

	for (uint64_t b = c->data_start; b < c->blocks && left; b++)
		if (c->owner[b] == ino) {
			c->owner[b] = OWN_FREE;
			bit_set(c, c->bb_off, b, false);
			left--;
		}
	c->nblocks[ino] = 0;
}

static uint64_t page_block(struct ctx *c, uint64_t ino, uint64_t p);

/* A symlink's target is inline (validated with the inode) or the first
 * bytes of its page 0, shorter than a block. */
static void check_symlink(struct ctx *c, uint64_t ino)
{
	struct pgdax_inode *in = slot(c, ino);
	uint64_t size = le64toh(in->i_size);

	if (!S_ISLNK(le32toh(in->i_mode)) || (le32toh(in->i_flags) & PGDAX_IFL_INLINE))
		return;
	if (size > 0 && size < c->bs && page_block(c, ino, 0))
		return;
	c->istate[ino] = I_CLEARED;
	if (problem(c, false, "inode", off_of(c, in),
		    "inode cleared|clear the inode",
		    "symlink %llu: target of %llu bytes is not stored",
		    (unsigned long long)ino, (unsigned long long)size)) {
		release_blocks(c, ino);
		inode_clear(c, ino);
	} else {
		release_blocks_dram(c, ino);
	}
}

static int add_ext(struct ctx *c, const struct ext_rec *e);

/*
 * A new, empty root directory: one extent block and one directory block
 * taken from blocks nobody owns, so lost trees can be reconnected into it.
 */
static int fix_root(struct ctx *c)
{
	uint64_t b[2] = { 0, 0 }, nb = 0;
	struct pgdax_inode r;
	struct ext_rec e;
	uint8_t *eb, *db;

	if (!c->root_why[0])
		return 0;
	if (!problem(c, false, "inode table", c->it_off + PGDAX_INODE_SIZE,
		     "empty root recreated|recreate an empty root",
		     "root inode: %s", c->root_why) && c->repair)
		return 0;
	for (uint64_t k = c->data_start; k < c->blocks && nb < 2; k++)	/* backup: META */
		if (c->owner[k] == OWN_FREE)
			b[nb++] = k;
	if (nb < 2)
		return 0;	/* a full volume: left for a later run */
	eb = blk(c, b[0]);
	db = blk(c, b[1]);
	{
		uint8_t *z = calloc(1, c->bs);
		struct pgdax_extent_blk h = { 0 };
		struct pgdax_extent x;
		struct pgdax_dirent d;

		if (!z)
			return -ENOMEM;
		wr(c, eb, z, c->bs);
		wr(c, db, z, c->bs);
		free(z);
		h.eb_magic = htole32(PGDAX_EB_MAGIC);
		h.eb_ino = htole64(1);
		wr(c, eb, &h, sizeof(h));
		x.x_fpage = 0;
		x.x_dblk_order = htole64((b[1] << PGDAX_X_DBLK_SHIFT) | PGDAX_X_VALID);
		wr(c, eb + sizeof(h), &x, sizeof(x));
		memset(&d, 0, sizeof(d));
		d.d_rec_len = htole16((uint16_t)(c->bs > 65535 ? 65528 : c->bs));
		wr(c, db, &d, sizeof(d));
	}
	memset(&r, 0, sizeof(r));
	r.i_mode = htole32(S_IFDIR | 0755);
	r.i_nlink = htole32(2);
	r.i_ino = htole64(1);
	r.i_parent = htole64(1);
	r.i_extent_head = htole64(b[0]);
	r.i_blocks = htole64(2);
	r.i_size = htole64(c->bs);
	inode_put(c, 1, &r);
	c->owner[b[0]] = 1;
	c->owner[b[1]] = 1;
	c->nblocks[1] = 2;
	c->ext_start[1] = c->next;
	e.fpage = 0;
	e.dblk = b[1];
	e.order = 0;
	e.rec_off = b[0] * c->bs + sizeof(struct pgdax_extent_blk);
	if (add_ext(c, &e))
		return -ENOMEM;
	c->ext_count[1] = 1;
	c->istate[1] = I_USED;
	return 0;
}

static int pass_blocks(struct ctx *c)
{
	for (uint64_t b = 0; b < c->blocks; b++)
		if (b < c->data_start || b == pgdax_sb_backup_blk(&c->sb))
			c->owner[b] = OWN_META;
		else if (c->o->is_bad && bit_get(c, c->bb_off, b) &&
			 c->o->is_bad(c->o->is_bad_arg, b * c->bs, c->bs))
			c->owner[b] = OWN_META;
	for (uint64_t i = 1; i < c->ninodes; i++) {
		progress(c, "Pass 2: extents", i, c->ninodes - 1);
		if ((i & 255) == 0 && cancelled(c))
			return 0;
		if (c->istate[i] != I_USED)
			continue;
		if (check_extents(c, i))
			return -ENOMEM;
		check_xattr(c, i);
		check_symlink(c, i);
	}
	return fix_root(c);
}

/* ------------------------------------------------------------ 5. directories */

static int add_dent(struct ctx *c, const struct dent *d)
{
	if (c->ndent == c->capdent) {
		uint64_t nc = c->capdent ? c->capdent * 2 : 1024;
		void *p = realloc(c->dents, nc * sizeof(*c->dents));

		if (!p)
			return -ENOMEM;
		c->dents = p;
		c->capdent = nc;
	}
	c->dents[c->ndent++] = *d;
	return 0;
}

/* Turn the record at @d into a tombstone. */
static void tombstone(struct ctx *c, struct pgdax_dirent *d)
{
	wr64(c, &d->d_ino, 0);
}

/* The device block holding file page @p of inode @ino, or 0. */
static uint64_t page_block(struct ctx *c, uint64_t ino, uint64_t p)
{
	struct ext_rec *v = c->exts + c->ext_start[ino];
	uint64_t lo = 0, hi = c->ext_count[ino];

	while (lo < hi) {
		uint64_t mid = (lo + hi) / 2;

		if (v[mid].fpage + (1ull << v[mid].order) <= p)
			lo = mid + 1;
		else if (v[mid].fpage > p)
			hi = mid;
		else
			return v[mid].dblk + (p - v[mid].fpage);
	}
	return 0;
}

static int cmp_dent_hash(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Records tile a directory block: the record at @pos is bad, so the block
 * ends at the last good record (@prev, UINT32_MAX for none). A fresh empty
 * record takes [pos, bs) when it fits there; a tail too short for one (a
 * record length leaving fewer than PGDAX_DIRENT_MIN bytes) is given to the
 * previous record instead, so the block still tiles exactly.
 */
static void empty_tail(struct ctx *c, uint8_t *db, uint32_t prev, uint32_t pos)
{
	if (pos <= c->bs - PGDAX_DIRENT_MIN && pos % 8 == 0) {
		struct pgdax_dirent n;

		memset(&n, 0, sizeof(n));
		n.d_rec_len = htole16((uint16_t)(c->bs - pos));
		wr(c, db + pos, &n, sizeof(n));
	} else if (prev != UINT32_MAX) {
		pgdax_le16 l = htole16((uint16_t)(c->bs - prev));

		if (c->bs - prev > 65535)
			return;

		wr(c, &((struct pgdax_dirent *)(db + prev))->d_rec_len, &l, sizeof(l));
	}
}

static int check_dir(struct ctx *c, uint64_t dir)
{
	struct pgdax_inode *in = slot(c, dir);
	uint64_t size = le64toh(in->i_size), npages = 0, first = c->ndent;
	char why[200];

	/* a directory is its mapped pages [0, n): i_size = n * bs; except an
	 * unlinked one on the orphan list: its reclaim frees its blocks before
	 * its slot (lib/vol/inode.c), so a crash in between leaves fewer
	 * blocks than its size says, and it is freed whole anyway */
	bool orphan = le32toh(in->i_nlink) == 0 && (le32toh(in->i_flags) & PGDAX_IFL_ORPHAN);

	while (npages < c->blocks && page_block(c, dir, npages))
		npages++;
	if (size != npages * c->bs && !orphan) {
		if (problem(c, true, "inode", off_of(c, in),
			    "size set to the mapped bytes|set the size to the mapped bytes",
			    "directory %llu: size %llu but %llu blocks (%llu bytes) mapped from "
			    "page 0", (unsigned long long)dir, (unsigned long long)size,
			    (unsigned long long)npages, (unsigned long long)(npages * c->bs)))
			wr64(c, &in->i_size, npages * c->bs);
	}
	for (uint64_t p = 0; p < npages; p++) {
		uint64_t b = page_block(c, dir, p);
		uint8_t *db = blk(c, b);
		uint32_t pos = 0, prev = UINT32_MAX;

		for (unsigned guard = 0; pos < c->bs && guard < c->bs / 8; guard++) {
			struct pgdax_dirent *d = (void *)(db + pos);
			uint64_t t;
			struct dent de;

			if (pgdax_dirent_validate(db, c->bs, pos, why, sizeof(why))) {
				if (problem(c, false, "directory record", b * c->bs + pos,
					    "rest of the block emptied|empty the rest of the block",
					    "directory %llu: %s", (unsigned long long)dir, why))
					empty_tail(c, db, prev, pos);
				break;
			}
			prev = pos;
			pos += le16toh(d->d_rec_len);
			t = le64toh(d->d_ino);
			if (t == 0)
				continue;
			if (t >= c->ninodes || t == 1 || c->istate[t] != I_USED) {
				if (problem(c, false, "directory record", off_of(c, d),
					    "entry removed|remove the entry",
					    "directory %llu: entry '%.*s' points to %s inode %llu", (unsigned long long)dir, d->d_name_len,
					    d->d_name, t >= c->ninodes || t == 1 ? "an invalid" :
					    c->istate[t] == I_CLEARED ? "a cleared" : "a free",
					    (unsigned long long)t))
					tombstone(c, d);
				continue;
			}
			if (d->d_type != (le32toh(slot(c, t)->i_mode) & S_IFMT) >> 12) {
				if (problem(c, true, "directory record", off_of(c, d),
					    "type fixed|fix the type",
					    "directory %llu: entry '%.*s' has type %u, inode %llu is %u",
					    (unsigned long long)dir, d->d_name_len, d->d_name, d->d_type,
					    (unsigned long long)t,
					    (le32toh(slot(c, t)->i_mode) & S_IFMT) >> 12)) {
					uint8_t ty = (uint8_t)((le32toh(slot(c, t)->i_mode) & S_IFMT) >> 12);
					wr(c, &d->d_type, &ty, 1);
				}
			}
			de.dir = dir;
			de.ino = t;
			de.off = off_of(c, d);
			de.hash = le32toh(d->d_hash);
			if (add_dent(c, &de))
				return -ENOMEM;
		}
	}
	/* duplicate names: sort this directory's entries by hash, compare names */
	if (c->ndent - first > 1) {
		struct dent *v = c->dents + first;
		uint64_t n = c->ndent - first, w = 0;

		qsort(v, n, sizeof(*v), cmp_dent_hash);
		for (uint64_t k = 0; k < n; k++) {
			bool dup = false;
			const struct pgdax_dirent *dk = (const void *)(c->base + v[k].off);

			for (uint64_t j = w; j-- > 0 && v[j].hash == v[k].hash;) {
				const struct pgdax_dirent *dj = (const void *)(c->base + v[j].off);

				if (dj->d_name_len == dk->d_name_len &&
				    !memcmp(dj->d_name, dk->d_name, dk->d_name_len)) {
					dup = true;
					break;
				}
			}
			if (dup) {
				if (problem(c, false, "directory record", v[k].off,
					    "entry removed|remove the entry",
					    "directory %llu: duplicate name '%.*s'",
					    (unsigned long long)dir, dk->d_name_len, dk->d_name))
					tombstone(c, (struct pgdax_dirent *)(c->base + v[k].off));
				continue;
			}
			v[w++] = v[k];
		}
		c->ndent = first + w;
	}
	return 0;
}

static int pass_dirs(struct ctx *c)
{
	for (uint64_t i = 1; i < c->ninodes; i++) {
		progress(c, "Pass 3: directories", i, c->ninodes - 1);
		if ((i & 255) == 0 && cancelled(c))
			return 0;
		if (c->istate[i] == I_USED && S_ISDIR(le32toh(slot(c, i)->i_mode)))
			if (check_dir(c, i))
				return -ENOMEM;
	}
	/* a directory has one name: keep the first, remove the others */
	for (uint64_t k = 0; k < c->ndent; k++) {
		struct dent *d = &c->dents[k];

		if (!S_ISDIR(le32toh(slot(c, d->ino)->i_mode)))
			continue;
		if (c->dparent[d->ino] == 0 && d->ino != d->dir) {
			c->dparent[d->ino] = d->dir;
			continue;
		}
		if (problem(c, false, "directory record", d->off,
			    "entry removed|remove the entry",
			    "directory %llu: second name of directory %llu",
			    (unsigned long long)d->dir, (unsigned long long)d->ino))
			tombstone(c, (struct pgdax_dirent *)(c->base + d->off));
		d->ino = 0;	/* not counted */
	}
	return 0;
}

/* ------------------------------------------------------------ 6. connectivity */

static bool reachable(struct ctx *c, uint64_t d)
{
	uint64_t x = d, steps;
	uint8_t res;

	/* walk up, marking the path, until the root, a known answer, a node of
	 * this walk (a loop) or a dead end; then mark the path with the answer */
	for (steps = 0;; steps++) {
		if (x == 1) {
			res = 1;
			break;
		}
		if (c->reach[x] == 1 || c->reach[x] == 2) {
			res = c->reach[x];
			break;
		}
		if (c->reach[x] == 3 || steps > c->ninodes || c->dparent[x] == 0 ||
		    c->istate[x] != I_USED) {
			res = 2;
			break;
		}
		c->reach[x] = 3;
		x = c->dparent[x];
	}
	for (x = d, steps = 0; x != 1 && c->reach[x] == 3 && steps <= c->ninodes; steps++) {
		c->reach[x] = res;
		x = c->dparent[x];
	}
	return res == 1;
}

static void reclaim(struct ctx *c, uint64_t ino)
{
	release_blocks(c, ino);
	inode_clear(c, ino);
	c->istate[ino] = I_CLEARED;
}

static bool is_orphan(struct ctx *c, uint64_t i)
{
	const struct pgdax_inode *in = slot(c, i);

	return (le32toh(in->i_flags) & PGDAX_IFL_ORPHAN) && le32toh(in->i_nlink) == 0;
}

/* Zero [off, off + len) of the image (file data: no checks beyond wr's). */
static void zero_range(struct ctx *c, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536];

	while (len) {
		size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);

		wr(c, c->base + off, zero, n);
		off += n;
		len -= n;
	}
}

/*
 * Finish the truncate of regular file @ino (PGDAX_IFL_TRIM), as the mount
 * would: free every extent from the first page past EOF on (record,
 * owner map, bitmap), zero the bytes past EOF of an extent crossing it
 * (the mount splits it instead; either way no old byte stays past EOF),
 * lower i_blocks by what was freed, and take the inode off the orphan
 * list (the caller empties the list head).
 */
static void finish_trim(struct ctx *c, uint64_t ino)
{
	struct pgdax_inode *in = slot(c, ino), n;
	uint64_t size = le64toh(in->i_size), bs = c->bs;
	uint64_t first = (size + bs - 1) / bs, freed = 0;
	struct ext_rec *v = c->exts + c->ext_start[ino];
	uint64_t cnt = c->ext_count[ino], keep = cnt;

	for (uint64_t k = 0; k < cnt; k++) {	/* sorted by fpage (pass 2) */
		struct ext_rec *e = &v[k];
		uint64_t np = 1ull << e->order;

		if (e->fpage >= first) {
			if (keep == cnt)
				keep = k;
			zero_record(c, e->rec_off);
			unclaim(c, e->dblk, np, ino);
			for (uint64_t b = e->dblk; b < e->dblk + np; b++)
				bit_set(c, c->bb_off, b, false);
			freed += np;
		} else if (e->fpage + np > first || (e->fpage + np) * bs > size) {
			uint64_t from = size - e->fpage * bs;	/* bytes into the extent */

			if (from < np * bs)
				zero_range(c, e->dblk * bs + from, np * bs - from);
		}
	}
	c->ext_count[ino] = (uint32_t)keep;
	n = *in;	/* after zero_record: inline records live in the slot */
	n.i_flags = htole32(le32toh(n.i_flags) & ~(PGDAX_IFL_TRIM | PGDAX_IFL_ORPHAN));
	n.i_orphan_next = 0;
	n.i_blocks = htole64(le64toh(n.i_blocks) - freed);	/* pass 5 checks the rest */
	inode_put(c, ino, &n);
	c->r->trims_finished++;
}

/* A named inode with PGDAX_IFL_TRIM: a pending truncate (see finish_trim). */
static void pending_trim(struct ctx *c, uint64_t ino)
{
	struct pgdax_inode *in = slot(c, ino);
	bool listed = (le32toh(in->i_flags) & PGDAX_IFL_ORPHAN) && c->on_orphan_list[ino] == 1;

	if (!S_ISREG(le32toh(in->i_mode))) {
		if (problem(c, true, "inode", off_of(c, in), "unmarked|unmark it",
			    "inode %llu: not a regular file but marked truncate-pending", (unsigned long long)ino)) {
			struct pgdax_inode n = *in;

			n.i_flags = htole32(le32toh(n.i_flags) &
					    ~(PGDAX_IFL_TRIM | PGDAX_IFL_ORPHAN));
			n.i_orphan_next = 0;
			inode_put(c, ino, &n);
		}
		return;
	}
	c->r->trims_pending++;
	if (!listed) {
		if (problem(c, true, "inode", off_of(c, in), "truncate finished|finish the truncate",
			    "inode %llu: truncate pending but not on the orphan list", (unsigned long long)ino))
			finish_trim(c, ino);
		return;
	}
	if (c->repair)
		finish_trim(c, ino);
	else
		say(c, "inode %llu: truncate to %llu bytes pending (blocks past EOF not all "
		    "freed yet); finished at mount or by fsck -y\n", (unsigned long long)ino,
		    (unsigned long long)le64toh(in->i_size));
}

/*
 * Give the lost inode @ino the name "#<ino>" in the root directory, in a
 * free record or the slack of a live one (no allocation: fsck never grows a
 * directory). Under -n nothing is written, but the passes below count the
 * name, so one lost subtree is reported once. false: no room in the root.
 */
static bool root_add(struct ctx *c, uint64_t ino)
{
	struct pgdax_inode *root = slot(c, 1);
	uint64_t npages = le64toh(root->i_size) / c->bs;
	char name[32];
	unsigned len = (unsigned)snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	uint32_t need = pgdax_dirent_size(len);
	uint8_t type = (uint8_t)((le32toh(slot(c, ino)->i_mode) & S_IFMT) >> 12);
	struct dent de = { .dir = 1, .ino = ino, .hash = pgdax_name_hash(name, len) };

	if (c->istate[1] != I_USED || !S_ISDIR(le32toh(root->i_mode)))
		return false;
	for (uint64_t p = 0; p < npages && p < c->blocks; p++) {
		uint64_t b = page_block(c, 1, p);
		uint8_t *db;
		uint32_t pos = 0;

		if (!b)
			break;
		db = blk(c, b);
		for (unsigned guard = 0; pos < c->bs && guard < c->bs / 8; guard++) {
			struct pgdax_dirent *d = (void *)(db + pos);
			uint32_t rl = le16toh(d->d_rec_len), used, at;
			uint8_t rec[PGDAX_DIRENT_MIN + 32];
			struct pgdax_dirent *n = (void *)rec;

			if (pgdax_dirent_validate(db, c->bs, pos, NULL, 0))
				break;
			used = le64toh(d->d_ino) ? pgdax_dirent_size(d->d_name_len) : 0;
			if (rl - used < need) {
				pos += rl;
				continue;
			}
			at = pos + used;
			memset(rec, 0, sizeof(rec));
			n->d_ino = htole64(ino);
			n->d_rec_len = htole16((uint16_t)(rl - used));
			n->d_name_len = (uint8_t)len;
			n->d_type = type;
			n->d_hash = htole32(de.hash);
			memcpy(n->d_name, name, len);
			/* new record first, then shrink the old one onto it */
			wr(c, db + at, rec, need);
			if (used) {
				uint16_t l = htole16((uint16_t)used);

				wr(c, &d->d_rec_len, &l, sizeof(l));
			}
			de.off = b * c->bs + at;
			return add_dent(c, &de) == 0;
		}
	}
	return false;
}

static void pass_connect(struct ctx *c)
{
	uint64_t head = le64toh(c->sb.s_orphan_head), x, steps = 0;
	struct pgdax_sb *psb = (struct pgdax_sb *)c->base;
	pgdax_le64 *link = &psb->s_orphan_head;
	uint64_t orphans = 0, reconnected = 0;

	c->reach[1] = 1;
	for (uint64_t i = 2; i < c->ninodes; i++)
		if (c->istate[i] == I_USED && S_ISDIR(le32toh(slot(c, i)->i_mode)))
			reachable(c, i);
	/* lost directory trees (their parent was cleared): reconnect the tops */
	for (uint64_t i = 2; i < c->ninodes; i++) {
		struct pgdax_inode *in = slot(c, i);

		if (c->istate[i] != I_USED || !S_ISDIR(le32toh(in->i_mode)) || c->reach[i] == 1 ||
		    c->dparent[i] || is_orphan(c, i))
			continue;
		if (problem(c, false, "inode", off_of(c, in), "reconnected as /#<inode>|reconnect it as /#<inode>",
			    "directory %llu is unreachable from the root (/#%llu)", (unsigned long long)i,
			    (unsigned long long)i) || !c->repair) {
			if (root_add(c, i)) {
				c->dparent[i] = 1;
				reconnected++;
			}
		}
	}
	if (reconnected) {
		for (uint64_t i = 2; i < c->ninodes; i++)
			if (c->reach[i] != 1)
				c->reach[i] = 0;
		for (uint64_t i = 2; i < c->ninodes; i++)
			if (c->istate[i] == I_USED && S_ISDIR(le32toh(slot(c, i)->i_mode)))
				reachable(c, i);
	}
	for (uint64_t k = 0; k < c->ndent; k++) {
		struct dent *d = &c->dents[k];

		if (!d->ino || c->reach[d->dir] != 1)
			continue;
		if (c->nref[d->ino] < UINT32_MAX)
			c->nref[d->ino]++;
		if (S_ISDIR(le32toh(slot(c, d->ino)->i_mode)))
			c->nsubdir[d->dir]++;
	}
	/* lost files (not orphans): reconnect */
	for (uint64_t i = 2; i < c->ninodes; i++) {
		struct pgdax_inode *in = slot(c, i);

		if (c->istate[i] != I_USED || S_ISDIR(le32toh(in->i_mode)) || c->nref[i] ||
		    is_orphan(c, i))
			continue;
		if (problem(c, false, "inode", off_of(c, in), "reconnected as /#<inode>|reconnect it as /#<inode>",
			    "inode %llu (nlink %u) is unreachable from the root (/#%llu)",
			    (unsigned long long)i, le32toh(in->i_nlink), (unsigned long long)i) ||
		    !c->repair) {
			if (root_add(c, i))
				c->nref[i] = 1;
		}
	}
	/* orphan list: bounded, cycle-safe */
	x = head;
	while (x) {
		struct pgdax_inode *in;

		if (x >= c->ninodes || c->istate[x] != I_USED || c->on_orphan_list[x] ||
		    ++steps > c->ninodes) {
			if (problem(c, false, "orphan list", off_of(c, link),
				    "list cut|cut the list", "link to %s inode %llu",
				    x >= c->ninodes ? "an invalid" :
				    c->on_orphan_list[x] ? "an already listed (loop)" : "a free",
				    (unsigned long long)x))
				wr64(c, link, 0);
			break;
		}
		in = slot(c, x);
		c->on_orphan_list[x] = 1;
		link = &in->i_orphan_next;
		x = le64toh(in->i_orphan_next);
	}
	for (uint64_t i = 2; i < c->ninodes; i++) {
		struct pgdax_inode *in = slot(c, i);
		bool isdir, flagged;

		if ((i & 1023) == 0 && cancelled(c))
			return;
		if (c->istate[i] != I_USED)
			continue;
		isdir = S_ISDIR(le32toh(in->i_mode));
		flagged = le32toh(in->i_flags) & PGDAX_IFL_ORPHAN;
		if (isdir ? c->reach[i] == 1 : c->nref[i] > 0) {
			if (le32toh(in->i_flags) & PGDAX_IFL_TRIM) {
				pending_trim(c, i);
				c->on_orphan_list[i] = 2;
				continue;
			}
			if (flagged || c->on_orphan_list[i]) {
				if (problem(c, true, "inode", off_of(c, in),
					    "unmarked|unmark it",
					    "inode %llu: has a name but is marked orphan",
					    (unsigned long long)i)) {
					struct pgdax_inode n = *in;

					n.i_flags = htole32(le32toh(n.i_flags) & ~PGDAX_IFL_ORPHAN);
					n.i_orphan_next = 0;
					inode_put(c, i, &n);
				}
				c->on_orphan_list[i] = 2;	/* rebuild the list below */
			}
			continue;
		}
		/* no name: an orphan to reclaim, or lost */
		if (flagged && c->on_orphan_list[i] && le32toh(in->i_nlink) == 0) {
			orphans++;
			if (c->repair) {
				reclaim(c, i);
				c->r->orphans_reclaimed++;
			} else {
				c->istate[i] = I_ORPHAN;
			}
			continue;
		}
		if (flagged && le32toh(in->i_nlink) == 0) {
			if (problem(c, true, "inode", off_of(c, in),
				    "reclaimed|reclaim it",
				    "inode %llu: orphan not on the orphan list",
				    (unsigned long long)i))
				reclaim(c, i);
			continue;
		}
		if (problem(c, false, "inode", off_of(c, in),
			    "freed|free it",
			    "inode %llu (%s, nlink %u): unreachable from the root and no room "
			    "in / to reconnect it",
			    (unsigned long long)i, isdir ? "directory" : "file",
			    le32toh(in->i_nlink)))
			reclaim(c, i);
	}
	if (orphans && !c->repair)
		say(c, "orphan list: %llu unlinked inodes will be reclaimed at mount or by "
		    "fsck -y\n", (unsigned long long)orphans);
	/* every orphan is reclaimed or unmarked now: the list is empty */
	if (c->repair && (head || le64toh(psb->s_orphan_head))) {
		wr64(c, &psb->s_orphan_head, 0);
		c->sb.s_orphan_head = 0;
	}
}

/* ------------------------------------------------------------ 7. counts */

static void pass_counts(struct ctx *c)
{
	for (uint64_t i = 1; i < c->ninodes; i++) {
		struct pgdax_inode *in = slot(c, i), n;
		uint32_t mode, want;
		bool dirty = false;

		if (c->istate[i] != I_USED)
			continue;
		n = *in;
		mode = le32toh(in->i_mode);
		if (S_ISDIR(mode))
			want = 2 + c->nsubdir[i];
		else
			want = c->nref[i];
		if (le32toh(in->i_nlink) != want &&
		    problem(c, true, "inode", off_of(c, in), "link count set|set the link count",
			    "inode %llu: link count %u, should "
			    "be %u", (unsigned long long)i, le32toh(in->i_nlink), want)) {
			n.i_nlink = htole32(want);
			dirty = true;
		}
		if (S_ISDIR(mode)) {
			uint64_t p = i == 1 ? 1 : c->dparent[i];

			if (p && le64toh(in->i_parent) != p &&
			    problem(c, true, "inode", off_of(c, in), "parent set|set the parent",
				    "directory %llu: parent %llu, "
				    "should be %llu", (unsigned long long)i,
				    (unsigned long long)le64toh(in->i_parent), (unsigned long long)p)) {
				n.i_parent = htole64(p);
				dirty = true;
			}
		}
		if (le64toh(in->i_blocks) != c->nblocks[i] &&
		    problem(c, true, "inode", off_of(c, in), "i_blocks set|set i_blocks",
			    "inode %llu: i_blocks %llu, owns "
			    "%llu", (unsigned long long)i, (unsigned long long)le64toh(in->i_blocks),
			    (unsigned long long)c->nblocks[i])) {
			n.i_blocks = htole64(c->nblocks[i]);
			dirty = true;
		}
		if (dirty)
			inode_put(c, i, &n);
		c->r->blocks_used += c->nblocks[i];
	}
}

/* ------------------------------------------------------------ 8. bitmaps */

static void report_run(struct ctx *c, const char *map, uint64_t map_off, uint64_t a,
		       uint64_t b, bool used, const char *unit)
{
	if (problem(c, true, map, map_off + a / 8, used ? "marked used|mark them used" :
		    "marked free|mark them free", "%ss [%llu, %llu) %s",
		    unit, (unsigned long long)a, (unsigned long long)b,
		    used ? "marked free but in use" : "marked used but owned by nothing (leak)"))
		for (uint64_t k = a; k < b; k++)
			bit_set(c, map_off, k, used);
}

static void pass_bitmaps(struct ctx *c)
{
	uint64_t bits = le64toh(c->sb.s_bbitmap_blocks) * c->bs * 8;
	uint64_t run = 0;
	int state = -1;	/* -1 none, 0 leak run, 1 missing run */

	for (uint64_t b = 0; b <= c->blocks; b++) {
		int s = -1;

		if (b < c->blocks) {
			bool want = c->owner[b] != OWN_FREE, have = bit_get(c, c->bb_off, b);

			if (want != have)
				s = want;
		}
		if (s != state) {
			if (state >= 0)
				report_run(c, "block bitmap", c->bb_off, run, b, state, "block");
			state = s;
			run = b;
		}
	}
	/* bits past the last block are 1 */
	for (uint64_t b = c->blocks; b < bits; b++)
		if (!bit_get(c, c->bb_off, b)) {
			if (problem(c, true, "block bitmap", c->bb_off + b / 8,
				    "set|set them", "bits past the last block are not set"))
				for (uint64_t k = b; k < bits; k++)
					bit_set(c, c->bb_off, k, true);
			break;
		}
	if (!bit_get(c, c->ib_off, 0) &&
	    problem(c, true, "inode bitmap", c->ib_off, "marked used|mark it used",
		    "reserved inode 0 marked free"))
		bit_set(c, c->ib_off, 0, true);
	state = -1;
	for (uint64_t i = 1; i <= c->ninodes; i++) {
		int s = -1;

		if (i < c->ninodes) {
			bool want = c->istate[i] == I_USED || c->istate[i] == I_ORPHAN;
			bool have = bit_get(c, c->ib_off, i);

			if (want != have)
				s = want;
		}
		if (s != state) {
			if (state >= 0)
				report_run(c, "inode bitmap", c->ib_off, run, i, state, "inode");
			state = s;
			run = i;
		}
	}
}

/* ------------------------------------------------------------ driver */

static void free_ctx(struct ctx *c)
{
	free(c->owner);
	free(c->istate);
	free(c->on_orphan_list);
	free(c->nref);
	free(c->nsubdir);
	free(c->dparent);
	free(c->reach);
	free(c->ext_start);
	free(c->ext_count);
	free(c->nblocks);
	free(c->exts);
	free(c->dents);
}

static int alloc_ctx(struct ctx *c)
{
	uint64_t need = c->blocks * 4 + c->ninodes * (1 + 1 + 4 + 4 + 8 + 1 + 8 + 4 + 8);

	if (need > MEM_CAP)
		return -ENOMEM;
	c->owner = calloc(c->blocks, sizeof(*c->owner));
	c->istate = calloc(c->ninodes, 1);
	c->on_orphan_list = calloc(c->ninodes, 1);
	c->nref = calloc(c->ninodes, sizeof(*c->nref));
	c->nsubdir = calloc(c->ninodes, sizeof(*c->nsubdir));
	c->dparent = calloc(c->ninodes, sizeof(*c->dparent));
	c->reach = calloc(c->ninodes, 1);
	c->ext_start = calloc(c->ninodes, sizeof(*c->ext_start));
	c->ext_count = calloc(c->ninodes, sizeof(*c->ext_count));
	c->nblocks = calloc(c->ninodes, sizeof(*c->nblocks));
	if (!c->owner || !c->istate || !c->on_orphan_list || !c->nref || !c->nsubdir ||
	    !c->dparent || !c->reach || !c->ext_start || !c->ext_count || !c->nblocks)
		return -ENOMEM;
	return 0;
}

/* The error state (format minor >= 2; an older image has none to keep):
 * set when problems are left, cleared by a run that leaves none. */
static void record_errors(struct ctx *c, bool left)
{
	struct pgdax_sb *sb = (struct pgdax_sb *)c->base;
	struct timespec ts;

	if (le16toh(c->sb.s_minor) < 2)
		return;
	if (!left) {
		if (sb->s_errors || sb->s_error_count || sb->s_first_error_time ||
		    sb->s_last_error_time || sb->s_last_error_ino) {
			wr64(c, &sb->s_last_error_ino, 0);
			wr64(c, &sb->s_last_error_time, 0);
			wr64(c, &sb->s_first_error_time, 0);
			wr64(c, &sb->s_error_count, 0);
			wr64(c, &sb->s_errors, 0);
			say(c, "pgdaxfs: error state cleared\n");
		}
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!sb->s_first_error_time)
		wr64(c, &sb->s_first_error_time, (uint64_t)ts.tv_sec);
	wr64(c, &sb->s_last_error_time, (uint64_t)ts.tv_sec);
	wr64(c, &sb->s_error_count, le64toh(sb->s_error_count) + 1);
	wr64(c, &sb->s_errors, le64toh(sb->s_errors) | PGDAX_ERR_FSCK);
	say(c, "pgdaxfs: problems left: the volume records its error state (mount refuses it "
	    "read-write until fsck.pgdaxfs -y leaves it clean)\n");
}

/*
 * One run over the image. @probe: -p's dry run (nothing written but the
 * journal rollback; *unsafe counts the problems only -y may fix).
 */
static int fsck_run(void *base, uint64_t size, const struct pgdax_fsck_opts *opts,
		    struct pgdax_fsck_result *res, FILE *out, bool probe, uint64_t *unsafe)
{
	struct ctx c;
	int rc = 0;
	bool dirty;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.base = base;
	c.size = size;
	c.o = opts;
	c.r = res;
	c.out = out;
	c.probe = probe;
	c.repair = (opts->flags & PGDAX_FSCK_REPAIR) && !probe;
	c.preen = opts->flags & PGDAX_FSCK_PREEN;
	c.scratch = opts->flags & PGDAX_FSCK_SCRATCH;
	c.quiet = opts->flags & PGDAX_FSCK_QUIET;
	c.verbose = opts->flags & PGDAX_FSCK_VERBOSE;
	if (size < 16 * PGDAX_MIN_BLOCK_SIZE) {
		say(&c, "image of %llu bytes is too small to hold a pgdaxfs\n",
		    (unsigned long long)size);
		res->fatal = true;
		return PGDAX_FSCK_EXIT_OPERROR;
	}
	rc = check_super(&c);
	if (rc)
		return rc;
	if (check_journal(&c)) {
		say(&c, "pgdaxfs: out of memory\n");
		return PGDAX_FSCK_EXIT_OPERROR;
	}
	/* a volume that records errors is checked like a dirty one */
	dirty = le64toh(c.sb.s_state) != PGDAX_STATE_CLEAN ||
		(le16toh(c.sb.s_minor) >= 2 && c.sb.s_errors);
	res->was_clean = !dirty && !res->journal_pending && res->problems == 0;
	if (res->was_clean && !(opts->flags & PGDAX_FSCK_FORCE)) {
		res->skipped = true;
		say(&c, "pgdaxfs: clean, not checked (use -f to force)\n");
		return 0;
	}
	if (alloc_ctx(&c)) {
		say(&c, "pgdaxfs: out of memory for %llu blocks / %llu inodes\n",
		    (unsigned long long)c.blocks, (unsigned long long)c.ninodes);
		free_ctx(&c);
		return PGDAX_FSCK_EXIT_OPERROR;
	}
	if (c.verbose)
		say(&c, "Pass 1: inodes (%llu slots)\n", (unsigned long long)c.ninodes);
	pass_inodes(&c);
	if (c.verbose && !res->cancelled)
		say(&c, "Pass 2: extent maps, xattr blocks\n");
	if (!res->cancelled && pass_blocks(&c))
		goto nomem;
	if (c.verbose && !res->cancelled)
		say(&c, "Pass 3: directories\n");
	if (!res->cancelled && pass_dirs(&c))
		goto nomem;
	if (c.verbose && !res->cancelled)
		say(&c, "Pass 4: connectivity, orphans\n");
	if (!res->cancelled)
		pass_connect(&c);
	if (c.verbose && !res->cancelled)
		say(&c, "Pass 5: link counts, sizes\n");
	if (!res->cancelled)
		pass_counts(&c);
	if (c.verbose && !res->cancelled)
		say(&c, "Pass 6: bitmaps\n");
	if (!res->cancelled)
		pass_bitmaps(&c);
	free_ctx(&c);
	*unsafe = c.unsafe;
	if (c.stopped)
		say(&c, "UNEXPECTED INCONSISTENCY; RUN fsck.pgdaxfs -y MANUALLY.\n");
	if (res->cancelled) {
		say(&c, "pgdaxfs: cancelled\n");
		return PGDAX_FSCK_EXIT_CANCELLED |
		       (res->problems > res->fixed ? PGDAX_FSCK_EXIT_UNCORRECTED : 0) |
		       (res->fixed ? PGDAX_FSCK_EXIT_CORRECTED : 0);
	}
	/* fully checked and everything fixed: the volume is clean; problems
	 * left (-p): not clean, so the next fsck checks it without -f */
	if (c.repair && !res->fatal) {
		uint64_t want = res->problems == res->fixed ? PGDAX_STATE_CLEAN : PGDAX_STATE_DIRTY;

		c.stopped = false;	/* the state is no repair: it says what is left */
		if (le64toh(((struct pgdax_sb *)c.base)->s_state) != want)
			wr64(&c, &((struct pgdax_sb *)c.base)->s_state, want);
		record_errors(&c, res->problems > res->fixed);
	}
	say(&c, "pgdaxfs: %llu problems found, %llu fixed; journal %s; %llu orphans "
	    "reclaimed; %llu of %llu pending truncates finished; %llu/%llu inodes (%llu dirs, "
	    "%llu files), %llu/%llu blocks used\n",
	    (unsigned long long)res->problems, (unsigned long long)res->fixed,
	    res->journal_replayed ? "rolled back" :
	    res->journal_pending ? "pending" : "clean",
	    (unsigned long long)res->orphans_reclaimed,
	    (unsigned long long)res->trims_finished, (unsigned long long)res->trims_pending,
	    (unsigned long long)res->inodes_used, (unsigned long long)res->inodes_total,
	    (unsigned long long)res->dirs, (unsigned long long)res->files,
	    (unsigned long long)res->blocks_used, (unsigned long long)res->blocks_total);
	rc = 0;
	if (res->fixed || res->journal_replayed || res->orphans_reclaimed || res->trims_finished)
		rc |= PGDAX_FSCK_EXIT_CORRECTED;
	if (res->problems > res->fixed)
		rc |= PGDAX_FSCK_EXIT_UNCORRECTED;
	return rc;
nomem:
	say(&c, "pgdaxfs: out of memory\n");
	free_ctx(&c);
	return PGDAX_FSCK_EXIT_OPERROR;
}

int pgdax_fsck_image(void *base, uint64_t size, const struct pgdax_fsck_opts *opts,
		     struct pgdax_fsck_result *res)
{
	FILE *out = opts->out ? opts->out : stdout, *m = NULL;
	bool preen = (opts->flags & PGDAX_FSCK_REPAIR) && (opts->flags & PGDAX_FSCK_PREEN);
	struct pgdax_fsck_result probe;
	uint64_t unsafe = 0;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (!preen)
		return fsck_run(base, size, opts, res, out, false, &unsafe);
	/* -p: a dry run first (its report kept aside); repair only when it met
	 * nothing that needs -y, so no fix is applied without those it depends on */
	if (!(opts->flags & PGDAX_FSCK_QUIET))
		m = open_memstream(&buf, &len);
	rc = fsck_run(base, size, opts, &probe, m ? m : out, true, &unsafe);
	if (m)
		fclose(m);
	if (!unsafe && !probe.fatal && !probe.cancelled && !probe.skipped) {
		free(buf);
		rc = fsck_run(base, size, opts, res, out, false, &unsafe);
		res->journal_pending |= probe.journal_pending;
		res->journal_replayed |= probe.journal_replayed;
		if (probe.journal_replayed && !(rc & PGDAX_FSCK_EXIT_OPERROR))
			rc |= PGDAX_FSCK_EXIT_CORRECTED;
		return rc;
	}
	if (buf)
		fwrite(buf, 1, len, out);
	free(buf);
	*res = probe;
	if (!unsafe)
		return rc;
	if (!(opts->flags & PGDAX_FSCK_QUIET))
		fprintf(out, "pgdaxfs: UNEXPECTED INCONSISTENCY: %llu problems need repairs -p does "
			"not make; nothing was changed for any of them. RUN fsck.pgdaxfs -y "
			"MANUALLY.\n", (unsigned long long)unsafe);
	{
		struct ctx c;

		memset(&c, 0, sizeof(c));
		c.base = base;
		c.size = size;
		c.o = opts;
		c.r = res;
		c.out = out;
		c.repair = true;
		c.quiet = opts->flags & PGDAX_FSCK_QUIET;
		memcpy(&c.sb, base, sizeof(c.sb));
		if (probe.problems && le64toh(c.sb.s_state) != PGDAX_STATE_DIRTY)
			wr64(&c, &((struct pgdax_sb *)base)->s_state, PGDAX_STATE_DIRTY);
		record_errors(&c, true);
	}
	return PGDAX_FSCK_EXIT_UNCORRECTED |
	       (probe.journal_replayed ? PGDAX_FSCK_EXIT_CORRECTED : 0);
}

/* ------------------------------------------------------------ device */

static void dev_persist(void *arg, const void *addr, size_t len)
{
	pgdax_dev_persist(arg, addr, len);
}

static int view_cow(void *arg, const void *addr, size_t len)
{
	return pgdax_dev_view_cow(arg, addr, len);
}

static bool dev_is_bad(void *arg, uint64_t off, uint64_t len)
{
	return pgdax_dev_range_is_bad(arg, off, len);
}

int pgdax_fsck_device(const char *device, uint64_t align_override,
		      const struct pgdax_fsck_opts *opts, struct pgdax_fsck_result *res)
{
	struct pgdax_fsck_opts o = *opts;
	bool repair = opts->flags & PGDAX_FSCK_REPAIR;
	struct pgdax_dev *dev = NULL;
	struct pgdax_dev_view *view = NULL;
	FILE *out = opts->out ? opts->out : stdout;
	uint64_t size;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = pgdax_dev_open(device, PGDAX_DEV_EXCL | (repair ? 0 : PGDAX_DEV_RDONLY),
			    align_override, &dev);
	if (rc) {
		/* the device layer has said why (a busy device: by which pid) */
		if (rc != -EBUSY)
			fprintf(stderr, "fsck.pgdaxfs: cannot open %s: %s\n", device,
				strerror(-rc));
		return PGDAX_FSCK_EXIT_OPERROR;
	}
	size = pgdax_dev_size(dev);
	o.is_bad = dev_is_bad;
	o.is_bad_arg = dev;
	if (repair) {
		o.persist = dev_persist;
		o.persist_arg = dev;
		rc = pgdax_fsck_image(pgdax_dev_base(dev), size, &o, res);
	} else {
		/* -n: a copy-on-write view lets the check see the volume as mount
		 * would (journal rolled back) without writing the device; the
		 * same on a devdax (which refuses MAP_PRIVATE) as on a file */
		rc = pgdax_dev_view_open(dev, &view);
		if (!rc) {
			o.flags |= PGDAX_FSCK_SCRATCH;
			o.cow = view_cow;
			o.cow_arg = view;
		} else {
			fprintf(out, "note: no scratch view of %s (%s); a pending journal "
				"transaction will be reported, not applied, for the check\n",
				device, strerror(-rc));
		}
		o.persist = NULL;
		rc = pgdax_fsck_image(view ? pgdax_dev_view_base(view) : pgdax_dev_base(dev),
				      size, &o, res);
		pgdax_dev_view_close(&view);
	}
	pgdax_dev_close(&dev);
	return rc;
}
