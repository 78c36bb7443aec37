#!/bin/bash
# SPDX-License-Identifier: MIT
# Fetch Debian 12's own kernel for the devdax guest: `apt-get download` the
# linux-image-6.1.0-N-amd64 package and unpack it with `dpkg -x` into the
# cache (never installed on the host). Its config has CONFIG_DEV_DAX=m,
# DEV_DAX_PMEM=m, ACPI_NFIT=m, FUSE_FS=m: everything a real /dev/daxX.Y
# needs. Prints the directory (vmlinuz, lib/modules/VERSION) on stdout.
. "$(dirname "$0")/common.sh"

pkg=$(guest_kernel_pkg)
ver=
[ -n "$pkg" ] && ver=$(guest_kernel_version "$pkg")
if [ -z "$ver" ]; then
	# a fresh machine may have no package lists yet
	glog "kernel: apt knows no linux-image-6.1.0-*-amd64: apt-get update"
	apt-get update -qq >&2 || gdie "apt-get update failed"
	pkg=$(guest_kernel_pkg)
	[ -n "$pkg" ] || gdie "cannot resolve the kernel package (linux-image-amd64's dependency)"
	ver=$(guest_kernel_version "$pkg")
fi
[ -n "$ver" ] || gdie "apt knows no version of $pkg (apt-get update?)"
key=$(guest_key "$0" "$GUEST_DIR/common.sh" -- "$pkg" "$ver")
out=$GUEST_CACHE/kernel-$key
if [ -e "$out/.done" ]; then
	glog "kernel: cached $pkg $ver in $out"
	echo "$out"
	exit 0
fi
glog "kernel: fetching $pkg $ver"
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/deb"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >/dev/null) ||
	gdie "apt-get download $pkg=$ver failed"
dpkg -x "$tmp"/deb/*.deb "$tmp/root"
kver=$(ls "$tmp/root/lib/modules")
[ -f "$tmp/root/boot/vmlinuz-$kver" ] || gdie "no vmlinuz in $pkg"
grep -q '^CONFIG_DEV_DAX=m' "$tmp/root/boot/config-$kver" || gdie "$pkg has no CONFIG_DEV_DAX=m"
# modules.dep (for the initramfs's module list) is made at install time:
# make it here with the host's depmod, on the unpacked tree
depmod -b "$tmp/root" "$kver"
mv "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
mv "$tmp/root/lib/modules" "$tmp/modules"
echo "$kver" >"$tmp/kver"
echo "$pkg $ver" >"$tmp/package"
rm -rf "$tmp/deb" "$tmp/root"
touch "$tmp/.done"
trap - EXIT
guest_prune kernel "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
glog "kernel: $pkg $ver ($kver) in $out"
echo "$out"
