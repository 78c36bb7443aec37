#!/bin/bash
# SPDX-License-Identifier: MIT
# tools/quickstart.sh [DEVICE]: the README's first command.
#
# Installs what is missing (tools/install-deps.sh), builds (tools/build.sh),
# installs (make install: daemon, mkfs/fsck/pgdaxctl, mount helpers, so
# `mount -t pgdaxfs` works), then mounts pgdaxfs at /mnt/pgdaxfs-demo on
# DEVICE (a devdax: /dev/daxX.Y, daxX.Y or namespaceX.Y) or, with none, on an
# emulated 1 GiB device /dev/shm/pgdaxfs-demo.img (created and formatted if
# it is not formatted yet), writes a file and reads it back, and prints the
# mount status and how to unmount. Re-runnable: an existing demo mount is
# unmounted first, an existing formatted device is reused (never
# reformatted). Serves over /dev/fuse, the default transport (README:
# -o io_uring is opt-in). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

MNT=/mnt/pgdaxfs-demo
EMUL=/dev/shm/pgdaxfs-demo.img
dev=${1:-}

say() { printf '\n== %s\n' "$*"; }
die() { echo "quickstart: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and mounts)"
case ${dev:-} in -h|--help)
	sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

say "dependencies (tools/install-deps.sh)"
tools/install-deps.sh
say "build (tools/build.sh)"
tools/build.sh
say "install (make install)"
make -C "${PGDAX_BUILD_DIR:-build}" -s install >/dev/null
ldconfig 2>/dev/null || true
for p in pgdaxfs mkfs.pgdaxfs; do
	command -v "$p" >/dev/null || die "$p not on PATH after make install (PATH=$PATH)"
done
[ -x /sbin/mount.pgdaxfs ] || die "/sbin/mount.pgdaxfs missing after make install"

# Already mounted (an earlier run): unmount first, so the device is free.
if awk -v m="$MNT" '$5 == m {f = 1} END {exit !f}' /proc/self/mountinfo; then
	say "unmounting the earlier demo mount at $MNT"
	umount "$MNT" || umount -l "$MNT"
fi

if [ -z "$dev" ]; then
	dev=$EMUL
	if [ ! -f "$dev" ]; then
		say "creating emulated device $dev (1 GiB, sparse)"
		truncate -s 1G "$dev"
	fi
fi
if ! head -c 8 "$dev" 2>/dev/null | grep -q GDAXKFS1; then
	if [ "$dev" = "$EMUL" ]; then
		say "formatting $dev (mkfs.pgdaxfs --align 2M)"
		mkfs.pgdaxfs --align 2M "$dev"
	else
		die "$dev has no pgdaxfs filesystem: run mkfs.pgdaxfs $dev (this erases it) and re-run"
	fi
fi

say "mounting $dev on $MNT (mount -t pgdaxfs)"
mkdir -p "$MNT"
mount -t pgdaxfs "$dev" "$MNT"

say "write a file and read it back"
msg="hello from pgdaxfs, $(date -u +%FT%TZ)"
echo "$msg" >"$MNT/hello.txt"
got=$(cat "$MNT/hello.txt")
[ "$got" = "$msg" ] || die "read back '$got', wrote '$msg'"
echo "$MNT/hello.txt: $got"

say "status"
df -h "$MNT"
grep " $MNT " /proc/mounts
if command -v pgdaxctl >/dev/null; then
	pgdaxctl status "$MNT" || true
fi

cat <<EOF

pgdaxfs is mounted on $MNT (device $dev).
  unmount:      umount $MNT        (returns once the daemon has released the device)
  mount again:  mount -t pgdaxfs $dev $MNT
  fstab line:   $dev $MNT pgdaxfs defaults,noauto 0 0
EOF
