#!/bin/bash
# SPDX-License-Identifier: MIT
# Under pgdax-exec, an ordinary program's MAP_SHARED mmap(2) of a pgdaxfs
# file is a DAX mapping of pinned extents: the daemon's pin counters move
# at mmap and come back at the last munmap (partial munmap, MAP_FIXED over
# part, mremap shrink/grow/move, fork, many threads), stores are visible to
# read(2) after msync/fsync/munmap and survive a remount. preload_probe
# checks the counters itself at each step (so a silent fallback to the
# page cache fails); see tests/preload_probe.c.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/preload_lib.sh"
pgdax_init

dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

pdx "$PROBE" write "$mnt" "$mnt/data" 3145728 21 || fail "write through a DAX mapping"
pdx "$PROBE" msync "$mnt" "$mnt/msync" || fail "msync/fsync visibility"
pdx "$PROBE" partial "$mnt" "$mnt/partial" || fail "partial munmap / MAP_FIXED"
pdx "$PROBE" mremap "$mnt" "$mnt/mremap" || fail "mremap"
pdx "$PROBE" fork "$mnt" "$mnt/fork" || fail "fork"
pdx "$PROBE" threads "$mnt" "$mnt/threads" 8 50 || fail "threads"
pdx "$PROBE" eof "$mnt" "$mnt/eof" || fail "mapping past EOF"
[ "$(pin_count "$mnt")" = 0 ] || fail "pins left after the programs exited"

# the DAX stores survive a remount
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
"$PROBE" verify "$mnt/data" 3145728 21 || fail "data written through DAX lost at remount"
"$PROBE" verify "$mnt/fork" 4096 7 || fail "the fork child's stores lost at remount"

# without pgdax-exec the same program sees no pins and fails its checks
# (what proves the counters are a real witness)
"$PROBE" write "$mnt" "$mnt/plain" 65536 1 2>/dev/null &&
	fail "the probe passed without the preload library: the pin check is no witness"
pgdax_umount "$mnt"
log "PASS"
