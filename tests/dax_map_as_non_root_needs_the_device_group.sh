#!/bin/bash
# SPDX-License-Identifier: MIT
# Non-root DAX: a user who may open a file still may not map it until the
# device is granted to it. Before: pgdax_map fails with EACCES and
# pgdax_errormsg() names the device, its owner, group and mode, the access
# missing and how to grant it. After mounting the emulated device with
# -o dax_group=GID,dax_mode=0660, a member of that group maps read-write
# (and its stores are the file's data); a non-member is still refused. The
# options are refused for a device node (udev owns it) and bad modes are
# refused, leaving nothing mounted.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

NOBODY=65534
# a group id no one has (nothing is added to /etc/group)
GID=
for g in $(seq 64100 64199); do
	getent group "$g" >/dev/null || { GID=$g; break; }
done
[ -n "$GID" ] || fail "no free gid in 64100-64199"
bin=$(pgdax_new_dir bin)
chmod 755 "$PGDAX_WORK" "$bin"
cp "$CLIENT" "$bin/pgdax_client"
cp -P "$top_builddir"/lib/.libs/libpgdax.so* "$bin/"
chmod -R a+rX "$bin"
as_member() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --groups="$GID" \
		env LD_LIBRARY_PATH="$bin" "$bin/pgdax_client" "$@"
}
as_stranger() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
		env LD_LIBRARY_PATH="$bin" "$bin/pgdax_client" "$@"
}

dev=$(pgdax_new_device 64M)
chmod 600 "$dev"
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
chmod 755 "$mnt"

# before: the file is the user's, the device is root's 0600
pgdax_mount "$dev" "$mnt" -o allow_other
chmod 755 "$mnt"
head -c 64K /dev/urandom >"$mnt/mine"
chown $NOBODY:$NOBODY "$mnt/mine"
out=$(as_member expect-error EACCES "$mnt/mine" 0 64K rw) || fail "map without device access did not fail with EACCES"
echo "$out" >&2
echo "$out" | grep -q "needs read and write access to the device $dev" ||
	fail "EACCES message does not name the device and the access missing"
echo "$out" | grep -q "mode 0600" || fail "EACCES message does not show the device mode"
echo "$out" | grep -q "dax_group=GROUP,dax_mode=0660" || fail "EACCES message does not say how to grant it"
out=$(as_member expect-error EACCES "$mnt/mine" 0 64K ro) || fail "read-only map without device access did not fail"
echo "$out" | grep -q "needs read access" || fail "read-only EACCES message does not say read access"
pgdax_umount "$mnt"

# the options: refused for a device node and for a mode without owner rw
out=$("$PGDAXFS" /dev/null "$mnt" -f -o dax_group=$GID 2>&1) && fail "dax_group on a device node was accepted"
echo "$out" | grep -q "udev" || fail "dax_group on a device node: no word about udev: $out"
must_fail "$PGDAXFS" "$dev" "$mnt" -f -o dax_mode=0066
must_fail "$PGDAXFS" "$dev" "$mnt" -f -o dax_mode=9
must_fail "$PGDAXFS" "$dev" "$mnt" -f -o dax_mode=0666	# world-writable: anyone could forge inodes
must_fail "$PGDAXFS" "$dev" "$mnt" -f -o dax_mode=0670
pgdax_is_mounted "$mnt" && fail "a refused option left a mount"

# after: granted to the group
pgdax_mount "$dev" "$mnt" -o allow_other,dax_group=$GID,dax_mode=0660
chmod 755 "$mnt"
[ "$(stat -c %g:%a "$dev")" = "$GID:660" ] || fail "device is $(stat -c %g:%a "$dev"), expected $GID:660"
as_member map "$mnt/mine" 0 64K rw fill=5 >&2 || fail "group member could not map read-write"
"$CLIENT" verify "$mnt/mine" 64K 5 0 exact >/dev/null || fail "member's DAX stores are not the file's data"
as_stranger expect-error EACCES "$mnt/mine" 0 64K ro >&2 || fail "a non-member was not refused"
pin_wait_status "$mnt" pins 0
pgdax_umount "$mnt"
