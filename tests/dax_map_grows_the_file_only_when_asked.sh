#!/bin/bash
# SPDX-License-Identifier: MIT
# A writable DAX mapping changes the file size only when asked, as mmap(2):
# mapping the partial last block of a 3-byte file (4096 bytes) leaves it 3
# bytes; a writable range past that block fails with ENXIO and a message
# that says so and names PGDAX_MAP_EXTEND, changing nothing (pgdax_map and
# pgdax_pin alike). With PGDAX_MAP_EXTEND the file grows to offset+length
# (4096 for the 3-byte file, 10 MiB for a map ending at 10 MiB), and the
# mapping's stores are the file's data. Read-only maps past EOF change
# nothing either.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
size() { stat -c %s "$1"; }

# without the flag
printf abc >"$mnt/f3"
"$CLIENT" map "$mnt/f3" 0 4096 rw >&2 || fail "writable map of the partial last block failed"
[ "$(size "$mnt/f3")" -eq 3 ] || fail "writable map of a 3-byte file changed its size to $(size "$mnt/f3")"
[ "$(cat "$mnt/f3")" = abc ] || fail "3-byte file content changed"
out=$("$CLIENT" expect-error ENXIO "$mnt/f3" $((10 << 20)) 4096 rw) ||
	fail "writable map at 10 MiB of a 3-byte file did not fail with ENXIO"
echo "$out" >&2
echo "$out" | grep -q "past the end of the file (size 3" || fail "ENXIO message does not say past EOF"
echo "$out" | grep -q "PGDAX_MAP_EXTEND" || fail "ENXIO message does not name PGDAX_MAP_EXTEND"
"$CLIENT" expect-error ENXIO "$mnt/f3" 0 8192 rw >&2 ||
	fail "writable map one block past the block holding EOF did not fail"
must_fail "$CLIENT" pin "$mnt/f3" $((1 << 20)) 4096 rw
[ "$(size "$mnt/f3")" -eq 3 ] || fail "a refused map or pin changed the size to $(size "$mnt/f3")"
: >"$mnt/empty"
"$CLIENT" expect-error ENXIO "$mnt/empty" 0 4096 rw >&2 || fail "writable map of an empty file did not fail"
"$CLIENT" map "$mnt/f3" $((10 << 20)) 4096 ro >&2 || fail "read-only map past EOF failed"
[ "$(size "$mnt/f3")" -eq 3 ] || fail "read-only map past EOF changed the size"
"$CLIENT" expect-error EINVAL "$mnt/f3" 0 4096 ro extend >&2 ||
	fail "PGDAX_MAP_EXTEND on a read-only map was not refused"

# with the flag
"$CLIENT" map "$mnt/f3" 0 4096 rw extend >&2 || fail "map with PGDAX_MAP_EXTEND failed"
[ "$(size "$mnt/f3")" -eq 4096 ] || fail "PGDAX_MAP_EXTEND of [0, 4096) gave size $(size "$mnt/f3")"
[ "$(head -c 3 "$mnt/f3")" = abc ] || fail "growing lost the first bytes"
"$CLIENT" map "$mnt/f3" $(((10 << 20) - 4096)) 4096 rw extend fill=7 >&2 ||
	fail "map ending at 10 MiB with PGDAX_MAP_EXTEND failed"
[ "$(size "$mnt/f3")" -eq $((10 << 20)) ] || fail "map ending at 10 MiB gave size $(size "$mnt/f3")"
"$CLIENT" map "$mnt/f3" $(((10 << 20) - 4096)) 4096 ro check=7 >&2 ||
	fail "stores through the grown mapping are not the file's data"
printf x >"$mnt/p"
"$CLIENT" pin "$mnt/p" 0 65536 rw extend >"$PGDAX_WORK/pin.out" 2>&1 &
cpid=$!
_pgdax_pids+=("$cpid")
for i in $(seq 1 100); do grep -q READY "$PGDAX_WORK/pin.out" && break; sleep 0.05; done
grep -q READY "$PGDAX_WORK/pin.out" || { cat "$PGDAX_WORK/pin.out" >&2; fail "pin with PGDAX_PIN_EXTEND failed"; }
[ "$(size "$mnt/p")" -eq 65536 ] || fail "PGDAX_PIN_EXTEND gave size $(size "$mnt/p")"
kill -USR1 "$cpid"
pgdax_wait_pid "$cpid" 10 || fail "pin holder did not exit"
[ "$PGDAX_STATUS" -eq 0 ] || fail "pin holder exited $PGDAX_STATUS"

# stores made past EOF through the partial last block are not file data:
# whatever grows the file later (truncate, write(2), PGDAX_MAP_EXTEND)
# uncovers zeros (read with O_DIRECT: not from the kernel's page cache)
nonzero_after3() { dd if="$1" iflag=direct bs=4096 count="$2" 2>/dev/null | tail -c +4 | tr -d '\000' | wc -c; }
for how in truncate write extend; do
	f=$mnt/tail-$how
	printf abc >"$f"
	"$CLIENT" map "$f" 0 4096 rw fill=9 >&2 || fail "map of the partial last block ($how)"
	[ "$(size "$f")" -eq 3 ] || fail "stores past EOF changed the size ($how)"
	case $how in
	truncate) truncate -s 8192 "$f" ;;
	write) printf Z | dd of="$f" bs=1 seek=8191 conv=notrunc 2>/dev/null ;;
	extend) "$CLIENT" map "$f" 0 8192 rw extend >&2 || fail "extend after stores past EOF" ;;
	esac
	[ "$(size "$f")" -eq 8192 ] || fail "$how: size $(size "$f"), expected 8192"
	n=$(nonzero_after3 "$f" 2)
	want=0; [ $how = write ] && want=1
	[ "$n" -eq "$want" ] || fail "$how after stores past EOF: $n non-zero byte(s) past the old EOF, expected $want"
done
pgdax_umount "$mnt"
