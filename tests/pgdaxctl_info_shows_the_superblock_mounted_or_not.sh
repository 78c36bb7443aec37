#!/bin/bash
# pgdaxctl info DEVICE shows the volume's superblock like dumpe2fs -h
# (label, uuid, version, state, error state, alignment, block size, sizes
# and usage from the bitmaps, times, mount count, journal), human and
# --json, on an unmounted volume and on a mounted one (it reads without
# the device's exclusive lock, and the mount goes on serving); a damaged
# primary superblock gives a message naming fsck and the backup's view;
# a device without a pgdaxfs says so and still shows the device part.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init

dev=$(pgdax_new_device 64M 2M)
pgdax_mkfs "$dev" -L infotest -U 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9
out=$("$PGDAXCTL" info "$dev") || fail "info exited $?"
want() { grep -Eq "$1" <<<"$out" || fail "info lacks /$1/ in:
$out"; }
want '^kind: +emulated$'
want '^align: +2097152 \(2M\)$'
want '^superblock: +primary @0, backup @[0-9]+ matches$'
want '^volume name: +infotest$'
want '^volume uuid: +0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9$'
want '^format version: +1\.[0-9]+$'
want '^state: +clean$'
want '^errors: +none$'
want '^volume align: +2097152 \(2M\)$'
want '^block size: +4096$'
want '^block count: +16384$'
want '^free inodes: +[0-9]+$'
want '^mount count: +0$'
want '^last mount time: +-$'
want '^journal: +block 1, [0-9]+ blocks$'
want '^journal sequence: +0 committed, none pending$'
json=$("$PGDAXCTL" info --json "$dev") || fail "info --json exited $?"
for k in '"label":"infotest"' '"uuid":"0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"' \
	 '"state":"clean"' '"errors":"none"' '"error_count":0' '"align":2097152' \
	 '"block_size":4096' '"used_inodes":1' '"mount_count":0' '"journal_pending":false'; do
	[[ "$json" == *"$k"* ]] || fail "info --json lacks $k: $json"
done
python3 -c 'import json,sys; json.loads(sys.argv[1])' "$json" || fail "info --json is not JSON"

# the error state (hot fields after s_crc, lib/vol/format.h): bits, count,
# first/last time, last inode; on an image of minor < 2 they read as none
poke() { # IMAGE MINOR: s_errors=3, count 2, times, inode 7; s_minor, crc resealed
	python3 - "$@" <<'PY'
import struct, sys
def crc32c(b, c=0xffffffff):
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
with open(sys.argv[1], "r+b") as f:
    sb = bytearray(f.read(456))
    struct.pack_into("<H", sb, 10, int(sys.argv[2]))
    struct.pack_into("<I", sb, 372, crc32c(bytes(sb[:372])))
    struct.pack_into("<5Q", sb, 416, 3, 2, 1000000000, 1700000000, 7)
    f.seek(0)
    f.write(sb)
PY
}
img=$(pgdax_new_device 32M)
cp --sparse=always "$dev" "$img"
poke "$img" 2
out=$("$PGDAXCTL" info "$img") || fail "info on a volume with errors exited $?"
want '^errors: +fsck,runtime$'
want '^error count: +2$'
want '^first error time: +2001-09-09 01:46:40 UTC$'
want '^last error time: +2023-11-14 22:13:20 UTC$'
want '^last error inode: +7$'
"$PGDAXCTL" info --json "$img" | grep -q '"errors":"fsck,runtime","error_bits":3,"error_count":2,"first_error_time":1000000000,"last_error_time":1700000000,"last_error_ino":7' ||
	fail "info --json error state: $("$PGDAXCTL" info --json "$img")"
poke "$img" 1
out=$("$PGDAXCTL" info "$img") || fail "info on a minor-1 image exited $?"
want '^format version: +1\.1$'
want '^errors: +none$'
grep -q '^error count:' <<<"$out" && fail "minor-1 image shows an error count: $out"

# mounted: info works without disturbing the daemon's lock or service
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
echo data >"$mnt/f"
out=$("$PGDAXCTL" info "$dev") || fail "info on a mounted volume exited $?"
want '^state: +dirty$'
want '^mount count: +1$'
want '^used inodes: +2$'
cat "$mnt/f" >/dev/null || fail "mount stopped serving after info"
echo more >"$mnt/g" || fail "mount refuses writes after info"
pgdax_umount "$mnt"
out=$("$PGDAXCTL" info "$dev")
want '^state: +clean$'

# a damaged primary: message naming fsck, the backup's view
printf '\xff' | dd of="$dev" bs=1 seek=40 conv=notrunc status=none
err=$("$PGDAXCTL" info "$dev" 2>&1 >"$PGDAX_WORK/out") || fail "info with a bad primary exited $?"
out=$(cat "$PGDAX_WORK/out")
[[ "$err" == *"primary superblock damaged"*"showing the backup"*"run fsck.pgdaxfs"* ]] ||
	fail "no clear message for a damaged primary: $err"
want '^superblock: +BACKUP @[0-9]+ \(the primary @0 is damaged'
want '^volume name: +infotest$'
"$PGDAXCTL" info --json "$dev" 2>/dev/null | grep -q '"superblock":"backup"' ||
	fail "info --json does not say the backup is shown"

# both copies gone: exit 1, the reason; no pgdaxfs at all: said, exit 0
size=$(stat -c %s "$dev")
dd if=/dev/zero of="$dev" bs=4096 seek=$((size / 4096 - 1)) count=1 conv=notrunc status=none
must_fail "$PGDAXCTL" info "$dev"
raw=$(pgdax_new_device 32M)
out=$("$PGDAXCTL" info "$raw") || fail "info on an unformatted device exited $?"
want '^filesystem: +none \(no pgdaxfs superblock'
echo "pgdaxctl info: ok"
