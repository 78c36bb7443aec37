#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 15 finding 2, on a 1 GiB-aligned device: metadata and the backup
# superblock cost the volume at most one 1 GiB unit, i.e.
#   - a fresh volume shows at most 1 GiB used, and pgdax_map of 1 GiB files
#     gets an aligned unit for all but at most one of the device's units;
#   - after ~80 MB of small files, pgdax_map of a 1 GiB file still gets an
#     aligned unit (mapped with 1 GiB pages).
# Until the layout keeps metadata and the backup out of the data units
# (another branch), this test fails.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
[ "$DAX_ALIGN" = 1G ] || { echo "SKIP: a 1G test (the namespace is $DAX_ALIGN)"; exit 77; }
G=$((1 << 30))
field() { "$PGDAXCTL" status --json "$1" | tr -d ' \n' | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }
mnt=$(pgdax_new_dir mnt)

pgdax_mkfs "$DAX"
pgdax_mount "$DAX" "$mnt"
size=$(field "$mnt" dev_size) bs=$(field "$mnt" block_size)
blocks=$(field "$mnt" blocks) free=$(field "$mnt" free_blocks)
units=$((size / G))
used=$(( (blocks - free) * bs ))
log "fresh volume: $size bytes ($units units), $used bytes used"
problems=()
[ "$used" -le "$G" ] || problems+=("a fresh volume uses $used bytes, more than one 1 GiB unit")
n=0
for i in $(seq 1 "$units"); do
	truncate -s 1G "$mnt/u$i"
	# rw: a read-only mapping of a hole allocates nothing
	out=$(timeout 120 "$CLIENT" map "$mnt/u$i" 0 "$G" rw 2>&1) || { log "unit $i: $out"; break; }
	n=$i
done
log "pgdax_map got $n aligned 1 GiB unit(s) of $units"
[ "$n" -ge $((units - 1)) ] || problems+=("only $n of $units units can be mapped: more than one lost")
pgdax_umount "$mnt"

pgdax_mkfs "$DAX"
pgdax_mount "$DAX" "$mnt"
mkdir "$mnt/small"
# ~80 MB of small files
for d in $(seq 1 20); do
	mkdir "$mnt/small/$d"
	for i in $(seq 1 100); do head -c 40000 /dev/urandom >"$mnt/small/$d/$i"; done
done
log "80 MB of small files written: $(du -sm "$mnt/small" | cut -f1) MB"
truncate -s 1G "$mnt/big"
if out=$(timeout 120 "$CLIENT" map "$mnt/big" 0 "$G" rw fill=3 2>&1); then
	log "pgdax_map of a 1 GiB file after the small files: ok"
else
	problems+=("pgdax_map of a 1 GiB file after 80 MB of small files: $out")
fi
pgdax_umount "$mnt"
if [ ${#problems[@]} -gt 0 ]; then
	printf 'problem: %s\n' "${problems[@]}" >&2
	fail "${#problems[@]} problem(s) (issue 15 finding 2)"
fi
echo "1 passed, 0 failed"
