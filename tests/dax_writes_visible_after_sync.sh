#!/bin/bash
# SPDX-License-Identifier: MIT
# DAX stores are visible to read(2) through the mount no later than
# pgdax_mapping_sync()/pgdax_sync() returns, even where the kernel had the
# file's pages cached (the daemon invalidates them), and write(2)s made
# while a range is mapped are seen by the mapping at once (write-through to
# device memory). 2 MiB and 4 KiB device alignments.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

for align in 2M 4K; do
	dev=$(pgdax_new_device 64M $align)
	pgdax_mkfs "$dev"
	mnt=$(pgdax_new_dir mnt)
	pgdax_mount "$dev" "$mnt"
	f=$mnt/file
	head -c 3M /dev/urandom >"$f"
	cat "$f" >/dev/null	# the kernel now caches the old bytes
	# stores through a mapping, then pgdax_mapping_sync: read(2) sees them
	"$CLIENT" map "$f" 0 3M rw fill=41 >&2 || fail "map/fill failed"
	"$CLIENT" verify "$f" 3M 41 0 exact >&2 ||
		fail "read(2) returned stale data after pgdax_mapping_sync ($align)"
	# the same through pgdax_sync(fd)
	cat "$f" >/dev/null
	"$CLIENT" map "$f" 0 3M rw fillfd=42 >&2 || fail "map/fillfd failed"
	"$CLIENT" verify "$f" 3M 42 0 exact >&2 ||
		fail "read(2) returned stale data after pgdax_sync ($align)"
	# read(2) while a writer keeps storing and syncing: each read sees at
	# least the generation acknowledged before it started (the kernel's
	# pages cached by the previous read are dropped by each sync)
	pin_start writer writer "$f" 3M 45
	pin_wait_line writer '^ACK 3'
	for k in 1 2 3 4 5; do
		ack=$(grep '^ACK' "$PGDAX_WORK/writer.out" | tail -1 | awk '{print $2}')
		"$CLIENT" verify "$f" 3M 45 "$ack" >&2 ||
			fail "read(2) older than acknowledged generation $ack ($align)"
		pin_wait_line writer "^ACK $((ack + 3))\$"
	done
	pin_release writer
	rm -f "$PGDAX_WORK"/writer.out
	# a mapping sees another process's DAX stores, and write(2)s through
	# the mount, at once
	pin_start reader map "$f" 0 3M ro hold recheck=43
	pin_wait_line reader '^READY'
	"$CLIENT" map "$f" 0 3M rw fill=43 >&2 || fail "second writer failed"
	pin_release reader
	grep -q '^SEEN' "$PGDAX_WORK/reader.out" || fail "reader did not see DAX stores"
	pin_start reader2 map "$f" 0 3M ro hold recheck=44
	pin_wait_line reader2 '^READY'
	"$CLIENT" pwrite "$f" 3M 44 || fail "write(2) failed"
	pin_release reader2
	grep -q '^SEEN' "$PGDAX_WORK/reader2.out" || fail "reader did not see write(2)"
	rm -f "$PGDAX_WORK"/reader*.out
	pgdax_umount "$mnt"
done
log "PASS"
