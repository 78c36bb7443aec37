#!/bin/bash
# SPDX-License-Identifier: MIT
# A pin holder with a writable mapping answers a layout break by unmapping:
# pgdax_unmap syncs first (the SYNC ioctl, served on a worker) and only
# then unpins. So the SYNC must not queue behind the truncates waiting for
# that very unpin: with max_threads=2 and break_timeout=-1, truncates of
# two mapped files waiting on both workers of their lane, each holder's
# SYNC (fs/loop.c: the other lane) and UNPIN are served and both truncates
# complete. (A SYNC in the same queue as the waiters would wait for a
# worker that waits for it.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
# -d: the daemon logs each request as a worker or receiver starts it
pgdax_mount "$dev" "$mnt" -d -o max_threads=2,break_timeout=-1,break_notify
pid=$PGDAX_LAST_PID
setattrs() { pgdax_daemon_log "$pid" | grep -c "opcode: SETATTR" || true; }

for i in 1 2; do
	head -c 64K /dev/urandom >"$mnt/f$i"
	# told of the break (POLLPRI), it holds on until SIGUSR1, then unmaps
	pin_start holder$i map "$mnt/f$i" 0 4096 rw poll hold
	pin_wait_line holder$i '^READY'
done
n0=$(setattrs)
tpids=()
for i in 1 2; do
	truncate -s 0 "$mnt/f$i" 2>"$PGDAX_WORK/t$i.err" &
	tpids+=("$!")
	_pgdax_pids+=("$!")
done
for i in 1 2; do
	pin_wait_line holder$i '^BREAK' 10
done
# both truncates run on the two workers of their lane
for i in $(seq 1 200); do
	[ $(($(setattrs) - n0)) -ge 2 ] && break
	sleep 0.05
done
[ $(($(setattrs) - n0)) -ge 2 ] || fail "the two truncates did not reach the daemon"

# each holder unmaps (SYNC, then UNPIN) and exits
for i in 1 2; do
	kill -USR1 "${PIN_PID[holder$i]}"
done
for i in 1 2; do
	pgdax_wait_pid "${PIN_PID[holder$i]}" 10 ||
		fail "holder $i: its unmap (SYNC, UNPIN) was not served"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "holder $i failed: $(cat "$PGDAX_WORK/holder$i.out")"
done
for i in 1 2; do
	pgdax_wait_pid "${tpids[$((i - 1))]}" 10 || fail "truncate $i still waiting after the unmap"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "truncate $i failed: $(cat "$PGDAX_WORK/t$i.err")"
	[ "$(stat -c %s "$mnt/f$i")" = 0 ] || fail "truncate $i did not take effect"
done
pgdax_umount "$mnt"
log "PASS"
