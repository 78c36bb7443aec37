#!/bin/bash
# SPDX-License-Identifier: MIT
# A pinned extent is never handed to another file: pin (DAX-map and fill)
# a file in one process, unlink it from another, fill the device with new
# files; no new file received the pinned extents (the pinned data is
# intact and so is every new file), and once the pin goes the space comes
# back. Run with a 2 MiB and a 4 KiB device alignment.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

run() { # ALIGN
	local align=$1 dev mnt free0 free1 free2 i n
	log "alignment $align"
	dev=$(pgdax_new_device 64M "$align")
	pgdax_mkfs "$dev"
	mnt=$(pgdax_new_dir mnt)
	pgdax_mount "$dev" "$mnt"

	# 4 MiB file, written through a DAX mapping, kept mapped
	pin_start holder map "$mnt/pinned" 0 4M rw extend fill=77 hold
	pin_wait_line holder '^READY'
	[ "$(pin_status "$mnt" pins)" = 1 ] || fail "status does not show the pin"
	# the data is visible to read(2) after pgdax_mapping_sync
	"$CLIENT" verify "$mnt/pinned" 4M 77 0 exact >/dev/null ||
		fail "DAX-written data not visible through read(2)"

	free0=$(pin_free_bytes "$mnt")
	rm "$mnt/pinned"	# another process; the inode lives on as an orphan
	free1=$(pin_free_bytes "$mnt")
	[ "$free1" -le "$free0" ] || fail "unlink of a pinned file freed space ($free0 -> $free1)"

	# fill the device with new files, each with its own content
	n=0
	for i in $(seq 1 200); do
		head -c 1M /dev/urandom >"$PGDAX_WORK/src" || true
		if ! cp "$PGDAX_WORK/src" "$mnt/fill.$i" 2>/dev/null; then
			rm -f "$mnt/fill.$i"
			break
		fi
		md5sum <"$PGDAX_WORK/src" >"$PGDAX_WORK/fill.$i.md5"
		n=$i
	done
	[ "$n" -gt 10 ] || fail "could only write $n fill files"
	log "filled the device with $n files"
	for i in $(seq 1 "$n"); do
		[ "$(md5sum <"$mnt/fill.$i")" = "$(cat "$PGDAX_WORK/fill.$i.md5")" ] ||
			fail "fill file $i does not read back (shares blocks with the pin?)"
	done

	# the holder checks its mapping still holds its pattern, then unmaps
	pin_release holder
	grep -q '^INTACT' "$PGDAX_WORK/holder.out" || fail "pinned data changed"
	pin_wait_status "$mnt" pins 0
	pin_wait_status "$mnt" pinned_extents 0
	pin_wait_status "$mnt" active_extents 0
	rm -f "$mnt"/fill.*
	# the orphan's 4 MiB come back once the pin is gone: as soon as the
	# kernel forgets the inode, at the latest at the next mount's orphan
	# reclaim (the daemon cannot make the kernel forget)
	for i in $(seq 1 60); do
		free2=$(pin_free_bytes "$mnt")
		[ "$free2" -ge $((free0 + 4 * 1048576 - 65536)) ] && break
		sleep 0.05
	done
	pgdax_umount "$mnt"
	pgdax_mount "$dev" "$mnt"
	free2=$(pin_free_bytes "$mnt")
	[ "$free2" -ge $((free0 + 4 * 1048576 - 65536)) ] ||
		fail "space of the unpinned orphan did not come back ($free0 -> $free2)"
	pgdax_umount "$mnt"
	if [ -x "$FSCK" ]; then "$FSCK" -n "$dev" >&2 || fail "fsck after the test"; fi
	rm -f "$PGDAX_WORK"/holder.*
}

run 2M
run 4K
log "PASS"
