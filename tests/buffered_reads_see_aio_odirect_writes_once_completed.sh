#!/bin/bash
# SPDX-License-Identifier: MIT
# Buffered readers see O_DIRECT writes once they completed, also
# asynchronous ones racing with the reads (tests/aio_dio_stale.c: fill with
# 0xaa, AIO O_DIRECT writes of 0x55 while threads read the range buffered,
# then a buffered read must show only 0x55). The kernel drops the range's
# pages when it has sent an AIO write, before the daemon wrote it: the
# daemon drops them again after writing, before it replies (fs_write).
# Seeded; AIO_DIO_RUNS (default 8) runs of 30 rounds. Before the fix about
# 1 run in 20 failed here, so one pass of the default proves little alone:
# AIO_DIO_RUNS=100 for a soak.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
for seed in $(seq 1 "${AIO_DIO_RUNS:-8}"); do
	"$top_builddir/tests/aio_dio_stale" "$mnt/f" "$seed" 30 ||
		fail "seed $seed: a buffered read shows bytes older than a completed AIO O_DIRECT write"
done
pgdax_umount "$mnt"
