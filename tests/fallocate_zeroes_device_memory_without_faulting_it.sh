#!/bin/bash
# fallocate of fresh blocks on an emulated device in /dev/shm does not
# fault the device's pages into the daemon one by one (issue 19: a 1 GiB
# fallocate took 76 s of page faults where tmpfs takes 1 s): the daemon's
# minor faults grow by far fewer than the pages allocated, while the memory
# is reserved in the device file. And the zeroing is real: blocks freed
# from a file full of data read as zero in the next file fallocated over
# them, and zero-range over data zeroes exactly its bytes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
[ -z "${PGDAX_DAX:-}" ] || exit 77	# about the emulated device only

dev=$(pgdax_new_device 1G)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
pid=$PGDAX_LAST_PID
minflt() { awk '{ print $10 }' "/proc/$pid/stat"; }
pages=$((256 * 1024 * 1024 / 4096))

used0=$(($(stat -c %b "$dev") * $(stat -c %B "$dev")))
f0=$(minflt)
fallocate -l 256M "$mnt/a"
f1=$(minflt)
used1=$(($(stat -c %b "$dev") * $(stat -c %B "$dev")))
log "fallocate 256M: daemon minor faults $f0 -> $f1 ($pages pages); device file $used0 -> $used1 bytes"
[ $((f1 - f0)) -lt $((pages / 8)) ] ||
	fail "fallocate of $pages fresh pages took $((f1 - f0)) page faults in the daemon"
[ $((used1 - used0)) -ge $((256 * 1024 * 1024)) ] ||
	fail "fallocate did not reserve the memory in the device file ($used0 -> $used1)"
cmp -n $((256 * 1024 * 1024)) "$mnt/a" /dev/zero || fail "a fresh fallocated file does not read zero"

# blocks full of data, freed, then fallocated again: zero
head -c 128M /dev/urandom >"$mnt/data"
rm "$mnt/a" "$mnt/data"
fallocate -l 256M "$mnt/b"
cmp -n $((256 * 1024 * 1024)) "$mnt/b" /dev/zero || fail "fallocate over freed blocks exposes old data"

# zero-range over data: exactly its bytes, unaligned edges included
head -c 4M /dev/urandom >"$PGDAX_WORK/ref"
cp "$PGDAX_WORK/ref" "$mnt/z"
fallocate -z -o 1000 -l $((3 * 1024 * 1024)) "$mnt/z"
dd if=/dev/zero of="$PGDAX_WORK/ref" bs=1 seek=1000 count=$((3 * 1024 * 1024)) conv=notrunc status=none
cmp "$mnt/z" "$PGDAX_WORK/ref" || fail "zero-range did not zero exactly its range"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
cmp "$mnt/z" "$PGDAX_WORK/ref" || fail "zero-range result changed across remount"
cmp -n $((256 * 1024 * 1024)) "$mnt/b" /dev/zero || fail "fallocated file not zero after remount"
pgdax_umount "$mnt"
"$FSCK" -n "$dev" >"$PGDAX_WORK/fsck.log" 2>&1 || { cat "$PGDAX_WORK/fsck.log" >&2; fail "fsck -n found problems"; }
