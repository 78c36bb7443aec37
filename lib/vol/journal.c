/* SPDX-License-Identifier: MIT */
/*
 * The undo journal: crash-consistent metadata updates (like libpmemobj's
 * tx_add_range). Format in lib/vol/format.h ("Undo journal").
 *
 * Why it is safe. A transaction t = j_seq + 1 changes metadata in place,
 * but only ranges whose old bytes are already durable in a valid record
 * tagged t. Until j_seq becomes t, recovery can put every changed range
 * back; once j_seq is t (one aligned 8-byte store, atomic on the device)
 * every change is durable and the records are dead. A record torn by a
 * crash fails its crc, and its range was never changed (step 1 below
 * completes before step 2 starts), so the walk may stop there.
 *
 * Order of persist barriers in one transaction:
 *   jtx_add (per range):  (1) write record header + old bytes into the
 *                         journal, persist them (one barrier);
 *                         (2) only then the caller stores into the range.
 *   jtx_commit:           (3) reseal inode crcs, flush every added/touched
 *                         range, drain (one barrier);
 *                         (4) j_seq = t, persist (one barrier).
 *   jtx_abort:            copy old bytes back, newest record first, flush,
 *                         drain; then (4) as for commit.
 *   recovery (mount):     as abort, from the records on the medium.
 * Blocks freed by a transaction reach the DRAM allocator only after (4),
 * so nothing can reuse them while a crash could still undo the free.
 *
 * Concurrency: one transaction at a time, serialised by j->lock (held from
 * jtx_begin to commit/abort). The transaction state lives in struct journal
 * and is only touched under that lock.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quarantine.h"
#include "vol_internal.h"

struct range {
	void *addr;
	size_t len;
};

struct jtx {
	struct pgdax_vol *vol;
	uint64_t seq;			/* this transaction */
	uint64_t pos;			/* next record, byte offset in the area */
	struct range *undo;		/* ranges saved */
	size_t nundo, capundo;
	uint64_t *recs;			/* record offsets (for abort) */
	size_t nrecs, caprecs;
	struct range *touch;		/* ranges persisted at commit */
	size_t ntouch, captouch;
	struct pgdax_inode **slots;	/* crc resealed at commit */
	size_t nslots, capslots;
	struct inode **notes;		/* DRAM state dropped on abort */
	size_t nnotes, capnotes;
	struct range *frees, *allocs;	/* (blk, n) as (addr=blk, len=n) */
	size_t nfrees, capfrees, nallocs, capallocs;
	int64_t ino_delta, orphan_delta;	/* counters applied at commit */
	bool failed;
};

struct journal {
	pthread_mutex_t lock;
	char *area;			/* journal area in the mapping */
	uint64_t area_bytes;
	struct pgdax_jhdr *hdr;
	struct jtx tx;
};

#define GROW(arr, n, cap) ({						\
	int _r = 0;							\
	if ((n) == (cap)) {						\
		size_t _nc = (cap) ? (cap) * 2 : 16;			\
		void *_p = realloc((arr), _nc * sizeof(*(arr)));	\
		if (!_p)						\
			_r = -ENOMEM;					\
		else {							\
			(arr) = _p;					\
			(cap) = _nc;					\
		}							\
	}								\
	_r;								\
})

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint32_t rec_crc(const struct pgdax_jrec *r, const void *data, size_t len)
{
	uint32_t c = pgdax_crc32c(0, r, offsetof(struct pgdax_jrec, r_crc));
	return pgdax_crc32c(c, data, len);
}

void journal_hdr_make(const struct pgdax_sb *sb, struct pgdax_jhdr *h)
{
	memset(h, 0, sizeof(*h));
	h->j_magic = htole64(PGDAX_JHDR_MAGIC);
	h->j_area_bytes = htole64(le64toh(sb->s_journal_blocks) * le32toh(sb->s_block_size));
	memcpy(h->j_uuid, sb->s_uuid, 16);
	h->j_crc = htole32(pgdax_struct_crc(h, offsetof(struct pgdax_jhdr, j_crc)));
}

