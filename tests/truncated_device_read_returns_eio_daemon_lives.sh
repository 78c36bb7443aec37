#!/bin/bash
# The device file cut under the running daemon while a read of the cut range
# is served: read(2) fails with EIO (the kernel's copy from the vanished
# device memory faults), the daemon survives, and the volume goes dead
# (DESIGN.md 4a: a device that went away, not a media error; media errors
# on a device that is still whole are tests/check_dev "guard"): from then on
# every read fails with EIO too, and unmount ends the daemon with status 1.
# (The file is opened before the cut: directory and inode blocks beyond the
# cut are metadata, not the data path under test.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 256M)
size=$(stat -c %s "$dev")
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
pid=$PGDAX_LAST_PID
pgdax_on_exit "truncate -s $size '$dev'"

python3 - "$mnt/victim" "$dev" "$pid" <<'PY' || fail "media error not turned into EIO"
import errno, mmap, os, re, subprocess, sys
path, dev, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
BS, N = 4096, 2048
with open(path, "wb") as f:
    for i in range(N):
        blk = b"PGDAXFS-SIGBUS-MARKER-%06d" % i
        f.write(blk + b"\0" * (BS - len(blk)))
# where does block 1024 of the file live on the device?
data = open(dev, "rb").read()
off = data.find(b"PGDAXFS-SIGBUS-MARKER-001024")
assert off > 0 and off % BS == 0, "marker not found on the device"
first = data.find(b"PGDAXFS-SIGBUS-MARKER-000000")
del data
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536)
os.truncate(dev, off)          # everything from block 1024 on now faults
print("victim block 1024 at device offset %d (block 0 at %d): device cut there" % (off, first))
bad_block = 1024
try:
    os.preadv(fd, [buf], bad_block * BS)
    print("read of the cut range succeeded"); sys.exit(1)
except OSError as e:
    if e.errno != errno.EIO:
        print("expected EIO, got", e); sys.exit(1)
os.kill(pid, 0)                # the daemon is alive
os.close(fd)
PY
kill -0 "$pid" 2>/dev/null || fail "daemon died when its device was cut"
for i in $(seq 1 200); do
	"$top_builddir/tools/pgdaxctl" status --json "$mnt" 2>/dev/null | grep -q '"dead": true' && break
	sleep 0.05
done
"$top_builddir/tools/pgdaxctl" status --json "$mnt" | grep -q '"dead": true' ||
	fail "the volume did not go dead"
if head -c 4096 "$mnt/victim" >/dev/null 2>&1; then
	fail "a read of the part before the cut succeeded on a dead volume"
fi
kill -0 "$pid" 2>/dev/null || fail "daemon died on a dead volume"
umount "$mnt" || fail "umount of the dead mount failed"
pgdax_wait_pid "$pid" 30 || fail "the daemon did not exit after umount"
[ "$PGDAX_STATUS" -eq 1 ] || fail "the daemon of a dead volume exited $PGDAX_STATUS, expected 1"
