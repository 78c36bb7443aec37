#!/bin/bash
# pgdaxfs is synchronous: every write(2), fsync'd or not, and every
# namespace change that returned before the daemon is killed -9 is present
# after a remount; a writer that was cut off mid-stream loses at most what
# it had not been told was written.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 256M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
pid=$PGDAX_LAST_PID

# acknowledged, no fsync
head -c 5000000 /dev/urandom >"$PGDAX_WORK/ref"
cp "$PGDAX_WORK/ref" "$mnt/nofsync"
dd if="$PGDAX_WORK/ref" of="$mnt/fsynced" bs=64k conv=fsync 2>/dev/null
mkdir "$mnt/dir"
mv "$mnt/nofsync" "$mnt/dir/renamed"
ln -s target "$mnt/dir/link"
echo gone >"$mnt/deleted"; rm "$mnt/deleted"
# a writer streaming numbered records, cut off by the kill: every record
# it reported as written must be there
python3 - "$mnt/stream" "$PGDAX_WORK/acked" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
ack = open(sys.argv[2], "w", buffering=1)
i = 0
while True:
    rec = b"record %08d\n" % i
    try:
        if os.write(fd, rec) != len(rec):
            break
    except OSError:
        break
    ack.write("%d\n" % i)
    i += 1
PY
writer=$!
# the kill lands mid-stream: once the writer has acknowledged 1000 records
# (bounded wait; a writer that died or stalled fails the test)
for i in $(seq 1 600); do
	[ "$(wc -l <"$PGDAX_WORK/acked" 2>/dev/null || echo 0)" -ge 1000 ] && break
	kill -0 "$writer" 2>/dev/null || fail "stream writer ended before the kill"
	sleep 0.05
done
[ "$(wc -l <"$PGDAX_WORK/acked")" -ge 1000 ] || fail "stream writer acknowledged too little in 30 s"
pgdax_kill9 "$pid" "$mnt"
wait "$writer" 2>/dev/null || true
last=$(tail -n1 "$PGDAX_WORK/acked")
[ -n "$last" ] || fail "stream writer acknowledged nothing"

pgdax_mount "$dev" "$mnt"
cmp "$PGDAX_WORK/ref" "$mnt/fsynced" || fail "fsync'd file differs after kill -9"
cmp "$PGDAX_WORK/ref" "$mnt/dir/renamed" || fail "acknowledged (not fsync'd) file differs after kill -9"
[ "$(readlink "$mnt/dir/link")" = target ] || fail "symlink lost"
[ ! -e "$mnt/deleted" ] || fail "deleted file came back"
[ ! -e "$mnt/nofsync" ] || fail "rename undone"
n=$(grep -c '^record ' "$mnt/stream")
[ "$n" -ge $((last + 1)) ] || fail "stream has $n records, $((last + 1)) were acknowledged"
# records are intact and in order
head -n $((last + 1)) "$mnt/stream" | awk '{ if ($2 + 0 != NR - 1) exit 1 }' ||
	fail "stream records corrupt"
if [ -x "$FSCK" ]; then
	pgdax_umount "$mnt"
	"$FSCK" -n -f "$dev" >&2 || fail "fsck finds the filesystem inconsistent after kill -9 + remount"
else
	pgdax_umount "$mnt"
fi
echo "kill -9 after $((last + 1)) acknowledged appends: all present"