int journal_format(struct pgdax_dev *dev, const struct pgdax_sb *sb)
{
	uint32_t bs = le32toh(sb->s_block_size);
	char *area = (char *)pgdax_dev_base(dev) + le64toh(sb->s_journal_start) * bs;
	struct pgdax_jhdr h;

	journal_hdr_make(sb, &h);
	h.j_seq = 0;
	/* A stale record of an earlier filesystem must not look like t = 1:
	 * clear the first record slot (the recovery walk starts there). */
	pgdax_dev_memset_persist(dev, area + PGDAX_JREC_START, 0, PGDAX_JREC_ALIGN);
	pgdax_dev_memcpy_persist(dev, area, &h, sizeof(h));
	return 0;
}

/*
 * Is @sb the volume's primary superblock, valid and CLEAN on the medium?
 * The only state in which a lagging journal header is accepted: pgdaxctl
 * tune runs on a clean volume only, writes the header first and never
 * touches the hot fields, so a cut tune leaves exactly that. A mount that
 * fell back to the backup (an interrupted mkfs over an older volume can
 * leave a valid old backup beside a new journal) does not qualify, nor
 * does one whose primary it has just repaired (marked dirty).
 */
static bool primary_clean(const char *base, uint64_t size, const struct pgdax_sb *sb)
{
	struct pgdax_sb p;

	memcpy(&p, base, sizeof(p));
	return pgdax_sb_validate(&p, size, NULL, 0) == 0 &&
	       !memcmp(&p, sb, offsetof(struct pgdax_sb, s_state)) &&
	       le64toh(p.s_state) == PGDAX_STATE_CLEAN;
}

/*
 * 0: the header is what @sb says it must be. -ESTALE: magic and size are
 * right but the uuid or the checksum is not, the state an interrupted uuid
 * change (lib/vol/tune.c) leaves: the caller decides (journal_recover).
 * -EUCLEAN (logged): bad magic or size, nothing in the area can be trusted.
 */
static int hdr_check(const struct pgdax_jhdr *h, const struct pgdax_sb *sb,
		     uint64_t area_bytes, uint64_t area_off)
{
	struct pgdax_jhdr want;

	if (le64toh(h->j_magic) != PGDAX_JHDR_MAGIC) {
		pgdax_err("journal header @%llu: bad magic", (unsigned long long)area_off);
		return -EUCLEAN;
	}
	if (le64toh(h->j_area_bytes) != area_bytes) {
		pgdax_err("journal header @%llu: does not match the superblock (size)",
			  (unsigned long long)area_off);
		return -EUCLEAN;
	}
	journal_hdr_make(sb, &want);
	if (memcmp(h, &want, offsetof(struct pgdax_jhdr, j_seq)))
		return -ESTALE;
	return 0;
}

/* Walk the records of transaction @t; returns their count, offsets in @offs
 * (allocated), validating each against the device bounds. */
static int walk_records(char *base, uint64_t size, char *area, uint64_t area_bytes,
			uint64_t area_off, uint64_t t, uint64_t **offs)
{
	uint64_t pos = PGDAX_JREC_START;
	size_t n = 0, cap = 0;
	uint64_t *v = NULL;

	(void)base;
	while (pos + sizeof(struct pgdax_jrec) <= area_bytes) {
		const struct pgdax_jrec *r = (const void *)(area + pos);
		if (le32toh(r->r_magic) != PGDAX_JREC_MAGIC || le64toh(r->r_seq) != t)
			break;
		uint64_t len = le32toh(r->r_len), off = le64toh(r->r_off);
		if (len == 0 || len > area_bytes - pos - sizeof(*r))
			break;
		if (rec_crc(r, r + 1, len) != le32toh(r->r_crc))
			break;	/* torn: its range was never changed */
		if (off > size || len > size - off ||
		    (off < area_off + area_bytes && off + len > area_off)) {
			pgdax_err("journal record @%llu: range [%llu, +%llu) outside the device "
				  "or inside the journal", (unsigned long long)(area_off + pos),
				  (unsigned long long)off, (unsigned long long)len);
			free(v);
			return -EUCLEAN;
		}
		if (GROW(v, n, cap)) {
			free(v);
			return -ENOMEM;
		}
		v[n++] = pos;
		pos += align_up(sizeof(*r) + len, PGDAX_JREC_ALIGN);
	}
	*offs = v;
	return (int)n;
}

