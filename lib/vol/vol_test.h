/* SPDX-License-Identifier: MIT */
/*
 * Test-only introspection of a mounted volume (lib/vol/vol_test.c): lets unit
 * tests (and fsck tests) check accounting invariants without FUSE.
 */
#ifndef PGDAX_VOL_TEST_H
#define PGDAX_VOL_TEST_H

#include <stdint.h>
#include <sys/types.h>

struct pgdax_vol;

/* Entries readdir returns for @dir (including "." and ".."), or -errno. */
int vol_test_count_entries(struct pgdax_vol *vol, uint64_t dir);
/*
 * Space accounting at a quiescent point: used bits of the block bitmap in
 * the data area == sum of i_blocks of every in-use inode, and the DRAM
 * allocator's free count == the free bits. 0, or -1 with the numbers
 * printed to stderr.
 */
int vol_test_check_blocks(struct pgdax_vol *vol);
/* Device block holding page @page of directory @dir (0 if none). */
uint64_t vol_test_dir_block(struct pgdax_vol *vol, uint64_t dir, uint64_t page);

/* Number of extents of exactly @order in the map of @ino (or -errno). */
int vol_test_extents_of_order(struct pgdax_vol *vol, uint64_t ino, unsigned order);

/*
 * The medium under a file, whatever its size says (quiescent volume):
 * bytes [off, off + len) of the file's allocated extents, zeros in holes.
 * Returns len or -errno.
 */
ssize_t vol_test_read_raw(struct pgdax_vol *vol, uint64_t ino, uint64_t off, void *buf,
			  size_t len);
/*
 * The rule "bytes of allocated extents beyond i_size are zero", on the
 * medium: walks every extent of @ino; returns 0 when it holds, 1 with
 * *where = the first non-zero byte at or past i_size, or -errno.
 * *alloc_end = end (bytes) of the last allocated extent.
 */
int vol_test_nonzero_past_eof(struct pgdax_vol *vol, uint64_t ino, uint64_t *where,
			      uint64_t *alloc_end);
/* 1 if a trim is pending on @ino (PGDAX_IFL_TRIM), 0 if not, or -errno. */
int vol_test_trim_pending(struct pgdax_vol *vol, uint64_t ino);
/* 1 if @ino's extent map is inline (PGDAX_IFL_INLINE_EXT), 0 if not, -errno. */
int vol_test_inline_map(struct pgdax_vol *vol, uint64_t ino);
/* Fault injection: from now on every free_range transaction (truncate,
 * punch, reclaim) fails with -@err after its first change, as ENOMEM or a
 * journal error would; 0 turns it off. */
void vol_test_fail_free_range(struct pgdax_vol *vol, int err);
/*
 * A transaction that takes inode @ino off the orphan list (orphan_remove,
 * which rewrites the previous list entry's slot) and then aborts; while it
 * is open (journal lock held: @meanwhile must not start a transaction),
 * @meanwhile(@arg) runs, e.g. an extending write of another file that
 * needs no allocation. Returns orphan_remove's result.
 */
int vol_test_orphan_remove_aborted(struct pgdax_vol *vol, uint64_t ino,
				   void (*meanwhile)(void *arg), void *arg);
/*
 * Run @fn(pgoff, order, arg) inside the volume's page_free callback, i.e.
 * on the thread dropping an extent's last reference while the extent is
 * FREEING (lib/core/folio.c R4); NULL removes it. Set it while no
 * reference is being dropped.
 */
void vol_test_set_page_free_hook(struct pgdax_vol *vol,
				 void (*fn)(uint64_t pgoff, unsigned order, void *arg),
				 void *arg);

#endif /* PGDAX_VOL_TEST_H */
