#!/bin/bash
# fio with verify=crc32c through the psync, libaio (O_DIRECT) and mmap
# engines, several jobs at once, random and sequential: every block read
# back matches what was written, also after a remount.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
command -v fio >/dev/null || fail "fio missing: run tools/install-deps.sh"
dev=$(pgdax_new_device 1G)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
cat >"$PGDAX_WORK/verify.fio" <<FIO
[global]
directory=$mnt
size=48m
verify=crc32c
verify_fatal=1
do_verify=1
numjobs=2
group_reporting=1
[seq-psync]
ioengine=psync
rw=write
bs=128k
[rand-psync]
stonewall
ioengine=psync
rw=randwrite
bsrange=4k-256k
[rand-libaio-direct]
stonewall
ioengine=libaio
direct=1
iodepth=8
rw=randwrite
bs=64k
[rand-mmap]
stonewall
ioengine=mmap
rw=randwrite
bs=16k
FIO
fio --output="$PGDAX_WORK/fio.out" "$PGDAX_WORK/verify.fio" ||
	{ tail -40 "$PGDAX_WORK/fio.out" >&2; fail "fio verify failed"; }
grep -q "err= 0" "$PGDAX_WORK/fio.out" || { cat "$PGDAX_WORK/fio.out" >&2; fail "fio reported errors"; }
# the written files verify again after a remount
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
sed -i 's/^do_verify=1/do_verify=1\nverify_only=1/' "$PGDAX_WORK/verify.fio"
fio --output="$PGDAX_WORK/fio2.out" "$PGDAX_WORK/verify.fio" ||
	{ tail -40 "$PGDAX_WORK/fio2.out" >&2; fail "fio verify after remount failed"; }
pgdax_umount "$mnt"
grep -E "^ +(READ|WRITE):" "$PGDAX_WORK/fio.out" | head -8