static void undo_records(struct pgdax_dev *dev, char *base, char *area,
			 const uint64_t *offs, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		const struct pgdax_jrec *r = (const void *)(area + offs[i]);
		void *dst = base + le64toh(r->r_off);
		memcpy(dst, r + 1, le32toh(r->r_len));
		pgdax_dev_flush(dev, dst, le32toh(r->r_len));
	}
	pgdax_dev_drain(dev);
}

static void retire(struct pgdax_dev *dev, struct pgdax_jhdr *h, uint64_t t)
{
	__atomic_store_n(&h->j_seq, htole64(t), __ATOMIC_RELEASE);
	pgdax_dev_persist(dev, &h->j_seq, sizeof(h->j_seq));
}

int journal_recover(struct pgdax_dev *dev, char *base, uint64_t size,
		    const struct pgdax_sb *sb, bool rdonly)
{
	uint32_t bs = le32toh(sb->s_block_size);
	uint64_t area_off = le64toh(sb->s_journal_start) * bs;
	uint64_t area_bytes = le64toh(sb->s_journal_blocks) * bs;
	char *area = base + area_off;
	struct pgdax_jhdr *h = (void *)area;
	uint64_t *offs = NULL;
	int n, rc;

	rc = hdr_check(h, sb, area_bytes, area_off);
	if (rc && rc != -ESTALE)
		return rc;
	uint64_t t = le64toh(h->j_seq) + 1;
	n = walk_records(base, size, area, area_bytes, area_off, t, &offs);
	if (rc == -ESTALE && (n != 0 || !primary_clean(base, size, sb))) {
		/* records under a header of another uuid: a stale journal is
		 * never replayed; nor is the header trusted beside a superblock
		 * a cut tune cannot have left (fsck decides) */
		pgdax_err("journal header @%llu: uuid or checksum does not match the superblock%s: "
			  "run fsck.pgdaxfs", (unsigned long long)area_off,
			  n > 0 ? " and a transaction is pending" : "");
		free(offs);
		return n < 0 ? n : -EUCLEAN;
	}
	if (n <= 0) {
		free(offs);
		if (n == 0 && rc == -ESTALE && !rdonly) {
			/* Nothing to replay: the header only has to name this
			 * volume again (a uuid change was cut short after the
			 * superblock). j_seq, after the crc, is kept. */
			struct pgdax_jhdr want;

			journal_hdr_make(sb, &want);
			pgdax_dev_memcpy_persist(dev, h, &want, offsetof(struct pgdax_jhdr, j_seq));
			pgdax_notice("journal header @%llu: rewritten with the superblock's uuid "
				     "(an interrupted uuid change; no transaction was pending)",
				     (unsigned long long)area_off);
		}
		return n;
	}
	if (rdonly) {
		pgdax_err("journal @%llu: transaction %llu (%d ranges) needs to be rolled back; "
			  "mount read-write once or run fsck.pgdaxfs",
			  (unsigned long long)area_off, (unsigned long long)t, n);
		free(offs);
		return -EROFS;
	}
	undo_records(dev, base, area, offs, (size_t)n);
	retire(dev, h, t);
	pgdax_notice("rolled back uncommitted transaction %llu (%d ranges)",
		     (unsigned long long)t, n);
	free(offs);
	return n;
}

int journal_open(struct pgdax_vol *vol)
{
	struct journal *j = calloc(1, sizeof(*j));
	int rc;

	if (!j)
		return -ENOMEM;
	rc = journal_recover(vol->dev, vol->base, vol->dev_size, &vol->geo, vol->rdonly);
	if (rc < 0) {
		free(j);
		return rc;
	}
	pthread_mutex_init(&j->lock, NULL);
	j->area = vol->base + le64toh(vol->geo.s_journal_start) * vol->bs;
	j->area_bytes = le64toh(vol->geo.s_journal_blocks) * vol->bs;
	j->hdr = (void *)j->area;
	j->tx.vol = vol;
	vol->j = j;
	return 0;
}

void journal_close(struct pgdax_vol *vol)
{
	struct journal *j = vol->j;

	if (!j)
		return;
	free(j->tx.undo);
	free(j->tx.recs);
	free(j->tx.touch);
	free(j->tx.slots);
	free(j->tx.notes);
	free(j->tx.frees);
	free(j->tx.allocs);
	pthread_mutex_destroy(&j->lock);
	free(j);
	vol->j = NULL;
}

