#!/bin/bash
# The mixed small-operation workload of bench/mixed-ops (reads, writes,
# truncates, fallocate plain and KEEP_SIZE, punch, zero-range, mmap reads
# and writes on one file) reads back exactly what an in-memory model says,
# the plain mix and the fallocate-heavy one, and the file survives a
# remount. The short variant of make bench-mixed (MIXED_OPS sets the count).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
ops=${MIXED_OPS:-5000}

dev=$(pgdax_new_device 256M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
"$top_builddir/bench/mixed-ops" mixed "$mnt/m" -n "$ops" -s 7 || fail "mixed ops differ from the model"
"$top_builddir/bench/mixed-ops" mixed "$mnt/f" -n "$ops" -s 8 -f ||
	fail "fallocate-heavy ops differ from the model"
"$top_builddir/bench/mixed-ops" append "$mnt/a" -n 2000 -b 100 || fail "O_APPEND writes lost bytes"
sum=$(sha256sum <"$mnt/m")
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(sha256sum <"$mnt/m")" = "$sum" ] || fail "the mixed-ops file changed across remount"
pgdax_umount "$mnt"
