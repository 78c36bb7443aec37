#!/bin/bash
# SPDX-License-Identifier: MIT
# The alignment is part of the volume: nothing about it lives beside the
# image file. A plain `cp` of an image formatted at 2M mounts at 2M, and so
# does `mkfs.pgdaxfs --align 2M` over an existing file: pgdaxctl status
# shows "alignment 2M" and a DAX pin hands out 2 MiB units at 2 MiB-aligned
# device offsets. An align= option that contradicts the volume is refused.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

# MNT WHAT: the mount runs at 2M, as status and a pinned unit show
runs_at_2m() {
	local mnt=$1 what=$2 st tag foff doff len hole
	st=$("$PGDAXCTL" status "$mnt" | grep 'alignment') || fail "$what: no status"
	[[ "$st" == *"alignment 2M"* ]] || fail "$what: status says '$st', not alignment 2M"
	echo data >"$mnt/f"
	pin_start pin pin "$mnt/f" 0 4096 rw
	pin_wait_line pin '^READY'
	read -r tag foff doff len hole < <(grep '^EXT' "$PGDAX_WORK/pin.out" | head -n1)
	[ "$tag" = EXT ] && [ "$foff" = 0 ] && [ "$hole" = 0 ] ||
		fail "$what: unexpected pin extent '$tag $foff $doff $len $hole'"
	[ "$len" = 2097152 ] && [ $((doff % 2097152)) = 0 ] ||
		fail "$what: pinned unit at device offset $doff, $len bytes: not a 2 MiB unit"
	pin_release pin
	rm "$mnt/f"
	log "$what: alignment 2M, pinned unit at device offset $doff"
}

# 1. mkfs --size --align 2M, then a plain copy (cp keeps no xattrs)
orig=$(pgdax_new_device 16M)
"$MKFS" -q -f --size 64M --align 2M "$orig" || fail "mkfs --size 64M --align 2M"
copy=$(pgdax_new_device 16M)
cp "$orig" "$copy"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$copy" "$mnt"
runs_at_2m "$mnt" "copied image"
pgdax_umount "$mnt"

# 2. mkfs --align 2M over an existing file (nothing created, nothing recorded
#    beside it)
dev=$(pgdax_new_device 64M)
"$MKFS" -q --align 2M "$dev" >"$PGDAX_WORK/mkfs.out" || fail "mkfs --align 2M"
pgdax_mount "$dev" "$mnt"
runs_at_2m "$mnt" "mkfs --align 2M over an existing file"
pgdax_umount "$mnt"

# 3. align= must agree with the volume
out=$(timeout 20 "$PGDAXFS" "$dev" "$mnt" -f -o align=4K 2>&1) &&
	fail "a 2M volume mounted with align=4K"
[[ "$out" == *"formatted with alignment 2097152"*"drop the option"* ]] ||
	fail "align=4K on a 2M volume: message '$out' does not say why"
pgdax_is_mounted "$mnt" && fail "a refused mount left a mount"
pgdax_mount "$dev" "$mnt" -o align=2M
pgdax_umount "$mnt"
echo "volume alignment: all checks passed"
