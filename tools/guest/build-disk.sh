#!/bin/bash
# SPDX-License-Identifier: MIT
# The devdax guest's root disk: a raw ext4 image of the root filesystem
# (build-rootfs.sh) made with `mke2fs -d`, no loop device or mount needed.
# Cached; each run boots a qcow2 overlay of it (run-guest.sh), so the image
# itself is never written. Prints the image's path on stdout.
# $1 = the root filesystem directory.
. "$(dirname "$0")/common.sh"

rdir=$1
key=$(guest_key "$0" "$GUEST_DIR/common.sh" -- "$(basename "$rdir")")
out=$GUEST_CACHE/disk-$key
if [ -e "$out/.done" ]; then
	glog "disk: cached $out/root.img"
	echo "$out/root.img"
	exit 0
fi
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# room for the tests' logs and the project installed at boot
mb=$(( $(du -sm "$rdir/root" | cut -f1) + 768 ))
mke2fs -q -t ext4 -L pgdax-root -d "$rdir/root" "$tmp/root.img" "${mb}M" >&2 ||
	gdie "mke2fs -d $rdir/root failed"
touch "$tmp/.done"
trap - EXIT
guest_prune disk "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
glog "disk: ${mb} MiB image in $out/root.img"
echo "$out/root.img"
