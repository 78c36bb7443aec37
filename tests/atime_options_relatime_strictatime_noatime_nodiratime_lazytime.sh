#!/bin/bash
# SPDX-License-Identifier: MIT
# Every access-time option README lists is accepted (libfuse 3.14 refused
# relatime, strictatime, nodiratime, lazytime) and does what Linux does:
# relatime (the default) updates atime on a read when atime is not after
# mtime/ctime, not on a second read; strictatime on every read; noatime
# never; nodiratime not for directory listings; lazytime still updates.
# Reads that hit the kernel's page cache count too (the open is the access
# the daemon sees), and the updated atime survives a remount.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
OLD=2000-01-01

at() { stat -c %.9X "$1"; }		# atime, ns
gt() { (( 10#${1/./} > 10#${2/./} )); }	# a later time? (ns)
old() { [ "$(stat -c %X "$1")" = "$(date -d "$OLD" +%s)" ]; }

# relatime (the default): the first read after a change updates, the next does not
pgdax_mount "$dev" "$mnt"
echo data >"$mnt/f"
mkdir "$mnt/d"
touch -a -d "$OLD" "$mnt/f" "$mnt/d"
cat "$mnt/f" >/dev/null
! old "$mnt/f" || fail "relatime: a read left atime at $OLD"
a1=$(at "$mnt/f")
cat "$mnt/f" >/dev/null
[ "$(at "$mnt/f")" = "$a1" ] || fail "relatime: a second read updated atime again"
echo more >>"$mnt/f"		# mtime is now after atime
cat "$mnt/f" >/dev/null	# (from the page cache: the write went through it)
gt "$(at "$mnt/f")" "$a1" || fail "relatime: a read after a write did not update atime"
ls "$mnt/d" >/dev/null
! old "$mnt/d" || fail "relatime: listing a directory left its atime at $OLD"
a1=$(at "$mnt/f")
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(at "$mnt/f")" = "$a1" ] || fail "atime not kept across a remount: $(at "$mnt/f") != $a1"
pgdax_umount "$mnt"

# strictatime: every read
pgdax_mount "$dev" "$mnt" -o strictatime
cat "$mnt/f" >/dev/null
a1=$(at "$mnt/f")
cat "$mnt/f" >/dev/null
gt "$(at "$mnt/f")" "$a1" || fail "strictatime: a second read did not update atime"
pgdax_umount "$mnt"

# noatime: never
pgdax_mount "$dev" "$mnt" -o noatime
touch -a -d "$OLD" "$mnt/f" "$mnt/d"
cat "$mnt/f" >/dev/null
ls "$mnt/d" >/dev/null
old "$mnt/f" || fail "noatime: a read updated atime"
old "$mnt/d" || fail "noatime: a listing updated atime"
grep " $mnt " /proc/mounts | grep -qw noatime || fail "noatime not shown in /proc/mounts"
pgdax_umount "$mnt"

# nodiratime (with relatime, lazytime): files yes, directories no
pgdax_mount "$dev" "$mnt" -o relatime,nodiratime,lazytime
cat "$mnt/f" >/dev/null
ls "$mnt/d" >/dev/null
! old "$mnt/f" || fail "nodiratime,lazytime: a file read left atime at $OLD"
old "$mnt/d" || fail "nodiratime: a directory listing updated atime"
pgdax_umount "$mnt"

# the rest are accepted too
pgdax_mount "$dev" "$mnt" -o atime,diratime,norelatime,nostrictatime,nolazytime
pgdax_umount "$mnt"
