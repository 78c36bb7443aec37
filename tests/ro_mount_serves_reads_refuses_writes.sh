#!/bin/bash
# -o ro: the mount is read-only in /proc/mounts, reads work, and every kind
# of change fails with EROFS; the data is untouched afterwards.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
mkdir "$mnt/d"; echo content >"$mnt/d/f"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt" -o ro
grep " $mnt " /proc/mounts | grep -q " ro," || fail "not read-only in /proc/mounts"
[ "$(cat "$mnt/d/f")" = content ] || fail "read on a ro mount failed"
for cmd in "echo x >'$mnt/d/f'" "touch '$mnt/new'" "mkdir '$mnt/nd'" "rm '$mnt/d/f'" \
	   "chmod 600 '$mnt/d/f'" "mv '$mnt/d/f' '$mnt/d/g'" "ln -s x '$mnt/l'" \
	   "setfattr -n user.a -v b '$mnt/d/f'" "truncate -s 0 '$mnt/d/f'"; do
	out=$(eval "$cmd" 2>&1) && fail "succeeded on a ro mount: $cmd"
	echo "$out" | grep -q "Read-only file system" || fail "$cmd: expected EROFS, got: $out"
done
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(cat "$mnt/d/f")" = content ] || fail "data changed"
pgdax_umount "$mnt"
