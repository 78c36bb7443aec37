#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/storefs (the fio suite's "transport plus one copy" reference) really
# keeps what is written: O_DIRECT and buffered writes of random data at
# different offsets of two files read back identically, so its figures
# include the copy into memory they claim to include.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init

bin=$top_builddir/bench/storefs
[ -x "$bin" ] || fail "$bin not built (make bench/storefs)"
mnt=$(pgdax_new_dir mnt)
"$bin" -f -o size=$((64 << 20)) "$mnt" 2>"$PGDAX_WORK/storefs.log" &
pid=$!
pgdax_on_exit "mountpoint -q '$mnt' && fusermount3 -u '$mnt'; kill $pid 2>/dev/null"
for i in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.05; done
mountpoint -q "$mnt" || fail "storefs did not mount: $(cat "$PGDAX_WORK/storefs.log")"

head -c $((8 << 20)) /dev/urandom >"$PGDAX_WORK/a"
head -c $((3 << 20)) /dev/urandom >"$PGDAX_WORK/b"
dd if="$PGDAX_WORK/a" of="$mnt/one" bs=1M oflag=direct conv=notrunc status=none
dd if="$PGDAX_WORK/b" of="$mnt/two" bs=4k seek=1000 conv=notrunc status=none
cmp -n $((8 << 20)) "$PGDAX_WORK/a" "$mnt/one" || fail "O_DIRECT data differs"
cmp -n $((3 << 20)) "$PGDAX_WORK/b" <(dd if="$mnt/two" bs=4k skip=1000 iflag=direct status=none) ||
	fail "buffered data at an offset differs"
fusermount3 -u "$mnt"
wait "$pid" || fail "storefs exited with $?"
