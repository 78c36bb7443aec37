#!/bin/bash
# SPDX-License-Identifier: MIT
# A truncate waits for whole extents (it splits the one its new end falls
# in), so its layout break covers whole extents too: on a 4 KiB-aligned
# device, a file with one 2 MiB extent and a pin of [0, 4K) on it, a
# truncate 2 MiB -> 1 MiB waits for that pin; the pin's holder gets POLLPRI
# (-o break_notify) and a new pin of [0, 4K) is refused with EBUSY while it
# waits (before: the break covered [1M, end) only, so the holder was never
# told and new pins there were granted, starving the truncate). Once the
# holder unmaps, the truncate completes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o break_timeout=60000,break_notify

f=$mnt/f
fallocate -l 2M "$f"	# one zero-filled extent of 2 MiB (order 9)
# one extent: the pages at 0 and at 1 MiB lie 1 MiB apart on the device
pin_start a pin "$f" 0 4096
pin_wait_line a '^READY'
pin_start b pin "$f" 1048576 4096
pin_wait_line b '^READY'
da=$(awk '/^EXT/ {print $3; exit}' "$PGDAX_WORK/a.out")
db=$(awk '/^EXT/ {print $3; exit}' "$PGDAX_WORK/b.out")
pin_release a
pin_release b
[ $((db - da)) = 1048576 ] || fail "the file is not one 2 MiB extent (device offsets $da, $db)"
pin_wait_status "$mnt" pins 0

# a holder of [0, 4K) that listens for the break but keeps its pin
pin_start holder map "$f" 0 4096 ro poll hold
pin_wait_line holder '^READY'
truncate -s 1M "$f" 2>"$PGDAX_WORK/t.err" &
tpid=$!
_pgdax_pids+=("$tpid")
pin_wait_status "$mnt" breaking 1
pin_wait_line holder '^BREAK' 10
# no new pin on the extent while the truncate waits for it
out=$(timeout 10 "$CLIENT" rawpin EBUSY "$f" 0 4096 ro 2>&1) ||
	fail "a new pin of [0, 4K) was not refused while the truncate waits: $out"
kill -0 "$tpid" 2>/dev/null || fail "the truncate did not wait for the pin: $(cat "$PGDAX_WORK/t.err")"
[ "$(stat -c %s "$f")" = 2097152 ] || fail "the truncate changed the size while waiting"

pin_release holder
pgdax_wait_pid "$tpid" 10 || fail "truncate still waiting after the unmap"
[ "$PGDAX_STATUS" -eq 0 ] || fail "truncate failed: $(cat "$PGDAX_WORK/t.err")"
[ "$(stat -c %s "$f")" = 1048576 ] || fail "the truncate did not take effect"
pin_wait_status "$mnt" breaking 0
# the break is over: [0, 4K) can be pinned again
"$CLIENT" rawpin OK "$f" 0 4096 ro >&2 || fail "no pin after the break ended"
pgdax_umount "$mnt"
log "PASS"
