/* SPDX-License-Identifier: MIT */
/*
 * The undo journal (format: lib/vol/format.h, "Undo journal"). One metadata
 * transaction at a time (the journal lock, held from jtx_begin to
 * jtx_commit/jtx_abort); see the top of lib/vol/journal.c for the order of
 * persist barriers.
 *
 * Usage: tx = jtx_begin(vol); for every range about to change:
 * jtx_add(tx, addr, len) (old bytes saved and persisted), then change it in
 * place with plain stores; jtx_commit(tx) persists the ranges and retires
 * the transaction. On an error after jtx_begin, jtx_abort(tx) puts the old
 * bytes back.
 */
#ifndef PGDAX_JOURNAL_H
#define PGDAX_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pgdax_vol;
struct pgdax_dev;
struct pgdax_sb;
struct pgdax_inode;
struct inode;
struct journal;
struct jtx;

int journal_open(struct pgdax_vol *vol);	/* validates and recovers */
void journal_close(struct pgdax_vol *vol);
/* mkfs: write an empty journal header for @sb */
int journal_format(struct pgdax_dev *dev, const struct pgdax_sb *sb);
/* The header's checksummed part [0, j_seq) as @sb requires it (j_seq 0). */
struct pgdax_jhdr;
void journal_hdr_make(const struct pgdax_sb *sb, struct pgdax_jhdr *h);
/* Begin a transaction: takes the journal lock. Never fails. */
struct jtx *jtx_begin(struct pgdax_vol *vol);
/* Save the old bytes of [addr, addr+len) (device memory) durably before the
 * caller changes them. 0 or -ENOSPC (journal full: abort the tx). */
int jtx_add(struct jtx *tx, void *addr, size_t len);
/* Persist [addr, addr+len) at commit without undo (freshly allocated). */
int jtx_touch(struct jtx *tx, void *addr, size_t len);
/* Reseal this inode slot's crc at commit; jtx_add's its checksummed part
 * only (hot fields such as i_size are the caller's to jtx_add). */
int jtx_inode(struct jtx *tx, struct pgdax_inode *slot);
/* DRAM state of @ip must be dropped if the tx aborts. */
int jtx_note(struct jtx *tx, struct inode *ip);
/* Allocator bookkeeping: blocks freed reach the allocator after commit;
 * blocks allocated go back to it on abort. */
int jtx_free_blocks(struct jtx *tx, uint64_t blk, uint64_t n);
int jtx_alloced_blocks(struct jtx *tx, uint64_t blk, uint64_t n);
/* Counter changes (free inodes, orphans) applied only if the tx commits. */
void jtx_count(struct jtx *tx, int64_t free_inodes, int64_t orphans);
int jtx_commit(struct jtx *tx);
void jtx_abort(struct jtx *tx);
/* Journal bytes left in this tx (for chunking big operations). */
uint64_t jtx_room(struct jtx *tx);
struct pgdax_vol *jtx_vol(struct jtx *tx);

/* mount recovery on a raw image: roll back an uncommitted transaction.
 * Returns the number of ranges rolled back or a negative errno. */
int journal_recover(struct pgdax_dev *dev, char *base, uint64_t size,
		    const struct pgdax_sb *sb, bool rdonly);

#endif /* PGDAX_JOURNAL_H */
