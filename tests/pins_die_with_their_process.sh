#!/bin/bash
# SPDX-License-Identifier: MIT
# Pins die with their process: a client that maps (pins) files and is
# killed with SIGKILL leaves no reference behind (FUSE RELEASE of its open
# files drops the pins), and the filesystem then unmounts normally.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

dev=$(pgdax_new_device 64M 2M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
daemon=$PGDAX_LAST_PID

head -c 3M /dev/urandom >"$mnt/a"
pin_start ro map "$mnt/a" 0 3M ro hold
pin_start rw map "$mnt/b" 0 2M rw extend fillfd=5 hold
pin_start raw pin "$mnt/a" 1M 1M
pin_wait_line ro '^READY'
pin_wait_line rw '^READY'
pin_wait_line raw '^READY'
[ "$(pin_status "$mnt" pins)" = 3 ] || fail "expected 3 pins, status: $("$CLIENT" status "$mnt")"
[ "$(pin_status "$mnt" active_extents)" -ge 1 ] || fail "no active extent while pinned"

# the holders close nothing themselves: SIGKILL
kill -9 "${PIN_PID[ro]}" "${PIN_PID[rw]}" "${PIN_PID[raw]}"
wait "${PIN_PID[ro]}" "${PIN_PID[rw]}" "${PIN_PID[raw]}" 2>/dev/null || true
pin_wait_status "$mnt" pins 0
pin_wait_status "$mnt" pinned_extents 0
pin_wait_status "$mnt" active_extents 0
# what the killed writer synced is in the file
"$CLIENT" verify "$mnt/b" 2M 5 0 exact >/dev/null || fail "synced DAX data lost"
# nothing holds the device: a plain unmount ends the daemon cleanly
pgdax_umount "$mnt" "$daemon"
log "PASS"