struct jtx *jtx_begin(struct pgdax_vol *vol)
{
	struct journal *j = vol->j;
	struct jtx *tx = &j->tx;

	pthread_mutex_lock(&j->lock);
	tx->seq = le64toh(j->hdr->j_seq) + 1;
	tx->pos = PGDAX_JREC_START;
	tx->nundo = tx->nrecs = tx->ntouch = tx->nslots = 0;
	tx->nnotes = tx->nfrees = tx->nallocs = 0;
	tx->ino_delta = tx->orphan_delta = 0;
	tx->failed = false;
	return tx;
}

struct pgdax_vol *jtx_vol(struct jtx *tx)
{
	return tx->vol;
}

uint64_t jtx_room(struct jtx *tx)
{
	return tx->vol->j->area_bytes - tx->pos;
}

static bool covered(struct jtx *tx, const char *a, size_t len)
{
	/* the last few ranges catch the common repeats (inode, bitmap word) */
	size_t lo = tx->nundo > 32 ? tx->nundo - 32 : 0;
	for (size_t i = tx->nundo; i-- > lo;) {
		const char *b = tx->undo[i].addr;
		if (a >= b && a + len <= b + tx->undo[i].len)
			return true;
	}
	return false;
}

int jtx_add(struct jtx *tx, void *addr, size_t len)
{
	struct pgdax_vol *vol = tx->vol;
	struct journal *j = vol->j;
	char *a = addr;

	if (len == 0)
		return 0;
	if (a < vol->base || (uint64_t)(a - vol->base) + len > vol->dev_size ||
	    len > UINT32_MAX)
		abort();	/* a bug, not a medium problem */
	if (covered(tx, a, len))
		return 0;
	uint64_t need = align_up(sizeof(struct pgdax_jrec) + len, PGDAX_JREC_ALIGN);
	if (need > j->area_bytes - tx->pos) {
		pgdax_warn("journal full (%llu bytes): transaction too large",
			   (unsigned long long)j->area_bytes);
		tx->failed = true;
		return -ENOSPC;
	}
	if (GROW(tx->undo, tx->nundo, tx->capundo) || GROW(tx->recs, tx->nrecs, tx->caprecs))
		return -ENOMEM;

	struct pgdax_jrec *r = (void *)(j->area + tx->pos);
	struct pgdax_jrec h = {
		.r_magic = htole32(PGDAX_JREC_MAGIC),
		.r_len = htole32((uint32_t)len),
		.r_seq = htole64(tx->seq),
		.r_off = htole64((uint64_t)(a - vol->base)),
	};
	memcpy(r + 1, a, len);
	h.r_crc = htole32(rec_crc(&h, r + 1, len));
	memcpy(r, &h, sizeof(h));
	/* barrier (1): the old bytes are durable before the caller stores */
	pgdax_dev_persist(vol->dev, r, sizeof(h) + len);

	tx->recs[tx->nrecs++] = tx->pos;
	tx->undo[tx->nundo++] = (struct range){ a, len };
	tx->pos += need;
	return 0;
}

int jtx_touch(struct jtx *tx, void *addr, size_t len)
{
	if (GROW(tx->touch, tx->ntouch, tx->captouch))
		return -ENOMEM;
	tx->touch[tx->ntouch++] = (struct range){ addr, len };
	return 0;
}

/*
 * Only the checksummed part of the slot, crc included: the hot fields after
 * it (i_size, times) are stored without the journal by whoever holds that
 * inode's lock, and a transaction may journal a slot whose lock it does not
 * hold (orphan_remove edits the previous orphan's i_orphan_next). Had the
 * undo record covered i_size, an abort or a recovery would put back the
 * size from before an acknowledged extending write of that other file. A
 * transaction that changes a hot field journals it itself (jtx_add).
 */
int jtx_inode(struct jtx *tx, struct pgdax_inode *slot)
{
	for (size_t i = 0; i < tx->nslots; i++)
		if (tx->slots[i] == slot)
			return 0;
	int rc = jtx_add(tx, slot, offsetof(struct pgdax_inode, i_crc) + sizeof(slot->i_crc));
	if (rc)
		return rc;
	if (GROW(tx->slots, tx->nslots, tx->capslots))
		return -ENOMEM;
	tx->slots[tx->nslots++] = slot;
	return 0;
}

