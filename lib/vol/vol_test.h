/* SPDX-License-Identifier: MIT */
/*
 * Test-only introspection of a mounted volume (lib/vol/vol_test.c): lets unit
 * tests (and fsck tests) check accounting invariants without FUSE.
 */
#ifndef PGDAX_VOL_TEST_H
#define PGDAX_VOL_TEST_H

#include <stdint.h>

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
 * Run @fn(pgoff, order, arg) inside the volume's page_free callback, i.e.
 * on the thread dropping an extent's last reference while the extent is
 * FREEING (lib/core/folio.c R4); NULL removes it. Set it while no
 * reference is being dropped.
 */
void vol_test_set_page_free_hook(struct pgdax_vol *vol,
				 void (*fn)(uint64_t pgoff, unsigned order, void *arg),
				 void *arg);

#endif /* PGDAX_VOL_TEST_H */
