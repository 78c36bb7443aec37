#!/bin/bash
# pgdaxctl tune DEVICE --label L --uuid U|random|time changes the label and
# uuid of an unmounted volume (both superblock copies and the journal
# header): the next mount shows them (pgdaxctl status), fsck finds nothing
# and the files are still there. A mounted volume is refused (the holder is
# named) and so is one not cleanly unmounted (daemon killed: run fsck);
# bad arguments are usage errors.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init

dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev" -L old -U 11111111-2222-4333-8444-555555555555
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
echo keep >"$mnt/f"
pid=$PGDAX_LAST_PID
err=$("$PGDAXCTL" tune "$dev" --label new 2>&1) && fail "tune of a mounted volume succeeded"
[[ "$err" == *"in use by pid $pid"* ]] || fail "tune on a mounted volume: unclear message: $err"
pgdax_umount "$mnt"
"$PGDAXCTL" info "$dev" | grep -q '^volume name: *old$' || fail "a refused tune changed the label"

out=$("$PGDAXCTL" tune "$dev" --label "new label" --uuid 0a0b0c0d-1e1f-4a4b-8c8d-9e9fa0a1a2a3) ||
	fail "tune exited $?: $out"
"$FSCK" -n -f "$dev" >"$PGDAX_WORK/fsck.log" 2>&1 || { cat "$PGDAX_WORK/fsck.log" >&2; fail "fsck -n after tune"; }
pgdax_mount "$dev" "$mnt"
json=$("$PGDAXCTL" status --json "$mnt") || fail "status exited $?"
[[ "$json" == *'"label": "new label"'* ]] || fail "mount after tune: label not new: $json"
[[ "$json" == *'"uuid": "0a0b0c0d-1e1f-4a4b-8c8d-9e9fa0a1a2a3"'* ]] || fail "mount after tune: uuid not new: $json"
[ "$(cat "$mnt/f")" = keep ] || fail "file lost across tune"
pgdax_umount "$mnt"

for u in random time; do
	"$PGDAXCTL" tune "$dev" -U "$u" >"$PGDAX_WORK/tune.out" || fail "tune -U $u"
	new=$(sed -n 's/.*uuid set to //p' "$PGDAX_WORK/tune.out")
	"$PGDAXCTL" info "$dev" | grep -q "^volume uuid: *$new$" || fail "-U $u: $new not recorded"
	v=${new:14:1}
	{ [ "$u" = random ] && [ "$v" = 4 ]; } || { [ "$u" = time ] && [ "$v" = 1 ]; } ||
		fail "-U $u gave a version-$v uuid $new"
done
pgdax_mount "$dev" "$mnt"
# not cleanly unmounted: refused, naming fsck
kill -9 "$PGDAX_LAST_PID"
pgdax_wait_pid "$PGDAX_LAST_PID" || fail "daemon did not die"
fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
err=$("$PGDAXCTL" tune "$dev" -L x 2>&1) && fail "tune of a dirty volume succeeded"
[[ "$err" == *"not cleanly unmounted"*"fsck.pgdaxfs"* ]] || fail "dirty volume: unclear message: $err"
"$FSCK" -p "$dev" >/dev/null 2>&1 || [ $? -le 1 ] || fail "fsck -p of the killed volume"
"$PGDAXCTL" tune "$dev" -L x >/dev/null || fail "tune after fsck -p"

expect_usage() { # MSG ARGS...
	local msg=$1 err rc
	shift
	rc=0
	err=$("$PGDAXCTL" tune "$@" 2>&1) || rc=$?
	[ "$rc" -eq 2 ] && [[ "$err" == *"$msg"* ]] || fail "tune $*: exit $rc, '$err' (wanted 2, '$msg')"
}
expect_usage "not a UUID" "$dev" -U 1234
expect_usage "nothing to change" "$dev"
expect_usage "longer than 63 bytes" "$dev" -L "$(printf 'x%.0s' $(seq 64))"
expect_usage "missing DEVICE" -L x
echo "tune: ok"
