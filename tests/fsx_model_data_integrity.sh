#!/bin/bash
# Random writes, reads, truncates, punches, zero ranges, copies and mmap
# reads/writes on pgdaxfs match an in-memory model byte for byte
# (tests/fsx_model.c), through a remount too. FSX_OPS sets the op count
# (make check: 100000; make check-fsx-long: 1000000); FSX_SEED replays.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
ops=${FSX_OPS:-100000}
seed=${FSX_SEED:-$(( $(date +%s) % 1000000 ))}

dev=$(pgdax_new_device 512M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
"$top_builddir/tests/fsx_model" "$mnt/fsx.dat" -n "$ops" -s "$seed" ||
	fail "fsx_model found a mismatch (seed $seed); replay with FSX_SEED=$seed FSX_OPS=$ops"
# a second file, small max size so truncates and holes overlap often
"$top_builddir/tests/fsx_model" "$mnt/fsx-small.dat" -n $((ops / 4)) -s $((seed + 1)) -m 262144 ||
	fail "fsx_model (small file) found a mismatch (seed $((seed + 1)))"
sum=$(sha256sum <"$mnt/fsx.dat")
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(sha256sum <"$mnt/fsx.dat")" = "$sum" ] || fail "fsx file changed across remount"
pgdax_umount "$mnt"
