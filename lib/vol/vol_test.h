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

#endif /* PGDAX_VOL_TEST_H */
