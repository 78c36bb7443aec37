#!/bin/bash
# SPDX-License-Identifier: MIT
# fsck.pgdaxfs on the real device: a volume with files is clean (exit 0);
# a damaged backup superblock is found by -n (4, named) and repaired by -p
# (1); a damaged root inode checksum is found by -n (4), left by -p (4,
# "needs -y") and repaired by -y (1); -n is 0 after each repair, and the
# files still read back with their hashes. The bytes are flipped through a
# shared mapping of the device (devdax has no write(2)).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
pgdax_init
out=$PGDAX_WORK/out
expect() { # CODE CMD...
	local want=$1 got=0; shift
	"$@" >"$out" 2>&1 || got=$?
	[ "$got" -eq "$want" ] || { cat "$out" >&2; fail "'$*' exited $got, expected $want"; }
	log "$* -> $got: $(tail -n1 "$out")"
}
le64() { # OFF -> the little-endian u64 there
	local h
	h=$(dax_peek "$1" 8)
	echo $((16#$(echo "$h" | sed 's/\(..\)/\1 /g' | awk '{for (i = NF; i >= 1; i--) printf "%s", $i}')))
}
flip() { # OFF: invert one byte
	local h
	h=$(dax_peek "$1" 1)
	dax_poke "$1" "$(printf %02x $((16#$h ^ 0xff)))"
}

pgdax_mkfs "$DAX"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$DAX" "$mnt"
for i in $(seq 1 20); do head -c $((i * 4099)) /dev/urandom >"$mnt/f$i"; done
(cd "$mnt" && sha256sum f*) >"$PGDAX_WORK/sums"
pgdax_umount "$mnt"
expect 0 "$FSCK" -n "$DAX"
grep -q "clean, not checked" "$out" || fail "a clean volume is not skipped without -f"
expect 0 "$FSCK" -n -f "$DAX"

bs=4096
blocks=$(le64 24)
# the backup: s_backup_blk (byte 240; format 1.3 puts it at the end of the
# first alignment unit at 2M/1G), or the last block when that reads 0
backup=$(le64 240)
[ "$backup" -ne 0 ] || backup=$((blocks - 1))
flip $(( backup * bs + 80 ))
expect 4 "$FSCK" -n -f "$DAX"
grep -q "^superblock (backup) @$(( backup * bs )): " "$out" || fail "backup damage not named"
expect 1 "$FSCK" -p -f "$DAX"
expect 0 "$FSCK" -n -f "$DAX"

it=$(le64 192)
flip $(( it * bs + 256 + 4 ))
expect 4 "$FSCK" -n -f "$DAX"
grep -q "^inode table @$(( it * bs + 256 )): " "$out" || fail "inode damage not named"
expect 4 "$FSCK" -p -f "$DAX"
grep -q "needs -y" "$out" || fail "-p does not say the repair needs -y"
expect 1 "$FSCK" -y "$DAX"
expect 0 "$FSCK" -n -f "$DAX"
pgdax_mount "$DAX" "$mnt"
(cd "$mnt" && sha256sum --quiet -c "$PGDAX_WORK/sums") >&2 || fail "files changed by the repairs"
pgdax_umount "$mnt"
echo "1 passed, 0 failed"
