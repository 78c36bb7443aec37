#!/bin/bash
# pgdaxctl status accepts any path inside a pgdaxfs mount (a file, a
# subdirectory) or the device it serves and shows that mount, with the
# volume's label and uuid; with no argument it lists every pgdaxfs mount
# (--json: an array); a path on no pgdaxfs mount gets exit 1 and a message.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init

dev1=$(pgdax_new_device 64M)
dev2=$(pgdax_new_device 64M)
pgdax_mkfs "$dev1" -L first
pgdax_mkfs "$dev2" -L second
m1=$(pgdax_new_dir m1)
m2=$(pgdax_new_dir m2)
pgdax_mount "$dev1" "$m1"
pid1=$PGDAX_LAST_PID
pgdax_mount "$dev2" "$m2"
pid2=$PGDAX_LAST_PID
mkdir -p "$m1/a/b"
echo x >"$m1/a/b/f"

for p in "$m1" "$m1/a/b" "$m1/a/b/f" "$dev1"; do
	out=$("$PGDAXCTL" status "$p") || fail "status $p exited $?"
	head -n1 <<<"$out" | grep -q "^$m1: pgdaxfs on $dev1 (emulated), daemon pid $pid1$" ||
		fail "status $p: wrong mount: $out"
	grep -q '^  volume: *label "first", uuid [0-9a-f-]\{36\}$' <<<"$out" ||
		fail "status $p: no label/uuid line: $out"
done
json=$("$PGDAXCTL" status --json "$m2/") || fail "status --json exited $?"
python3 - "$json" "$m2" "$dev2" <<'PY' || fail "status --json $m2: $json"
import json, sys
o = json.loads(sys.argv[1])
assert o["mountpoint"] == sys.argv[2] and o["device"] == sys.argv[3] and o["label"] == "second", o
PY

# no argument: both mounts (other pgdaxfs mounts on the machine may show
# too, and one of them not answering would make the exit status 1)
all=$("$PGDAXCTL" status 2>/dev/null) || true
grep -q "^$m1: pgdaxfs on $dev1 " <<<"$all" || fail "status (all) misses $m1"
grep -q "^$m2: pgdaxfs on $dev2 " <<<"$all" || fail "status (all) misses $m2"
json=$("$PGDAXCTL" status --json 2>/dev/null) || true
python3 - "$json" "$m1" "$m2" "$pid1" "$pid2" <<'PY' || fail "status --json (all): $json"
import json, sys
a = json.loads(sys.argv[1])
got = {o["mountpoint"]: o["daemon_pid"] for o in a}
assert got[sys.argv[2]] == int(sys.argv[4]) and got[sys.argv[3]] == int(sys.argv[5]), got
PY

err=$("$PGDAXCTL" status "$PGDAX_WORK" 2>&1) && fail "status of a non-pgdaxfs path succeeded"
[[ "$err" == *"is not inside a pgdaxfs mount"* ]] || fail "unclear message: $err"
spare=$(pgdax_new_device 32M)
must_fail "$PGDAXCTL" status "$spare"

# a mount whose daemon died (ENOTCONN): reported on stderr, exit 1, the
# others still shown and the JSON array still valid
kill -9 "$pid2"
pgdax_wait_pid "$pid2" || fail "daemon $pid2 did not die"
rc=0
json=$("$PGDAXCTL" status --json 2>"$PGDAX_WORK/err") || rc=$?
[ "$rc" -eq 1 ] || fail "status with a dead mount exited $rc"
grep -q "$m2" "$PGDAX_WORK/err" || fail "dead mount $m2 not reported: $(cat "$PGDAX_WORK/err")"
python3 - "$json" "$m1" <<'PY' || fail "status --json with a dead mount: $json"
import json, sys
assert sys.argv[2] in [o["mountpoint"] for o in json.loads(sys.argv[1])]
PY
fusermount3 -u "$m2" 2>/dev/null || umount -l "$m2"
pgdax_umount "$m1" "$pid1"
echo "pgdaxctl status: ok"
