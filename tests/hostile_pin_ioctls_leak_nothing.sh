#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile ioctl arguments (fuzzed with a fixed seed: random and edge
# offsets/lengths, reserved fields, unknown flags, pin ids and cursors,
# unknown command numbers and sizes, status on a file) never crash the
# daemon nor leak a reference: afterwards the pin and extent counters are
# back to 0, the data is intact and the filesystem unmounts cleanly.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

for align in 2M 4K; do
	dev=$(pgdax_new_device 64M $align)
	pgdax_mkfs "$dev"
	mnt=$(pgdax_new_dir mnt)
	pgdax_mount "$dev" "$mnt"
	daemon=$PGDAX_LAST_PID
	head -c 3M /dev/urandom >"$mnt/victim"
	sum=$(md5sum <"$mnt/victim")
	for seed in 1 2 3; do
		"$CLIENT" fuzz "$mnt/victim" "$seed" 3000 >&2 ||
			fail "fuzz seed $seed: client failed (daemon gone?)"
		kill -0 "$daemon" || fail "daemon died under fuzz seed $seed"
	done
	# a directory is not a pin target; status is not for files
	"$CLIENT" rawpin EINVAL "$mnt/victim" 0 0 ro >&2
	pin_wait_status "$mnt" pins 0
	pin_wait_status "$mnt" pinned_extents 0
	pin_wait_status "$mnt" active_extents 0
	# fuzzing may legally have grown the file (writable pins extend it);
	# its first 3 MiB are what was written
	[ "$(head -c 3M "$mnt/victim" | md5sum)" = "$sum" ] || fail "fuzz changed file data"
	pgdax_umount "$mnt" "$daemon"
done
log "PASS"
