#!/bin/bash
# SPDX-License-Identifier: MIT
# Only processes trusted with device memory may pin: a non-root user cannot
# pin a file it cannot open, nor map (or even pin, calling the ioctl
# directly) device memory without access to the device node; with read
# access to the node it may pin and map read-only, and a writable pin needs
# write access to both the file and the node.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

NOBODY=65534
# the client as a user that can run it wherever the build tree lives
bin=$(pgdax_new_dir bin)
chmod 755 "$PGDAX_WORK" "$bin"
cp "$CLIENT" "$bin/pgdax_client"
cp -P "$top_builddir"/lib/.libs/libpgdax.so* "$bin/"
chmod -R a+rX "$bin"
as_nobody() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
		env LD_LIBRARY_PATH="$bin" "$bin/pgdax_client" "$@"
}

dev=$(pgdax_new_device 64M 2M)
chmod 600 "$dev"
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
chmod 755 "$mnt"
pgdax_mount "$dev" "$mnt" -o allow_other
chmod 755 "$mnt"

head -c 2M /dev/urandom >"$mnt/public"; chmod 644 "$mnt/public"
head -c 2M /dev/urandom >"$mnt/secret"; chmod 600 "$mnt/secret"
head -c 2M /dev/urandom >"$mnt/mine"; chown $NOBODY:$NOBODY "$mnt/mine"; chmod 644 "$mnt/mine"

# a file it cannot open: no descriptor, no pin
must_fail as_nobody map "$mnt/secret" 0 4096 ro
# device node 0600 root: the library's open of the device fails...
as_nobody expect-error EACCES "$mnt/public" 0 4096 ro >&2
# ...and the daemon refuses the pin itself to a client that skips the library
as_nobody rawpin EACCES "$mnt/public" 0 4096 ro >&2
as_nobody rawpin EACCES "$mnt/mine" 0 4096 rw >&2
pin_wait_status "$mnt" pins 0

# read access to the node: read-only pins and mappings work, writable do not
chmod 644 "$dev"
as_nobody rawpin OK "$mnt/public" 0 4096 ro >&2
as_nobody map "$mnt/public" 0 2M ro >&2 || fail "read-only map with read access failed"
as_nobody rawpin EACCES "$mnt/mine" 0 4096 rw >&2
as_nobody expect-error EACCES "$mnt/mine" 0 4096 rw >&2
# a writable pin through a read-only descriptor is refused whoever asks
"$CLIENT" rawpin EACCES "$mnt/public" 0 4096 wflag-on-ro >&2
# write access to the node: the owner of the file may map it writable
chmod 666 "$dev"
as_nobody map "$mnt/mine" 0 2M rw fill=3 >&2 || fail "writable map with access failed"
"$CLIENT" verify "$mnt/mine" 2M 3 0 exact >/dev/null || fail "nobody's DAX write not visible"
# root may always
chmod 600 "$dev"
"$CLIENT" map "$mnt/secret" 0 2M ro >&2 || fail "root could not map"
pin_wait_status "$mnt" pins 0
pgdax_umount "$mnt"
log "PASS"
