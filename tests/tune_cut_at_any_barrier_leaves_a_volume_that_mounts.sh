#!/bin/bash
# pgdaxctl tune (label + uuid) is crash-safe: killed at each of its persist
# barriers in turn (PGDAX_CRASH_AT, lib/dev/dev_crash.c) with
# PGDAX_CRASH_SHADOW keeping what a power cut would have left, the image
#   - names one identity, the old or the new (label and uuid together);
#   - fsck.pgdaxfs -p accepts it (exit 0 or 1: only safe repairs, e.g. the
#     journal header or backup lagging the primary) and fsck -n -f is then
#     clean;
#   - mounts read-write as it is (the mount rewrites a lagging journal
#     header), shows that identity (pgdaxctl status) and the file written
#     before; after the unmount fsck -n -f finds nothing;
#   - and a second tune completes the change.
# The lagging journal header such a cut leaves is accepted only beside a
# valid, clean primary: beside a backup fallback (what an interrupted mkfs
# over an older volume can leave) mount refuses it and fsck -p does not
# fix it (exit status with bit 4: uncorrected).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
copy() { cp --sparse=always --preserve=xattr "$1" "$2" || fail "cp $1 $2"; }
OLD_U=11111111-2222-4333-8444-555555555555
NEW_U=99999999-8888-4777-8666-555555555555

dev=$(pgdax_new_device 32M)
pgdax_mkfs "$dev" -L old -U "$OLD_U"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
echo survivor >"$mnt/f"
pgdax_umount "$mnt"
base=$PGDAX_WORK/base
copy "$dev" "$base"

rm -f "$PGDAX_WORK/count"
PGDAX_CRASH_COUNT=$PGDAX_WORK/count "$PGDAXCTL" tune "$dev" -L new -U "$NEW_U" >/dev/null ||
	fail "clean tune run"
total=$(cat "$PGDAX_WORK/count")
[ "$total" -ge 3 ] || fail "only $total barriers counted"

identity() { # IMAGE -> "label uuid" from info --json
	"$PGDAXCTL" info --json "$1" 2>/dev/null |
		python3 -c 'import json,sys; f=json.load(sys.stdin)["filesystem"]; print(f["label"], f["uuid"])'
}
seen_old=0 seen_new=0
for n in $(seq 1 "$total"); do
	copy "$base" "$dev"
	shadow=$PGDAX_WORK/shadow
	rm -f "$shadow"
	rc=0
	PGDAX_CRASH_AT=$n PGDAX_CRASH_SHADOW=$shadow "$PGDAXCTL" tune "$dev" -L new -U "$NEW_U" \
		>/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 137 ] || fail "barrier $n of $total: tune was not killed (exit $rc)"
	id=$(identity "$shadow")
	case $id in
	"old $OLD_U") seen_old=$((seen_old + 1)) ;;
	"new $NEW_U") seen_new=$((seen_new + 1)) ;;
	*) fail "barrier $n: mixed or unreadable identity '$id'" ;;
	esac

	copy "$shadow" "$PGDAX_WORK/fsckcopy"
	rc=0
	"$FSCK" -p "$PGDAX_WORK/fsckcopy" >"$PGDAX_WORK/fsck.log" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || { cat "$PGDAX_WORK/fsck.log" >&2; fail "barrier $n: fsck -p exit $rc"; }
	"$FSCK" -n -f "$PGDAX_WORK/fsckcopy" >"$PGDAX_WORK/fsck.log" 2>&1 ||
		{ cat "$PGDAX_WORK/fsck.log" >&2; fail "barrier $n: fsck -n after fsck -p"; }

	pgdax_mount "$shadow" "$mnt"
	json=$("$PGDAXCTL" status --json "$mnt") || fail "barrier $n: status"
	set -- $id
	[[ "$json" == *"\"label\": \"$1\""*"\"uuid\": \"$2\""* ]] ||
		fail "barrier $n: the mount names another identity than '$id': $json"
	[ "$(cat "$mnt/f")" = survivor ] || fail "barrier $n: file lost"
	pgdax_umount "$mnt"
	"$FSCK" -n -f "$shadow" >"$PGDAX_WORK/fsck.log" 2>&1 ||
		{ cat "$PGDAX_WORK/fsck.log" >&2; fail "barrier $n: fsck -n after the mount"; }

	"$PGDAXCTL" tune "$shadow" -L new -U "$NEW_U" >/dev/null || fail "barrier $n: tune again"
	[ "$(identity "$shadow")" = "new $NEW_U" ] || fail "barrier $n: second tune did not complete"
	"$FSCK" -n -f "$shadow" >/dev/null 2>&1 || fail "barrier $n: fsck -n after the second tune"
done
# a lagging header beside a damaged primary: not a state tune leaves
copy "$base" "$dev"
python3 - "$dev" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096 + 16)           # journal header (block 1): j_uuid[0]
    b = f.read(1); f.seek(4096 + 16); f.write(bytes([b[0] ^ 1]))
    f.seek(40)                  # primary superblock: a byte under the crc
    b = f.read(1); f.seek(40); f.write(bytes([b[0] ^ 0xff]))
PY
copy "$dev" "$PGDAX_WORK/fsckcopy"
rc=0
"$FSCK" -p "$PGDAX_WORK/fsckcopy" >"$PGDAX_WORK/fsck.log" 2>&1 || rc=$?
[ $((rc & 4)) -eq 4 ] || { cat "$PGDAX_WORK/fsck.log" >&2; fail "fsck -p took a lagging header beside a backup (exit $rc)"; }
for try in 1 2; do
	"$PGDAXFS" "$dev" "$mnt" -f >"$PGDAX_WORK/refused.log" 2>&1 &&
		{ fusermount3 -u "$mnt"; fail "mount $try accepted a lagging header beside a backup"; }
	grep -q "journal header @4096: uuid or checksum does not match" "$PGDAX_WORK/refused.log" ||
		fail "mount $try: unclear refusal: $(cat "$PGDAX_WORK/refused.log")"
done

[ "$seen_old" -ge 1 ] && [ "$seen_new" -ge 1 ] ||
	fail "expected both identities across the cut points (old $seen_old, new $seen_new)"
echo "tune crash: $total barriers, $seen_old old, $seen_new new identity: ok"