int jtx_note(struct jtx *tx, struct inode *ip)
{
	for (size_t i = 0; i < tx->nnotes; i++)
		if (tx->notes[i] == ip)
			return 0;
	if (GROW(tx->notes, tx->nnotes, tx->capnotes))
		return -ENOMEM;
	tx->notes[tx->nnotes++] = ip;
	return 0;
}

int jtx_free_blocks(struct jtx *tx, uint64_t blk, uint64_t n)
{
	if (GROW(tx->frees, tx->nfrees, tx->capfrees))
		return -ENOMEM;
	tx->frees[tx->nfrees++] = (struct range){ (void *)(uintptr_t)blk, n };
	return 0;
}

int jtx_alloced_blocks(struct jtx *tx, uint64_t blk, uint64_t n)
{
	if (GROW(tx->allocs, tx->nallocs, tx->capallocs))
		return -ENOMEM;
	tx->allocs[tx->nallocs++] = (struct range){ (void *)(uintptr_t)blk, n };
	return 0;
}

int jtx_commit(struct jtx *tx)
{
	struct pgdax_vol *vol = tx->vol;
	struct journal *j = vol->j;

	if (tx->failed) {
		jtx_abort(tx);
		return -ENOSPC;
	}
	if (vol_dead(vol)) {
		jtx_abort(tx);	/* into the fence: harmless, and DRAM state back */
		return -EIO;
	}
	for (size_t i = 0; i < tx->nslots; i++)
		tx->slots[i]->i_crc = htole32(pgdax_struct_crc(tx->slots[i],
					offsetof(struct pgdax_inode, i_crc)));
	if (tx->nundo || tx->ntouch) {
		/* barrier (3): every changed range is durable */
		for (size_t i = 0; i < tx->nundo; i++)
			pgdax_dev_flush(vol->dev, tx->undo[i].addr, tx->undo[i].len);
		for (size_t i = 0; i < tx->ntouch; i++)
			pgdax_dev_flush(vol->dev, tx->touch[i].addr, tx->touch[i].len);
		pgdax_dev_drain(vol->dev);
	}
	if (tx->nrecs)
		retire(vol->dev, j->hdr, tx->seq);	/* barrier (4): committed */
	/* after (4): a crash can no longer undo the frees. Pages an old
	 * client still maps go to quarantine instead of the allocator. */
	for (size_t i = 0; i < tx->nfrees; i++)
		pgdax_quarantine_put_freed(vol, (uintptr_t)tx->frees[i].addr,
					   tx->frees[i].len);
	atomic_fetch_add(&vol->free_inodes, (uint64_t)tx->ino_delta);
	atomic_fetch_add(&vol->orphans, (uint64_t)tx->orphan_delta);
	pthread_mutex_unlock(&j->lock);
	/* Lost during the barriers: committed or not on the device (either is
	 * consistent there, as after a crash). The DRAM state is committed, so
	 * this returns 0; the public call answers -EIO (vol_ack). */
	return 0;
}

void jtx_count(struct jtx *tx, int64_t free_inodes, int64_t orphans)
{
	tx->ino_delta += free_inodes;
	tx->orphan_delta += orphans;
}

void jtx_abort(struct jtx *tx)
{
	struct pgdax_vol *vol = tx->vol;
	struct journal *j = vol->j;

	if (tx->nrecs) {
		undo_records(vol->dev, vol->base, j->area, tx->recs, tx->nrecs);
		retire(vol->dev, j->hdr, tx->seq);
	}
	for (size_t i = 0; i < tx->nallocs; i++)
		pgdax_alloc_put_range(vol->alloc, (uintptr_t)tx->allocs[i].addr,
				      tx->allocs[i].len);
	/* DRAM caches built on the undone state are dropped; reloaded on use */
	for (size_t i = 0; i < tx->nnotes; i++) {
		extmap_free(&tx->notes[i]->map);
		dix_free(&tx->notes[i]->dix);
	}
	pthread_mutex_unlock(&j->lock);
}
