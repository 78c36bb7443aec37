#!/bin/bash
# A media error under a file's data (emulated: the device file truncated
# under the running daemon, so loads from that range fault) makes read(2) of
# that range fail with EIO; the daemon survives and keeps serving reads of
# the rest of the file. (The file is opened before the cut: directory and
# inode blocks beyond the cut are metadata, not the data path under test.)
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
if first >= 0 and first < off:
    n = os.preadv(fd, [buf], 0)    # blocks before the cut still read
    assert n == 65536 and buf[:28] == b"PGDAXFS-SIGBUS-MARKER-000000", "good range unreadable"
os.close(fd)
PY
kill -0 "$pid" 2>/dev/null || fail "daemon died on a media error"
truncate -s "$size" "$dev"
pgdax_umount "$mnt" "$pid"
