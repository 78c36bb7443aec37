#!/bin/bash
# SPDX-License-Identifier: MIT
# A file opened with O_DIRECT can be mapped MAP_SHARED (databases and
# fsx-style testers do; it failed with "mmap: No such device" while O_DIRECT
# opens were FOPEN_DIRECT_IO without FUSE_DIRECT_IO_ALLOW_MMAP), and the
# mapping and the direct path stay coherent both ways (tests/odirect_mmap.c).
# Needs libfuse 3.18 (the capability); the 3.14 build keeps refusing and
# skips.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
grep -q '^#define PGDAX_HAVE_FUSE_REQ_UNIQUE 1' "$top_builddir/config.h" ||
	{ echo "SKIP: built against libfuse < 3.18 (no FUSE_DIRECT_IO_ALLOW_MMAP)"; exit 77; }
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
"$top_builddir/tests/odirect_mmap" "$mnt/f" || fail "O_DIRECT open + shared mapping"
# and again after a remount: the bytes are on the medium
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(od -An -tx1 -j 4096 -N 1 "$mnt/f" | tr -d ' ')" = 22 ] || fail "store through the mapping lost"
[ "$(od -An -tx1 -j 8192 -N 1 "$mnt/f" | tr -d ' ')" = 33 ] || fail "direct write lost"
pgdax_umount "$mnt"
