#!/bin/bash
# fsck.pgdaxfs follows fsck(8): exit 16 on usage errors, 8 when the device is
# held by another process (naming its pid) or holds no pgdaxfs, 0 on a clean
# volume, 4 when -n finds damage, 1 when -y/-p repair it (and a second -n is
# then 0), and -p leaves an unsafe repair for -y (4).
set -u
B=${top_builddir:-.}
FSCK=$B/tools/fsck.pgdaxfs
MKFS=$B/tools/mkfs.pgdaxfs
work=$(mktemp -d /dev/shm/pgdaxfs-fsckcli.XXXXXX) || exit 1
holder=
cleanup() { [ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
dev=$work/dev
fail() { echo "FAIL: $*"; [ -f "$work/out" ] && cat "$work/out"; exit 1; }
expect() { # CODE CMD...: run, keep the output in $work/out, check the exit code
	local want=$1; shift
	"$@" >"$work/out" 2>&1
	local got=$?
	[ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}
flip() { # OFFSET: invert one byte of the device
	local v
	v=$(od -An -tu1 -j "$1" -N1 "$dev" | tr -d ' ')
	printf "\\$(printf %o $((v ^ 0xff)))" | dd of="$dev" bs=1 seek="$1" conv=notrunc status=none
}
le64() { od -An -tu8 -j "$1" -N8 "$dev" | tr -d ' '; }

truncate -s 32M "$dev"
"$MKFS" "$dev" >/dev/null 2>&1 || fail "mkfs"

expect 16 "$FSCK"
expect 16 "$FSCK" -n -y "$dev"
expect 16 "$FSCK" --bogus "$dev"
expect 0 "$FSCK" --help
grep -q "Exit status" "$work/out" || fail "--help does not document exit codes"
expect 0 "$FSCK" -V

expect 0 "$FSCK" -n "$dev"
grep -q "clean, not checked" "$work/out" || fail "a clean volume is not skipped without -f"
expect 0 "$FSCK" -n -f "$dev"

# a device held by another process: 8, naming the pid
( exec 9<"$dev"; flock -x 9; exec sleep 30 ) &	# one process: killing it unlocks
holder=$!
# wait until the lock is taken (bounded): /proc/locks names the file as
# MAJ:MIN:INODE, so the inode is matched at the end of that field
ino=$(stat -c %i "$dev") locked=
for _ in $(seq 200); do
	awk -v i="$ino" '$2 == "FLOCK" && $6 ~ ":" i "$" { f = 1 } END { exit !f }' \
		/proc/locks && { locked=1; break; }
	sleep 0.05
done
[ -n "$locked" ] || fail "the holder did not lock $dev within 10 s"
expect 8 "$FSCK" -n -f "$dev"
grep -q "pid" "$work/out" || fail "busy device: message does not name the holder"
kill "$holder"; wait "$holder" 2>/dev/null; holder=

# backup superblock damaged: a safe repair (-p does it)
bs=4096
blocks=$(le64 24)
flip $(( (blocks - 1) * bs + 80 ))
expect 4 "$FSCK" -n -f "$dev"
grep -q "^superblock (backup) @$(( (blocks - 1) * bs )): " "$work/out" || fail "backup damage not named"
expect 1 "$FSCK" -p -f "$dev"
expect 0 "$FSCK" -n -f "$dev"

# root inode checksum damaged: not a -p repair; -y does it
it=$(le64 192)
flip $(( it * bs + 256 + 4 ))
expect 4 "$FSCK" -n -f "$dev"
grep -q "^inode table @$(( it * bs + 256 )): " "$work/out" || fail "inode damage not named"
expect 4 "$FSCK" -p -f "$dev"
grep -q "needs -y" "$work/out" || fail "-p does not say the repair needs -y"
expect 1 "$FSCK" -y "$dev"
expect 0 "$FSCK" -n -f "$dev"

# not a pgdaxfs at all: operational error
truncate -s 0 "$dev"; truncate -s 32M "$dev"
expect 8 "$FSCK" -n -f "$dev"
grep -q "not a pgdaxfs" "$work/out" || fail "no superblock: unclear message"
echo "fsck.pgdaxfs exit codes as fsck(8)"
exit 0
