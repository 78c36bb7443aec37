#!/bin/bash
# Everything written before an unmount is there after the remount: file
# contents, sizes, holes, modes, owners, timestamps, links, symlinks, xattrs,
# special files and directories.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 256M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

mkdir -p "$mnt/a/b/c"
head -c 3000000 /dev/urandom >"$mnt/a/rand"
printf 'x' | dd of="$mnt/a/sparse" bs=1 seek=$((100 << 20)) conv=notrunc 2>/dev/null
echo hello >"$mnt/a/b/c/hello"
ln "$mnt/a/b/c/hello" "$mnt/a/hardlink"
ln -s ../a/rand "$mnt/a/b/symlink"
mkfifo "$mnt/a/fifo"
mknod "$mnt/a/null" c 1 3
chmod 4751 "$mnt/a/rand"
chown 123:456 "$mnt/a/b"
touch -d '2001-02-03 04:05:06.123456789' "$mnt/a/b/c/hello"
setfattr -n user.key -v value "$mnt/a/rand"
for i in $(seq 1 300); do echo "$i" >"$mnt/a/b/many.$i"; done
rm "$mnt/a/b/many.150"
snapshot() {
	(cd "$mnt" && find . -printf '%p %y %m %U:%G %s %n %l\n' | sort &&
	 find . -type f -exec sha256sum {} + | sort &&
	 stat -c '%n %y' a/b/c/hello && getfattr -n user.key --only-values a/rand && echo)
}
before=$(snapshot)
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
after=$(snapshot)
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after") >&2; fail "state differs after remount"; }
pgdax_umount "$mnt"
