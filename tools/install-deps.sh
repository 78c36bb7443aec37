#!/bin/bash
# Install the Debian packages pgdaxfs needs to build, test and run, skipping
# the ones already there, then libfuse 3.18 (FUSE-over-io_uring) under
# /opt/pgdaxfs/libfuse-3.18 (tools/install-libfuse318.sh; skipped when there).
# Run as root on Debian 12. Without libfuse 3.18 (no network to Debian's
# archive) the build uses the system's 3.14 and serves over /dev/fuse only.
set -euo pipefail
libfuse318() {
	"$(dirname "$0")/install-libfuse318.sh" ||
		echo "install-deps: libfuse 3.18 not installed: building against the system's libfuse 3.14 (/dev/fuse only)" >&2
}
pkgs=(build-essential autoconf automake libtool pkg-config
      libfuse3-dev fuse3 libpmem2-dev libndctl-dev libdaxctl-dev check fio
      clang libclang-rt-14-dev attr acl sqlite3 liblmdb-dev lmdb-utils python3-lmdb rsync git spin
      mandoc man-db
      # make check-devdax: the QEMU guest (tools/guest/) and what builds it
      qemu-system-x86 qemu-utils debootstrap busybox-static cpio kmod
      e2fsprogs file)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	libfuse318
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
libfuse318
