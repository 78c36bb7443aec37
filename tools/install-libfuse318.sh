#!/bin/bash
# SPDX-License-Identifier: MIT
# tools/install-libfuse318.sh: build libfuse 3.18 (FUSE-over-io_uring) from
# Debian's source package and install it under a prefix of the project's own,
# /opt/pgdaxfs/libfuse-3.18 (or $PGDAX_LIBFUSE_PREFIX). Called by
# tools/install-deps.sh; run as root on Debian 12.
#
# Why this way: Debian 12 ships libfuse 3.14, which has no io_uring transport,
# and its fuse3 package (fusermount3) needs that 3.14, so 3.18 must never go
# over it. Debian's fuse3 3.18 source package (unstable) builds on bookworm
# with meson, liburing-dev and libnuma-dev. We fetch it with apt itself so it
# is verified the way apt verifies everything: the unstable Release file's
# signature against the Debian archive keyring, then the .dsc and tarball
# hashes listed in the signed Sources index. apt's system configuration is
# left alone: a private sources list, lists and cache dir under $CACHE.
#
# One patch on top (tools/libfuse-3.18-req-unique.patch): fuse_req_unique(),
# so the daemon can match a FUSE_INTERRUPT (which still arrives on /dev/fuse)
# to a request that arrived over io_uring; libfuse 3.18 drops those
# interrupts ("no support for interrupts with io-uring"), and pgdaxfs's
# waiting truncates must stay interruptible (fs/loop.c, "io_uring").
#
# Idempotent: exits at once when the prefix already holds a patched 3.18
# build (its fuse3.pc and header say so); the downloaded source stays in
# $CACHE/src, so a rebuild (after removing the prefix) downloads nothing
# when the version is the same.
# Only the library and its headers are installed (-Dutils=false): no second
# fusermount3, no udev rules or init scripts outside the prefix. pgdaxfs's
# daemon finds the library through its rpath (configure adds it).
set -euo pipefail

PREFIX=${PGDAX_LIBFUSE_PREFIX:-/opt/pgdaxfs/libfuse-3.18}
CACHE=${PGDAX_LIBFUSE_CACHE:-/var/cache/pgdaxfs-fuse}
WANT=3.18
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MIRROR=${PGDAX_DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { echo "install-libfuse318: $*"; }
die() { echo "install-libfuse318: $*" >&2; exit 1; }

PATCH=$(cd "$(dirname "$0")" && pwd)/libfuse-3.18-req-unique.patch

installed_version() {
	grep -qs FUSE_HAVE_REQ_UNIQUE "$PREFIX/include/fuse3/fuse_lowlevel.h" || return 0
	PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --modversion fuse3 2>/dev/null || true
}
case $(installed_version) in "$WANT".*)
	exit 0 ;;
esac

[ "$(id -u)" -eq 0 ] || die "libfuse $WANT is not installed in $PREFIX; run as root to build it"
[ -r "$KEYRING" ] || die "$KEYRING missing: apt-get install debian-archive-keyring"

# Build tools: the ordinary way, from the system's own (bookworm) sources.
need=()
for p in meson ninja-build liburing-dev libnuma-dev dpkg-dev pkg-config; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	say "installing build tools: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

# A private apt view that sees only unstable's sources: its own sources list
# (no sources.list.d: SourceParts points nowhere), lists, and package caches,
# so the system's `apt-get install` never sees unstable.
mkdir -p "$CACHE/lists/partial" "$CACHE/apt-cache/archives/partial" "$CACHE/src"
echo "deb-src [signed-by=$KEYRING] $MIRROR unstable main" >"$CACHE/sources.list"
APT=(apt-get -q
     -o "Dir::Etc::SourceList=$CACHE/sources.list"
     -o "Dir::Etc::SourceParts=-"
     -o "Dir::State::Lists=$CACHE/lists"
     -o "Dir::Cache=$CACHE/apt-cache"
     -o "APT::Sandbox::User=root")

# The source, from the cache when its version is the newest 3.18 there is.
dsc=$(ls "$CACHE"/src/fuse3_"$WANT".*.dsc 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$dsc" ]; then
	say "fetching the fuse3 $WANT source package from Debian unstable ($MIRROR)"
	"${APT[@]}" update >/dev/null
	ver=$("${APT[@]}" -o Debug::NoLocking=1 source --print-uris fuse3 2>/dev/null |
	      sed -n "s/.*fuse3_\($WANT\.[^ ]*\)\.dsc .*/\1/p" | head -1)
	[ -n "$ver" ] || die "Debian unstable has no fuse3 $WANT.x source package any more; set PGDAX_DEBIAN_MIRROR or update this script"
	# apt-get source checks each file against the hashes in the Sources
	# index it verified (InRelease signature) and refuses a mismatch.
	(cd "$CACHE/src" && "${APT[@]}" source --download-only "fuse3=$ver" >/dev/null)
	dsc=$CACHE/src/fuse3_$ver.dsc
fi
ver=$(basename "$dsc" .dsc); ver=${ver#fuse3_}
upstream=${ver%-*}

work=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "building libfuse $upstream (Debian $ver) into $PREFIX"
# (--no-check: the maintainer's .dsc signature needs debian-keyring, which
# is not installed; the files were verified against the signed index when
# apt fetched them, and the cached ones are what apt verified.)
dpkg-source --no-check -x "$dsc" "$work/src" >/dev/null
patch -d "$work/src" -p1 --quiet <"$PATCH" || die "$PATCH does not apply to $ver"
# The library and its headers only.
meson setup "$work/build" "$work/src" --prefix="$PREFIX" --libdir=lib \
	--buildtype=release -Dutils=false -Dexamples=false -Dtests=false \
	-Denable-io-uring=true >"$work/meson.log" 2>&1 ||
	{ tail -30 "$work/meson.log" >&2; die "meson setup failed"; }
grep -qiE 'io.uring.*(true|yes|YES)' "$work/meson.log" ||
	{ grep -i uring "$work/meson.log" >&2 || true; die "meson did not enable io_uring (liburing-dev with SQE128 and libnuma-dev needed)"; }
ninja -C "$work/build" >"$work/ninja.log" 2>&1 ||
	{ tail -30 "$work/ninja.log" >&2; die "build failed"; }
ninja -C "$work/build" install >"$work/install.log" 2>&1 ||
	{ tail -30 "$work/install.log" >&2; die "install failed"; }
case $(installed_version) in "$WANT".*) ;; *)
	die "installed, but $PREFIX/lib/pkgconfig/fuse3.pc does not say $WANT" ;;
esac
say "libfuse $(installed_version) installed in $PREFIX"
