#!/bin/bash
# SPDX-License-Identifier: MIT
# Many callers waiting for pins fill the default worker pool (max_threads
# 64) and queue beyond it, yet the mount keeps serving everything else, and
# a SIGTERM drains it: with truncates of 70 pinned files waiting
# (break_timeout=-1; one file each: the kernel serializes truncates of one
# file), an unrelated file is read and looked up; after SIGTERM (teardown
# phase 1 waits for every open handle, the truncaters' included) the pin
# holder exits, its RELEASEs are served and drop the pins, every truncate
# completes, and the daemon drains and exits 0. (Before: every request
# queued behind the waiters, the RELEASEs included: phase 1 never ended.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
# over /dev/fuse unless a wrapper says otherwise (the _over_io_uring one)
PGDAX_TRANSPORT=${PGDAX_TRANSPORT:-dev_fuse}
pgdax_init
N=70
dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
# -d: the daemon logs each request as a worker or receiver starts it
pgdax_mount "$dev" "$mnt" -d -o break_timeout=-1
pid=$PGDAX_LAST_PID

files=()
for i in $(seq 1 $N); do
	head -c 8K /dev/urandom >"$mnt/f$i"
	files+=("$mnt/f$i")
done
echo unrelated >"$mnt/g"

served() { # WHAT CMD...: in the background, with a deadline (a hang fails)
	local what=$1 p
	shift
	"$@" >"$PGDAX_WORK/served.out" 2>&1 &
	p=$!
	_pgdax_pids+=("$p")
	pgdax_wait_pid "$p" 10 || fail "$what not served within 10 s while $N truncates wait"
	[ "$PGDAX_STATUS" -eq 0 ] ||
		fail "$what failed (status $PGDAX_STATUS): $(cat "$PGDAX_WORK/served.out")"
}
setattrs() { pgdax_daemon_log "$pid" | grep -c "opcode: SETATTR" || true; }

pin_start holder pinall 4096 "${files[@]}"
pin_wait_line holder '^READY'

n0=$(setattrs)
tpids=()
for i in $(seq 1 $N); do
	truncate -s 0 "$mnt/f$i" 2>"$PGDAX_WORK/t$i.err" &
	tpids+=("$!")
	_pgdax_pids+=("$!")
done
# the pool is full: 64 truncates started by workers (the rest queue)
for i in $(seq 1 600); do
	[ $(($(setattrs) - n0)) -ge 64 ] && break
	sleep 0.05
done
[ $(($(setattrs) - n0)) -ge 64 ] || fail "only $(($(setattrs) - n0)) truncates reached the workers"

served "cat of an unrelated file" cat "$mnt/g"
served "an O_DIRECT read of an unrelated file" dd if="$mnt/g" of=/dev/null iflag=direct bs=4k status=none
served "a lookup" sh -c "! stat '$mnt/never-looked-up-$$'"
served "statfs" stat -f "$mnt"
for p in "${tpids[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "a truncate of a pinned file did not wait"
done

# phase 1: new opens refused, open handles (the truncaters') served
kill -TERM "$pid"
for i in $(seq 1 200); do
	pgdax_daemon_log "$pid" | grep -q "unmounting" && break
	sleep 0.05
done
pgdax_daemon_log "$pid" | grep -q "unmounting" || fail "no teardown message after SIGTERM"
# the holder dies without unpinning: its RELEASEs drop the pins
kill -TERM "${PIN_PID[holder]}"
t0=$(date +%s%N)
for i in $(seq 1 $N); do
	pgdax_wait_pid "${tpids[$((i - 1))]}" 30 ||
		fail "truncate $i still waiting after the pin holder exited"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "truncate $i failed: $(cat "$PGDAX_WORK/t$i.err")"
done
log "$N truncates completed in $((($(date +%s%N) - t0) / 1000000)) ms after the holder exited"
pgdax_wait_pid "$pid" 30 || fail "daemon did not drain and exit after the last handle closed"
[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited with status $PGDAX_STATUS"
pgdax_is_mounted "$mnt" && fail "still mounted after the drain"
log "PASS"
