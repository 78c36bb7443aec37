#!/bin/bash
# SPDX-License-Identifier: MIT
# O_DIRECT opens are served with FOPEN_DIRECT_IO (no page cache, no
# per-write GETXATTR round trip), which skips the kernel's own setuid
# clearing: the volume clears setuid/setgid on a write by a non-owner
# without CAP_FSETID itself, as Linux does, and the kernel's cached mode
# follows (the daemon invalidates it). A root write keeps the bits, so does
# a non-owner write to a file whose setgid has no group exec bit (a
# mandatory-locking mark, kept by Linux), and a buffered reader of the same
# file sees bytes written through O_DIRECT.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
NOBODY=65534
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
chmod 755 "$PGDAX_WORK" "$mnt"
pgdax_mount "$dev" "$mnt" -o allow_other

as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"; }
dwrite() { # FILE: one 4 KiB O_DIRECT write at offset 4096, no truncation
	dd if=/dev/urandom of="$1" bs=4096 count=1 seek=1 oflag=direct conv=notrunc status=none
}

for f in suid sgid sgid-nox root; do
	head -c 16384 /dev/zero >"$mnt/$f"
done
chmod 4777 "$mnt/suid" "$mnt/root"
chmod 2777 "$mnt/sgid"
chmod 2767 "$mnt/sgid-nox"
stat -c '%a' "$mnt/suid" | grep -qx 4777 || fail "cannot set up a setuid file"

# cached attributes first (the kernel keeps them for FS_ATTR_TIMEOUT)
stat "$mnt"/* >/dev/null
as_nobody bash -c "$(declare -f dwrite); dwrite '$mnt/suid'" || fail "O_DIRECT write by nobody failed"
[ "$(stat -c %a "$mnt/suid")" = 777 ] ||
	fail "O_DIRECT write by a non-owner kept setuid: mode $(stat -c %a "$mnt/suid")"
as_nobody bash -c "$(declare -f dwrite); dwrite '$mnt/sgid'" || fail "O_DIRECT write by nobody failed"
[ "$(stat -c %a "$mnt/sgid")" = 777 ] ||
	fail "O_DIRECT write by a non-owner kept setgid+g+x: mode $(stat -c %a "$mnt/sgid")"
as_nobody bash -c "$(declare -f dwrite); dwrite '$mnt/sgid-nox'" || fail "O_DIRECT write by nobody failed"
[ "$(stat -c %a "$mnt/sgid-nox")" = 2767 ] ||
	fail "setgid without group exec must stay: mode $(stat -c %a "$mnt/sgid-nox")"
dwrite "$mnt/root" || fail "O_DIRECT write by root failed"
[ "$(stat -c %a "$mnt/root")" = 4777 ] ||
	fail "a write by root (CAP_FSETID) cleared setuid: mode $(stat -c %a "$mnt/root")"

# the bits are gone on the medium too, not only in the kernel's cache
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt" -o allow_other
[ "$(stat -c %a "$mnt/suid")" = 777 ] || fail "setuid back after remount"

# a buffered reader (page cache) sees an O_DIRECT write at once
exec 5<"$mnt/root"
head -c 16384 <&5 >/dev/null
dd if=/dev/urandom of="$PGDAX_WORK/blk" bs=4096 count=1 status=none
dd if="$PGDAX_WORK/blk" of="$mnt/root" bs=4096 seek=2 oflag=direct conv=notrunc status=none ||
	fail "O_DIRECT write failed"
exec 5<&-
cmp <(dd if="$mnt/root" bs=4096 skip=2 count=1 status=none) "$PGDAX_WORK/blk" ||
	fail "buffered read does not see the O_DIRECT write"
pgdax_umount "$mnt"
