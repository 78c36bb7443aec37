# SPDX-License-Identifier: MIT
# Shared by the host-side scripts of the devdax guest (tools/guest/*.sh):
# where the cache lives and how a cached artefact is keyed.
#
# The cache lives outside the source tree (PGDAX_GUEST_CACHE, default
# /var/cache/pgdaxfs-guest) so that clean clones and out-of-tree builds
# share it. Every artefact is a directory named <what>-<key>, where key is a
# hash of its inputs (the scripts that make it, the package list, the kernel
# package version): a changed input gives a new key and a rebuild, an
# unchanged one reuses the directory. A directory is complete only when its
# ".done" file exists; builds happen in a temporary sibling renamed into
# place, so an interrupted build never leaves a half artefact behind.

set -euo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_CACHE=${PGDAX_GUEST_CACHE:-/var/cache/pgdaxfs-guest}
mkdir -p "$GUEST_CACHE"

glog() { echo "[guest $(date +%T)] $*" >&2; }
gdie() { echo "[guest] ERROR: $*" >&2; exit 1; }

# Packages of the guest's root filesystem (besides debootstrap's minbase):
# the runtime libraries of the project, the namespace tools, and what the
# tests run.
GUEST_PACKAGES=(fuse3 libfuse3-3 libpmem2 libndctl6 libdaxctl1 ndctl daxctl
	kmod util-linux e2fsprogs attr acl fio procps psmisc coreutils
	findutils grep sed gawk xxd bsdextrautils)

# The kernel: Debian 12's linux-image-6.1.0-N-amd64 that linux-image-amd64
# depends on today, or PGDAX_GUEST_KERNEL_PKG.
guest_kernel_pkg() {
	if [ -n "${PGDAX_GUEST_KERNEL_PKG:-}" ]; then
		echo "$PGDAX_GUEST_KERNEL_PKG"
		return
	fi
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-6\.1\.0-[0-9]+-amd64$/ {print $2; exit}'
}

guest_kernel_version() { # PKG -> package version (part of every key)
	apt-cache show "$1" 2>/dev/null | awk '/^Version:/ {print $2; exit}'
}

# key FILES... [-- STRINGS...]: short hash of the files' contents and strings
guest_key() {
	local files=() strs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	strs=("$@")
	{ cat "${files[@]}"; printf '%s\n' "${strs[@]}"; } | sha256sum | cut -c1-16
}

# Remove other versions of artefact WHAT (older keys), keep KEEP.
guest_prune() {
	local what=$1 keep=$2 d
	for d in "$GUEST_CACHE/$what"-*; do
		[ -e "$d" ] || continue
		[ "$d" = "$keep" ] && continue
		case "$d" in *.tmp.*) [ -d "/proc/${d##*.tmp.}" ] && continue ;; esac
		glog "removing stale $d"
		rm -rf "$d"
	done
}
