#!/bin/bash
# SPDX-License-Identifier: MIT
# Quarantine after an unclean end: a client maps a file (DAX) and keeps
# writing; the file is unlinked; the daemon is killed with SIGKILL. A new
# daemon mounts the device: the orphan's blocks are still mapped by the
# client, so they are kept out of allocation (its OFD locks are found) --
# new files filling the device never receive them (their contents survive
# the client's ongoing writes). Once the client unmaps, the space comes back.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

for align in 2M 4K; do
	log "alignment $align"
	dev=$(pgdax_new_device 64M $align)
	pgdax_mkfs "$dev"
	mnt=$(pgdax_new_dir mnt)
	pgdax_mount "$dev" "$mnt"
	old=$PGDAX_LAST_PID

	pin_start writer writer "$mnt/victim" 4M 21
	pin_wait_line writer '^ACK 2'
	rm "$mnt/victim"
	pgdax_kill9 "$old" "$mnt"
	pin_wait_line writer '^NOSYNC' 10
	kill -0 "${PIN_PID[writer]}" || fail "client died with the daemon"

	mnt2=$(pgdax_new_dir mnt)
	pgdax_mount "$dev" "$mnt2"
	q=$(pin_status "$mnt2" quarantined)
	[ "$q" -ge 1024 ] || fail "only $q pages quarantined; the client maps 1024"

	# fill the device; the client writes all along
	n=0
	for i in $(seq 1 200); do
		head -c 1M /dev/urandom >"$PGDAX_WORK/src"
		if ! cp "$PGDAX_WORK/src" "$mnt2/fill.$i" 2>/dev/null; then
			rm -f "$mnt2/fill.$i"
			break
		fi
		md5sum <"$PGDAX_WORK/src" >"$PGDAX_WORK/fill.$i.md5"
		n=$i
	done
	[ "$n" -gt 10 ] || fail "could only write $n fill files"
	# more client writes over whatever it maps: two progress lines later,
	# at least 16 whole generations were written after the fill
	last=$(sed -n 's/^\(NOSYNC\|WROTE\) \([0-9]*\).*/\2/p' "$PGDAX_WORK/writer.out" | tail -1)
	pin_wait_line writer "^WROTE $((last + 32))\$" 30
	for i in $(seq 1 "$n"); do
		[ "$(md5sum <"$mnt2/fill.$i")" = "$(cat "$PGDAX_WORK/fill.$i.md5")" ] ||
			fail "fill file $i was overwritten by the old client: quarantine leaked"
	done
	rm -f "$mnt2"/fill.*

	# the client unmaps: its locks go, the next probe returns the pages
	free0=$(pin_free_bytes "$mnt2")
	kill -USR1 "${PIN_PID[writer]}"
	wait "${PIN_PID[writer]}" || fail "client failed"
	pin_wait_status "$mnt2" quarantined 0 5
	free1=$(pin_free_bytes "$mnt2")
	[ "$free1" -ge $((free0 + 4 * 1048576)) ] ||
		fail "quarantined space did not come back ($free0 -> $free1)"
	pgdax_umount "$mnt2"
done
log "PASS"
