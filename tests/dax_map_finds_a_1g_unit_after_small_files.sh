#!/bin/bash
# SPDX-License-Identifier: MIT
# At 1 GiB alignment the metadata and the backup superblock share the first
# unit, and small allocations (files, directories, extent and xattr blocks)
# go into that broken unit: a fresh 2 GiB volume uses a few MiB, not 1 GiB,
# and after hundreds of small files a DAX pin still gets a whole 1 GiB unit.
# The emulated device is a sparse file. The pin itself zero-fills a whole
# GiB of /dev/shm (20 s and more on a loaded 2-core machine), so it runs
# only with PGDAX_TEST_1G_PIN=1; without it the test checks the space and
# fsck (tests/check_layout.c counts the whole free units in-process).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
G=$((1 << 30))

dev=$(pgdax_new_device 2G 1G)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
"$PGDAXCTL" status "$mnt" | grep -q 'alignment 1G' || fail "not mounted at 1G"

read -r total avail bsize < <(stat -f -c '%b %a %S' "$mnt")
used=$(((total - avail) * bsize))
log "fresh 2 GiB volume at 1G: $((used >> 20)) MiB used"
[ "$used" -lt $((64 << 20)) ] || fail "a fresh 2 GiB volume uses $((used >> 20)) MiB"

for d in 0 1 2; do
	mkdir "$mnt/d$d"
	for i in $(seq 1 100); do
		echo "file $d/$i" >"$mnt/d$d/f$i"
	done
	setfattr -n user.k -v v "$mnt/d$d/f1"
done
head -c 3M /dev/urandom >"$mnt/big-ish"

read -r total avail bsize < <(stat -f -c '%b %a %S' "$mnt")
[ $((avail * bsize)) -ge "$G" ] || fail "less than 1 GiB free after small files"
if [ "${PGDAX_TEST_1G_PIN:-0}" != 1 ]; then
	pgdax_umount "$mnt"
	"$FSCK" -n -f "$dev" >"$PGDAX_WORK/fsck.out" 2>&1 || {
		cat "$PGDAX_WORK/fsck.out" >&2
		fail "fsck -n -f found problems"
	}
	echo "1G layout: checks passed (the 1 GiB pin needs PGDAX_TEST_1G_PIN=1)"
	exit 0
fi
echo x >"$mnt/mapped"
pin_start pin pin "$mnt/mapped" 0 4096 rw
pin_wait_line pin '^(READY|pgdax_client)'
grep -q '^READY' "$PGDAX_WORK/pin.out" ||
	fail "pin of a 1 GiB unit after small files: $(cat "$PGDAX_WORK/pin.out")"
read -r tag foff doff len hole < <(grep '^EXT' "$PGDAX_WORK/pin.out" | head -n1)
[ "$tag" = EXT ] && [ "$len" = "$G" ] && [ $((doff % G)) = 0 ] && [ "$hole" = 0 ] ||
	fail "pinned extent '$tag $foff $doff $len $hole' is not a 1 GiB unit"
log "1 GiB unit pinned at device offset $doff after 300 small files"
pin_release pin
[ "$(head -c 2 "$mnt/mapped")" = x ] || fail "the pinned file lost its data"
[ "$(cat "$mnt/d2/f100")" = "file 2/100" ] || fail "a small file lost its data"
rm "$mnt/mapped"
pgdax_umount "$mnt"
"$FSCK" -n -f "$dev" >"$PGDAX_WORK/fsck.out" 2>&1 || {
	cat "$PGDAX_WORK/fsck.out" >&2
	fail "fsck -n -f found problems"
}
echo "1G layout: all checks passed"
