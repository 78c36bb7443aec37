#!/bin/bash
# SPDX-License-Identifier: MIT
# The SYNC ioctl (pgdax_sync) invalidates the kernel's cached pages of the
# file before it replies, and the kernel launders dirty pages of a shared
# mmap(2) through WRITE requests that the daemon must serve meanwhile. With
# max_threads=2, a truncate waiting for a pin (break_timeout=-1) on one
# worker and the SYNC on the other fill the pool: the WRITE is still served
# (on the receiver that reads it) and the SYNC completes, with the mmap
# stores on the volume. (Before: the WRITE queued behind the full pool,
# and the daemon could not even be killed.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o max_threads=2,break_timeout=-1
pid=$PGDAX_LAST_PID
conn=$(awk -v m="$mnt" '$5 == m {print $3}' /proc/self/mountinfo | tail -n1)

# If the SYNC hangs, the daemon's thread waiting in the kernel for the
# writeback (inside the invalidation) keeps the daemon from exiting, even
# killed, and so its connection from aborting: on a failure (the daemon
# still runs at exit), abort the connection through fusectl first, so
# that nothing is left behind.
abort_if_stuck() {
	local ctl=/sys/fs/fuse/connections mounted=
	kill -0 "$pid" 2>/dev/null || return 0
	if ! mountpoint -q "$ctl"; then
		mount -t fusectl none "$ctl" && mounted=1
	fi
	log "aborting the FUSE connection ${conn#*:} of daemon $pid"
	echo 1 >"$ctl/${conn#*:}/abort"
	[ -z "$mounted" ] || umount "$ctl"
}
pgdax_on_exit abort_if_stuck

f=$mnt/f
head -c 64K /dev/urandom >"$f"
head -c 64K /dev/zero >"$mnt/h"

pin_start holder pin "$f" 0 4096
pin_wait_line holder '^READY'
truncate -s 0 "$f" 2>"$PGDAX_WORK/t.err" &
tpid=$!
_pgdax_pids+=("$tpid")
# the truncate holds a layout break: it is waiting on a worker
pin_wait_status "$mnt" breaking 1

# dirty every page of h through a shared mapping, then the SYNC ioctl:
# its invalidation finds them dirty and has the kernel launder them
"$CLIENT" mmapsync "$mnt/h" 65536 >"$PGDAX_WORK/sync.out" 2>&1 &
spid=$!
_pgdax_pids+=("$spid")
pgdax_wait_pid "$spid" 10 || fail "SYNC of dirty mmap pages not done within 10 s while a truncate waits"
[ "$PGDAX_STATUS" -eq 0 ] || fail "mmapsync failed: $(cat "$PGDAX_WORK/sync.out")"
grep -q '^SYNCED' "$PGDAX_WORK/sync.out" || fail "mmapsync: $(cat "$PGDAX_WORK/sync.out")"
# the stores reached the volume (O_DIRECT: read by the daemon, not the cache)
[ "$(dd if="$mnt/h" iflag=direct bs=64k count=1 status=none | tr -d M | wc -c)" = 0 ] ||
	fail "the mmap stores did not reach the volume"
kill -0 "$tpid" 2>/dev/null || fail "the truncate stopped waiting while the pin is held"

pin_release holder
pgdax_wait_pid "$tpid" 10 || fail "truncate still waiting after the unpin"
[ "$PGDAX_STATUS" -eq 0 ] || fail "truncate failed: $(cat "$PGDAX_WORK/t.err")"
pgdax_umount "$mnt"
log "PASS"
