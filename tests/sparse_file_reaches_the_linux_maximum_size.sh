#!/bin/bash
# A sparse file may be as large as Linux allows (MAX_LFS_FILESIZE, 2^63 - 1,
# what tmpfs and ext4 with large extents allow): truncate -s to it works and
# stat shows it; a byte written near it (in the last block an extent may
# name, 2^63 - 4097 with 4 KiB blocks) reads back, the hole before it reads
# zeros, SEEK_DATA finds it; a write past 2^63 - 1 fails (the kernel says
# EINVAL); one into the last 4 KiB block fails with EFBIG (pgdaxfs's one
# limit there, lib/vol/data.c says why);
# the file survives a remount and fsck finds the volume clean. It used to
# stop at 2^60 (truncate failed with EFBIG).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

max=9223372036854775807
near=$((max - 4096))	# last byte of the last block an extent may name
truncate -s "$max" "$mnt/big" || fail "truncate -s 2^63-1 failed"
[ "$(stat -c %s "$mnt/big")" = "$max" ] || fail "size is $(stat -c %s "$mnt/big"), not $max"

python3 - "$mnt/big" "$near" "$max" <<'PY' || fail "I/O near the maximum size failed"
import errno, os, sys
path, near, mx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_RDWR)
if os.pwrite(fd, b"Z", near) != 1:
    sys.exit("short write at %d" % near)
if os.pread(fd, 1, near) != b"Z":
    sys.exit("byte at %d did not read back" % near)
if os.pread(fd, 4096, near - 4096) != bytes(4096):
    sys.exit("the hole before it does not read zeros")
if os.lseek(fd, 0, os.SEEK_DATA) != near - (near % 4096):
    sys.exit("SEEK_DATA does not find the block: %d" % os.lseek(fd, 0, os.SEEK_DATA))
# past 2^63 - 1 the kernel refuses (EINVAL: the end overflows loff_t)
try:
    os.pwrite(fd, b"xy", mx - 1)
    sys.exit("a write past 2^63 - 1 succeeded")
except OSError as e:
    if e.errno not in (errno.EFBIG, errno.EINVAL):
        sys.exit("a write past 2^63 - 1 failed with %s" % os.strerror(e.errno))
# the last 4 KiB block below 2^63 no extent record may name: EFBIG, and
# nothing changes (lib/vol/data.c MAX_FILE_PAGES)
try:
    os.pwrite(fd, b"x", mx - 2)
    sys.exit("a write in the last block below 2^63 succeeded")
except OSError as e:
    if e.errno != errno.EFBIG:
        sys.exit("a write in the last block failed with %s, not EFBIG" % os.strerror(e.errno))
if os.fstat(fd).st_size != mx or os.pread(fd, 1, near) != b"Z":
    sys.exit("a refused write changed the file")
os.close(fd)
PY
pgdax_umount "$mnt"
"$FSCK" -n "$dev" >&2 || fail "fsck finds the volume damaged with a 2^63-1 byte file"
pgdax_mount "$dev" "$mnt"
[ "$(stat -c %s "$mnt/big")" = "$max" ] || fail "size lost across a remount"
python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
sys.exit(0 if os.pread(fd, 1, int(sys.argv[2])) == b'Z' else 'byte lost across a remount')
" "$mnt/big" "$near" || fail "byte near the maximum lost across a remount"
rm "$mnt/big" || fail "unlink failed"
pgdax_umount "$mnt"
"$FSCK" -n "$dev" >&2 || fail "fsck finds the volume damaged after the unlink"
