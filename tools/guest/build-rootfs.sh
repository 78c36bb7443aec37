#!/bin/bash
# SPDX-License-Identifier: MIT
# The devdax guest's root filesystem: `debootstrap --variant=minbase
# bookworm` with the packages the project and its tests use (common.sh),
# the kernel's modules copied in and `depmod` run in a chroot. Cached as a
# directory; prints it on stdout. $1 = the kernel directory (fetch-kernel.sh).
. "$(dirname "$0")/common.sh"

kdir=$1
kver=$(cat "$kdir/kver")
mirror=${PGDAX_GUEST_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
key=$(guest_key "$0" "$GUEST_DIR/common.sh" -- "$(cat "$kdir/package")" "${GUEST_PACKAGES[@]}")
out=$GUEST_CACHE/rootfs-$key
if [ -e "$out/.done" ]; then
	glog "rootfs: cached in $out"
	echo "$out"
	exit 0
fi
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
glog "rootfs: debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
incl=$(IFS=,; echo "${GUEST_PACKAGES[*]}")
if ! debootstrap --variant=minbase --include="$incl" bookworm "$tmp/root" "$mirror" \
	>"$tmp/debootstrap.log" 2>&1; then
	tail -30 "$tmp/debootstrap.log" >&2
	[ -f "$tmp/root/debootstrap/debootstrap.log" ] && tail -30 "$tmp/root/debootstrap/debootstrap.log" >&2
	gdie "debootstrap failed"
fi
glog "rootfs: adding the modules of $kver and running depmod in the chroot"
mkdir -p "$tmp/root/lib/modules"
cp -a "$kdir/modules/$kver" "$tmp/root/lib/modules/"
chroot "$tmp/root" /sbin/depmod -a "$kver"
# what the guest never needs: keep the image small
rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"* \
	"$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/usr/share/locale" \
	"$tmp/root/usr/share/info"
echo pgdax-guest >"$tmp/root/etc/hostname"
touch "$tmp/.done"
trap - EXIT
guest_prune rootfs "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
glog "rootfs: $(du -sh "$out/root" | cut -f1) in $out"
echo "$out"
