#!/bin/bash
# SPDX-License-Identifier: MIT
# pgdax_map on the real device maps the file's extent with the device's
# page size: /proc/PID/smaps of the client shows its /dev/daxX.Y mapping
# with KernelPageSize and MMUPageSize of 2048 kB on a 2M namespace and
# 1048576 kB on a 1G one; a pin of one unit is one extent, aligned on the
# device to the unit; data written and synced through the mapping reads
# back through read(2), the mapping of another client, and after a
# remount; pins end when released (pgdaxctl status).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
unit=$(numfmt --from=iec "$DAX_ALIGN")
want_kb=$((unit / 1024))
pgdax_mkfs "$DAX"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$DAX" "$mnt"
f=$mnt/f
truncate -s "$unit" "$f"

# the writer: map rw, fill with a pattern, sync, hold
pin_start w map "$f" 0 "$unit" rw fill=7 hold
pin_wait_line w '^READY' 120
pid=${PIN_PID[w]}
smaps=$PGDAX_WORK/smaps
awk -v d="$DAX" '/^[0-9a-f]+-[0-9a-f]+ / { on = ($NF == d) } on' "/proc/$pid/smaps" >"$smaps"
[ -s "$smaps" ] || { cat "/proc/$pid/maps" >&2; fail "no $DAX mapping in the client's smaps"; }
head -n1 "$smaps" >&2
for field in KernelPageSize MMUPageSize; do
	got=$(awk -v f="$field:" '$1 == f {print $2; exit}' "$smaps")
	[ "$got" = "$want_kb" ] || { cat "$smaps" >&2; fail "$field is $got kB, expected $want_kb kB"; }
done
start=$((16#$(head -n1 "$smaps" | cut -d- -f1)))
[ $((start % unit)) -eq 0 ] || fail "mapping at $(printf %x $start) is not $DAX_ALIGN aligned"
log "client mapping: KernelPageSize $want_kb kB, MMUPageSize $want_kb kB, address aligned"
[ "$(pin_status "$mnt" pins)" -ge 1 ] || fail "the mapping holds no pin"

# a pin of the same unit from another process: one aligned extent
pin_start p pin "$f" 0 "$unit"
pin_wait_line p '^READY' 60
ext=$(grep '^EXT' "$PGDAX_WORK/p.out")
[ "$(wc -l <<<"$ext")" -eq 1 ] || fail "pin of one unit is not one extent: $ext"
read -r _ foff doff len hole <<<"$ext"
[ "$foff" -eq 0 ] && [ "$len" -eq "$unit" ] && [ "$hole" -eq 0 ] || fail "pin extent: $ext"
[ $((doff % unit)) -eq 0 ] || fail "extent at device offset $doff is not $DAX_ALIGN aligned"
log "pin: one extent at device offset $doff, $len bytes"
# a reader mapping sees the writer's pattern, read(2) too
pin_start r map "$f" 0 "$unit" ro check=7
pin_wait_line r '^READY' 120
pin_release p
pin_release w
wait "${PIN_PID[r]}" || fail "the reader's check failed"
pin_wait_status "$mnt" pins 0 10
pgdax_umount "$mnt"
pgdax_mount "$DAX" "$mnt"
pin_start r2 map "$f" 0 "$unit" ro check=7
pin_wait_line r2 '^READY' 120
wait "${PIN_PID[r2]}" || fail "the pattern did not survive a remount"
pgdax_umount "$mnt"
echo "1 passed, 0 failed"
