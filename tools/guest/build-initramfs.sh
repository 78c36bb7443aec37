#!/bin/bash
# SPDX-License-Identifier: MIT
# The devdax guest's initramfs: busybox-static, the modules needed to mount
# the root disk (virtio PCI + block, ext4 and what ext4 needs) and an /init
# (initramfs-init.sh) that loads them, mounts the root disk (/dev/vda) and
# the per-run disk (/dev/vdb) and switch_roots into the per-run guest
# runner. Cached; prints the directory (initrd.img) on stdout.
# $1 = the kernel directory (fetch-kernel.sh).
. "$(dirname "$0")/common.sh"

kdir=$1
kver=$(cat "$kdir/kver")
mods=(virtio_pci virtio_blk crc32c_generic crc16 mbcache jbd2 ext4)
busybox=$(command -v busybox) || gdie "busybox missing (apt-get install busybox-static)"
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	gdie "$busybox is not static (apt-get install busybox-static)"
key=$(guest_key "$0" "$GUEST_DIR/common.sh" "$GUEST_DIR/initramfs-init.sh" "$busybox" -- \
	"$(cat "$kdir/package")" "${mods[@]}")
out=$GUEST_CACHE/initramfs-$key
if [ -e "$out/.done" ]; then
	glog "initramfs: cached in $out"
	echo "$out"
	exit 0
fi
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/root"/{bin,dev,proc,sys,newroot,lib/modules}
trap 'rm -rf "$tmp"' EXIT
mdir=$kdir/modules/$kver

# Modules in load order: each one's dependencies (modules.dep) first.
declare -A seen=()
order=()
add_module() { # NAME
	local rel dep
	rel=$(awk -v m="$1" -F: '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n);
		gsub(/-/, "_", n) } n == m { print $1; exit }' "$mdir/modules.dep")
	if [ -z "$rel" ]; then
		grep -q "/$1.ko" "$mdir/modules.builtin" && return 0
		gdie "module $1 not found in $kver"
	fi
	[ -n "${seen[$rel]:-}" ] && return 0
	seen[$rel]=1
	for dep in $(awk -v r="$rel" -F: '$1 == r { print $2; exit }' "$mdir/modules.dep"); do
		dep=${dep##*/}; dep=${dep%%.ko*}
		add_module "${dep//-/_}"
	done
	order+=("$rel")
}
for m in "${mods[@]}"; do add_module "$m"; done
for rel in "${order[@]}"; do
	cp "$mdir/$rel" "$tmp/root/lib/modules/"
	echo "${rel##*/}" >>"$tmp/root/lib/modules/load-order"
done
cp "$busybox" "$tmp/root/bin/busybox"
cp "$GUEST_DIR/initramfs-init.sh" "$tmp/root/init"
chmod +x "$tmp/root/init"
(cd "$tmp/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp/initrd.img"
rm -rf "$tmp/root"
touch "$tmp/.done"
trap - EXIT
guest_prune initramfs "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
glog "initramfs: ${#order[@]} modules, $(du -h "$out/initrd.img" | cut -f1) in $out"
echo "$out"
