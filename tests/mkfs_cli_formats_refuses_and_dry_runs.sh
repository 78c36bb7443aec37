#!/bin/sh
# mkfs.pgdaxfs: --size creates an emulated device, -L/-U are recorded, an
# existing filesystem is refused without -f (the message names label and
# uuid), -n writes nothing, a device locked by another process is refused,
# bad options fail with a message.
set -u
MKFS="${top_builddir:-.}/tools/mkfs.pgdaxfs"
DEV=/dev/shm/pgdaxfs-mkfs-test-$$
OUT=$(mktemp)
trap 'rm -f "$DEV" "$DEV.2" "$OUT"; [ -n "${HOLDER:-}" ] && kill "$HOLDER" 2>/dev/null; true' EXIT
fail() { echo "FAIL: $*"; cat "$OUT"; exit 1; }

"$MKFS" --help >"$OUT" 2>&1 || fail "--help"
grep -q "Usage: mkfs.pgdaxfs" "$OUT" || fail "--help text"
"$MKFS" --version >"$OUT" 2>&1 || fail "--version"

"$MKFS" -q --size 64M --align 2M -L mylabel -U 01234567-89ab-cdef-0123-456789abcdef "$DEV" \
	>"$OUT" 2>&1 || fail "format"
[ -f "$DEV" ] || fail "device file not created"
[ "$(stat -c %s "$DEV")" = 67108864 ] || fail "device size"
# label at byte 80, uuid at byte 64 of the superblock
[ "$(dd if="$DEV" bs=1 skip=80 count=7 2>/dev/null)" = mylabel ] || fail "label not recorded"
[ "$(od -An -tx1 -j64 -N4 "$DEV" | tr -d ' ')" = 01234567 ] || fail "uuid not recorded"

if "$MKFS" -q "$DEV" >"$OUT" 2>&1; then fail "overwrote without -f"; fi
grep -q 'found a pgdaxfs filesystem (label "mylabel", uuid 01234567-89ab-cdef-0123-456789abcdef)' "$OUT" \
	|| fail "refusal message"
grep -q "use -f" "$OUT" || fail "refusal does not say how to force"

"$MKFS" -q -f -L second "$DEV" >"$OUT" 2>&1 || fail "-f"
[ "$(dd if="$DEV" bs=1 skip=80 count=6 2>/dev/null)" = second ] || fail "-f did not format"

# -n prints the layout and changes nothing
SUM=$(md5sum <"$DEV")
"$MKFS" -n -f -L third "$DEV" >"$OUT" 2>&1 || fail "-n"
grep -q "inode table" "$OUT" || fail "-n prints no layout"
[ "$(md5sum <"$DEV")" = "$SUM" ] || fail "-n wrote to the device"

# bad input
if "$MKFS" -q -b 3000 -f "$DEV" >"$OUT" 2>&1; then fail "block size 3000 accepted"; fi
grep -q "block size" "$OUT" || fail "no block size message"
if "$MKFS" -q --size 10Q "$DEV.2" >"$OUT" 2>&1; then fail "bad size accepted"; fi
if "$MKFS" -q >"$OUT" 2>&1; then fail "no device accepted"; fi
if "$MKFS" -q /nonexistent/dev >"$OUT" 2>&1; then fail "missing device accepted"; fi

# a device held (flock) by another process is refused, naming it
if command -v flock >/dev/null 2>&1; then
	(exec 9<>"$DEV"; flock -x 9; exec sleep 30) &	# one process: killing it unlocks
	HOLDER=$!
	# wait until the lock is taken (bounded): /proc/locks names the
	# file as MAJ:MIN:INODE
	ino=$(stat -c %i "$DEV") locked=
	for _ in $(seq 200); do
		awk -v i="$ino" '$2 == "FLOCK" && $6 ~ ":" i "$" { f = 1 } END { exit !f }' \
			/proc/locks && { locked=1; break; }
		sleep 0.05
	done
	[ -n "$locked" ] || fail "the holder did not lock $DEV within 10 s"
	if "$MKFS" -q -f "$DEV" >"$OUT" 2>&1; then fail "formatted a locked device"; fi
	grep -q "in use by pid" "$OUT" || fail "refusal does not name the holder"
	kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; HOLDER=
fi

# 8K blocks
"$MKFS" -q -f -b 8192 "$DEV" >"$OUT" 2>&1 || fail "-b 8192"
echo "PASS"
exit 0
