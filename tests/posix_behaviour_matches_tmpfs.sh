#!/bin/bash
# The POSIX behaviour suite (tests/posix_suite.c: every operation the daemon
# serves, with the errors users meet) gives the same answers on pgdaxfs as
# on tmpfs, i.e. as the kernel's own reference filesystem. Differences that
# are expected are listed below with their reason; anything else fails.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
suite=$top_builddir/tests/posix_suite

ref=$(pgdax_new_dir tmpfs)
mount -t tmpfs -o size=8g tmpfs "$ref"
pgdax_on_exit "umount -l '$ref' 2>/dev/null"
"$suite" "$ref" >"$PGDAX_WORK/tmpfs.out" || fail "posix_suite could not set up on tmpfs"
umount "$ref"

# on a device with 4 KiB alignment and on one with 2 MiB (devdax-like)
for align in 4K 2M; do
dev=$(pgdax_new_device 1G "$align")
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o allow_other
"$suite" "$mnt" >"$PGDAX_WORK/pgdaxfs.out" || {
	grep SETUP-FAILED "$PGDAX_WORK/pgdaxfs.out" >&2
	fail "posix_suite setup steps failed on pgdaxfs ($align alignment)"
}

# Expected differences, "step: tmpfs-answer => pgdaxfs-answer" (reason):
#  - zero_range: tmpfs has no FALLOC_FL_ZERO_RANGE; pgdaxfs implements it.
#  - o_tmpfile: the FUSE protocol of libfuse 3.14 has no TMPFILE op; the
#    kernel answers EOPNOTSUPP for every FUSE filesystem.
#  - sparse_seek after 1 MiB: a write that extends a file past 1 MiB gets a
#    large aligned extent (lib/vol/data.c pick_order: fewer, larger extents for
#    DAX mappings), and allocated-but-unwritten blocks count as data for
#    SEEK_DATA/SEEK_HOLE (they read as zeros), which lseek(2) permits.
#  - open_chardev_null: device nodes are inert unless the mount says -o dev
#    (fs/options.c: the kernel opens them without asking the daemon, which
#    checks permissions; -o dev turns the kernel's own checks on).
expected='
sparse_seek/hole_from_1m: 1052672 => 2097152
sparse_seek/data_after_last: ENXIO => ok
zero_range/zero_range: EOPNOTSUPP => ok
zero_range/zeroed: 0 => 1
zero_range/zero_range_past_eof_keep: EOPNOTSUPP => ok
o_tmpfile/o_tmpfile: ok => EOPNOTSUPP
mknod/open_chardev_null: ok => EBADF
'
diff "$PGDAX_WORK/tmpfs.out" "$PGDAX_WORK/pgdaxfs.out" >"$PGDAX_WORK/diff" && : || true
# turn the diff into "line: a => b" pairs
python3 - "$PGDAX_WORK/tmpfs.out" "$PGDAX_WORK/pgdaxfs.out" >"$PGDAX_WORK/pairs" <<'PY'
import sys
a = dict(l.rstrip('\n').split(': ', 1) for l in open(sys.argv[1]) if ': ' in l)
b = dict(l.rstrip('\n').split(': ', 1) for l in open(sys.argv[2]) if ': ' in l)
for k in list(a) + [k for k in b if k not in a]:
    if a.get(k) != b.get(k):
        print(f"{k}: {a.get(k, '<missing>')} => {b.get(k, '<missing>')}")
PY
unexpected=$(grep -vxF -f <(echo "$expected" | sed '/^$/d') "$PGDAX_WORK/pairs" || true)
n=$(wc -l <"$PGDAX_WORK/tmpfs.out")
if [ -n "$unexpected" ]; then
	echo "steps that differ from tmpfs (tmpfs => pgdaxfs, $align alignment):" >&2
	echo "$unexpected" >&2
	fail "$(echo "$unexpected" | wc -l) of $n steps differ from tmpfs ($align alignment)"
fi
pgdax_umount "$mnt"
echo "posix suite, $align alignment: $n steps, same answers as tmpfs (expected differences: $(wc -l <"$PGDAX_WORK/pairs"))"
done
