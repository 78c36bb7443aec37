#!/bin/bash
# SPDX-License-Identifier: MIT
# fallocate modifies a file as a write does: Linux (ext4, xfs, tmpfs) drops
# setuid/setgid when a non-owner without CAP_FSETID allocates, punches a hole
# or zeroes a range, and the kernel's cached mode must follow at once. The
# same sequence runs on tmpfs (the reference; it has no zero-range) and on
# pgdaxfs; a root fallocate keeps the bits, and the cleared bits stay
# cleared on the medium (remount).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
NOBODY=65534
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
ref=$(pgdax_new_dir ref)
chmod 755 "$PGDAX_WORK" "$mnt" "$ref"
mount -t tmpfs -o size=16M tmpfs "$ref"
pgdax_on_exit umount "$ref"
pgdax_mount "$dev" "$mnt" -o allow_other

as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"; }
# MODE DIR: a mode 06777 root-owned file, fallocated by nobody; prints the mode after
falloc_mode() {
	local f=$2/$1 args
	head -c 16384 /dev/zero >"$f"
	chmod 6777 "$f"
	stat -c %a "$f" >/dev/null	# the kernel caches the attributes
	case $1 in
	alloc) args="-o 0 -l 32768" ;;
	keep) args="-n -o 0 -l 65536" ;;
	punch) args="-p -o 4096 -l 4096" ;;
	zero) args="-z -o 4096 -l 4096" ;;
	root) args="-o 0 -l 32768" ;;
	esac
	if [ "$1" = root ]; then
		fallocate $args "$f" || return 1
	else
		as_nobody fallocate $args "$f" || return 1
	fi
	stat -c %a "$f"
}

for m in alloc keep punch; do
	[ "$(falloc_mode $m "$ref")" = 777 ] || fail "tmpfs reference: $m kept setuid?"
	got=$(falloc_mode $m "$mnt") || fail "fallocate ($m) by nobody failed"
	[ "$got" = 777 ] || fail "fallocate ($m) by a non-owner kept setuid/setgid: mode $got"
done
got=$(falloc_mode zero "$mnt") || fail "fallocate (zero range) by nobody failed"
[ "$got" = 777 ] || fail "fallocate (zero range) by a non-owner kept setuid/setgid: mode $got"
got=$(falloc_mode root "$mnt") || fail "fallocate by root failed"
[ "$got" = 6777 ] || fail "fallocate by root (CAP_FSETID) cleared setuid/setgid: mode $got"

pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt" -o allow_other
for m in alloc keep punch zero; do
	[ "$(stat -c %a "$mnt/$m")" = 777 ] || fail "$m: setuid back after remount"
done
[ "$(stat -c %a "$mnt/root")" = 6777 ] || fail "root: setuid lost after remount"
pgdax_umount "$mnt"
