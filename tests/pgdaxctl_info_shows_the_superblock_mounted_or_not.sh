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
