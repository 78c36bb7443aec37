#!/bin/bash
# SPDX-License-Identifier: MIT
# statx(2) reports the birth time every inode stores (libfuse 3.18's statx
# op): set when the file is created (between the times before and after the
# create), and unchanged by writes, chmod, utimens and a remount, while
# mtime/ctime move. Files and directories alike. The 3.14 build has no statx
# op (btime is not reported there) and skips.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
grep -q '^#define PGDAX_HAVE_FUSE_REQ_UNIQUE 1' "$top_builddir/config.h" ||
	{ echo "SKIP: built against libfuse < 3.18 (no statx op)"; exit 77; }
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

ns() { date +%s%N; }
bt() { local w; w=$(stat -c %.9W "$1"); echo "${w/./}"; }	# btime, ns ("0" if unknown)

t0=$(ns)
echo data >"$mnt/f"
mkdir "$mnt/d"
t1=$(ns)
b=$(bt "$mnt/f")
bd=$(bt "$mnt/d")
[ "$(stat -c %w "$mnt/f")" != - ] || fail "no birth time reported (stat %w is '-')"
((10#$b >= t0 - 1000000000 && 10#$b <= t1)) ||
	fail "birth time $b not at the create (between $t0 and $t1)"
((10#$bd >= t0 - 1000000000 && 10#$bd <= t1)) || fail "directory birth time $bd not at mkdir"

# the test's clock and the daemon's are the same: wait until it has moved on
until (($(ns) > t1 + 20000000)); do :; done
echo more >>"$mnt/f"
dd if=/dev/zero of="$mnt/f" bs=4096 count=4 oflag=direct conv=notrunc status=none
chmod 600 "$mnt/f"
touch -m -d 2000-01-01 "$mnt/f"
touch "$mnt/d/x"
[ "$(bt "$mnt/f")" = "$b" ] || fail "birth time changed by writes/chmod/utimens: $(bt "$mnt/f") != $b"
[ "$(bt "$mnt/d")" = "$bd" ] || fail "directory birth time changed by a create in it"
(($(stat -c %Z "$mnt/f") * 1000000000 > 10#$b - 1000000000)) || fail "ctime did not move"

pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(bt "$mnt/f")" = "$b" ] || fail "birth time changed by a remount: $(bt "$mnt/f") != $b"
[ "$(bt "$mnt/d")" = "$bd" ] || fail "directory birth time changed by a remount"
pgdax_umount "$mnt"
