#!/bin/bash
# SPDX-License-Identifier: MIT
# The SYNC ioctl (pgdax_sync) invalidates the kernel's cached pages of the
# file before it replies, and the kernel launders dirty pages of a shared
# mmap(2) through WRITE requests that the daemon must serve meanwhile. With
# max_threads=2 and break_timeout=-1, truncates of two pinned files wait on
# the two workers of their lane, and two SYNCs, each laundering 16 dirty
# pages, occupy the two workers of theirs (fs/loop.c): every worker waits,
# yet the WRITEs are served (on the receivers that read them), both SYNCs
# complete with the mmap stores on the volume, and the truncates complete
# after the unpin. (Before: the WRITEs queued behind the full pool, and the
# daemon could not even be killed.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
# -d: the daemon logs each request as a worker or receiver starts it
pgdax_mount "$dev" "$mnt" -d -o max_threads=2,break_timeout=-1
pid=$PGDAX_LAST_PID
setattrs() { pgdax_daemon_log "$pid" | grep -c "opcode: SETATTR" || true; }
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

for i in 1 2; do
	head -c 64K /dev/urandom >"$mnt/f$i"
	head -c 64K /dev/zero >"$mnt/h$i"
done
pin_start holder pinall 4096 "$mnt/f1" "$mnt/f2"
pin_wait_line holder '^READY'
n0=$(setattrs)
tpids=()
for i in 1 2; do
	truncate -s 0 "$mnt/f$i" 2>"$PGDAX_WORK/t$i.err" &
	tpids+=("$!")
	_pgdax_pids+=("$!")
done
# both truncates run on the two workers of their lane (no request here:
# before, a request from this script could hang it)
for i in $(seq 1 200); do
	[ $(($(setattrs) - n0)) -ge 2 ] && break
	sleep 0.05
done
[ $(($(setattrs) - n0)) -ge 2 ] || fail "the two truncates did not reach the daemon"

# dirty every page of h1 and h2 through shared mappings, then the SYNC
# ioctl on each: their invalidations find the pages dirty and have the
# kernel launder them
spids=()
for i in 1 2; do
	"$CLIENT" mmapsync "$mnt/h$i" 65536 >"$PGDAX_WORK/sync$i.out" 2>&1 &
	spids+=("$!")
	_pgdax_pids+=("$!")
done
for i in 1 2; do
	pgdax_wait_pid "${spids[$((i - 1))]}" 10 ||
		fail "SYNC $i of dirty mmap pages not done within 10 s while truncates wait"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "mmapsync $i failed: $(cat "$PGDAX_WORK/sync$i.out")"
	grep -q '^SYNCED' "$PGDAX_WORK/sync$i.out" || fail "mmapsync $i: $(cat "$PGDAX_WORK/sync$i.out")"
	# the stores reached the volume (O_DIRECT: read by the daemon)
	[ "$(dd if="$mnt/h$i" iflag=direct bs=64k count=1 status=none | tr -d M | wc -c)" = 0 ] ||
		fail "the mmap stores to h$i did not reach the volume"
done
for p in "${tpids[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "a truncate stopped waiting while the pins are held"
done

pin_release holder
for i in 1 2; do
	pgdax_wait_pid "${tpids[$((i - 1))]}" 10 || fail "truncate $i still waiting after the unpin"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "truncate $i failed: $(cat "$PGDAX_WORK/t$i.err")"
done
pgdax_umount "$mnt"
log "PASS"
