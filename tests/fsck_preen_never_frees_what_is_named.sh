#!/bin/bash
# Issue 16, reproduced as reported: one inode's checksum broken (with its
# number, so the fields cannot be kept); `fsck -p -f` used to free the inode
# and its block as "leaks" but leave the entry d/f1 pointing at it, the
# volume then mounted, the next new file reused the inode and `cat d/f1`
# printed that file's data. Now: -p changes nothing about the problem and
# exits 4 with "UNEXPECTED INCONSISTENCY", the volume records its error
# state (a read-write mount is refused naming fsck.pgdaxfs, a read-only
# one is allowed), -y repairs it whole (entry removed with the inode),
# fsck -n is then clean, the volume mounts and d/f1 never shows other data.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
mkdir "$mnt/d"
echo "first file" >"$mnt/d/f1"
ino=$(stat -c %i "$mnt/d/f1")
pgdax_umount "$mnt"

le64() { od -An -tu8 -j "$1" -N8 "$dev" | tr -d ' '; }
bs=4096
it=$(le64 192)				# s_itable_start
slot=$((it * bs + ino * 256))
[ "$(le64 $((slot + 24)))" = "$ino" ] || fail "inode $ino not found at @$slot"
# i_ino's low byte: the checksum and the inode number are both wrong
v=$(od -An -tu1 -j $((slot + 24)) -N1 "$dev" | tr -d ' ')
printf "\\$(printf %o $((v ^ 0x5a)))" | dd of="$dev" bs=1 seek=$((slot + 24)) conv=notrunc status=none

cp "$dev" "$PGDAX_WORK/before"
rc=0; "$FSCK" -p -f "$dev" >"$PGDAX_WORK/p.out" 2>&1 || rc=$?
cat "$PGDAX_WORK/p.out" >&2
[ "$rc" -eq 4 ] || fail "fsck -p -f exited $rc, expected 4"
grep -q "UNEXPECTED INCONSISTENCY" "$PGDAX_WORK/p.out" || fail "-p does not say to run -y"
grep -q "\[fixed\]" "$PGDAX_WORK/p.out" && fail "-p fixed something while declining a repair"
# nothing but the superblock's hot fields (state, error state) changed
cmp -s <(tail -c +$((bs + 1)) "$dev") <(tail -c +$((bs + 1)) "$PGDAX_WORK/before") ||
	fail "fsck -p changed the volume past its superblock"
[ "$(le64 416)" -ne 0 ] || fail "fsck -p left problems but s_errors is 0"

# the error state keeps a read-write mount away, a read-only one is allowed
out=$("$PGDAXFS" "$dev" "$mnt" -f 2>&1) && fail "a volume with errors mounted read-write"
echo "$out" | grep -q "fsck.pgdaxfs" || fail "refusal does not name fsck.pgdaxfs: $out"
pgdax_mount "$dev" "$mnt" -o ro
pgdax_umount "$mnt"

rc=0; "$FSCK" -y "$dev" >"$PGDAX_WORK/y.out" 2>&1 || rc=$?
cat "$PGDAX_WORK/y.out" >&2
[ "$rc" -eq 1 ] || fail "fsck -y exited $rc, expected 1"
rc=0; "$FSCK" -n -f "$dev" >"$PGDAX_WORK/n.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$PGDAX_WORK/n.out" >&2; fail "fsck -n after -y exited $rc"; }
[ "$(le64 416)" -eq 0 ] || fail "a clean fsck -y left s_errors set"

pgdax_mount "$dev" "$mnt"
echo "someone else's data" >"$mnt/d/f2"
echo "other" >"$mnt/new"
if [ -e "$mnt/d/f1" ]; then
	got=$(cat "$mnt/d/f1" 2>&1 || true)
	[ "$got" = "first file" ] || fail "d/f1 shows '$got'"
fi
pgdax_umount "$mnt"
echo "fsck -p declines what needs -y and changes nothing about it"
