#!/bin/bash
# Install the Debian packages pgdaxfs needs to build, test and run, skipping
# the ones already there. Run as root on Debian 12.
set -euo pipefail
pkgs=(build-essential autoconf automake libtool pkg-config
      libfuse3-dev fuse3 libpmem2-dev libndctl-dev libdaxctl-dev check fio
      clang libclang-rt-14-dev attr acl sqlite3 rsync git spin
      # make check-devdax: the QEMU guest (tools/guest/) and what builds it
      qemu-system-x86 qemu-utils debootstrap busybox-static cpio kmod
      e2fsprogs file)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
