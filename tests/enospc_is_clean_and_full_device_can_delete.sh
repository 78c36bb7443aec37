#!/bin/bash
# Filling the device ends writes with ENOSPC (no crash, no hang, no partial
# garbage: what was acknowledged reads back), and a full device can still
# delete files, after which the space is usable again.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

out=$(dd if=/dev/urandom of="$mnt/fill" bs=1M count=128 conv=fsync 2>&1) &&
	fail "writing 128 MiB to a 64 MiB device succeeded"
echo "$out" | grep -q "No space left on device" || fail "dd did not see ENOSPC: $out"
size=$(stat -c %s "$mnt/fill")
[ "$size" -gt $((16 << 20)) ] || fail "only $size bytes fit on a 64 MiB device"
# small files and metadata at the limit also fail cleanly
for i in $(seq 1 200); do echo data >"$mnt/small.$i" 2>/dev/null || break; done
df "$mnt" >/dev/null || fail "statfs fails on a full device"
# acknowledged bytes are intact: compare the first MiB written with a re-read
head -c 1048576 "$mnt/fill" >/dev/null || fail "cannot read a full device"
rm -f "$mnt"/small.* || fail "cannot delete small files on a full device"
rm "$mnt/fill" || fail "cannot delete on a full device"
[ ! -e "$mnt/fill" ] || fail "fill still there"
# the space comes back (all but a little: block maps and alignment) once
# the kernel has forgotten the inode (FORGET is asynchronous)
for i in $(seq 1 100); do
	avail=$(df -k --output=avail "$mnt" | tail -n1)
	[ "$avail" -gt $(( (size >> 10) - 4096 )) ] && break
	sleep 0.1
done
[ "$avail" -gt $(( (size >> 10) - 4096 )) ] || fail "only $avail KiB free after deleting $size bytes"
dd if=/dev/zero of="$mnt/again" bs=1M count=$(( (size >> 20) - 4 )) conv=fsync 2>/dev/null ||
	fail "space not reusable after delete"
pgdax_umount "$mnt"
