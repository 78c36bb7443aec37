#!/bin/bash
# SPDX-License-Identifier: MIT
# Requests that wait for other requests (truncates waiting for a pin) may
# fill the worker pool (fs/loop.c), but never hold up anything else: with
# max_threads=2 and break_timeout=-1, truncates of two pinned files occupy
# both workers of their lane, waiting (the kernel serializes truncates of
# one file, so filling the lane takes one file per waiter); meanwhile an
# unrelated file is opened and read, lookups, statfs and status are
# answered, a truncated file is read and stat'ed, and the pin holder's
# UNPINs and RELEASEs are served, which end both waits: both truncates
# complete. (Before: every request went to the full pool's queue while one
# waited, the UNPIN included, and the mount hung.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
# -d: the daemon logs each request as a worker or receiver starts it
pgdax_mount "$dev" "$mnt" -d -o max_threads=2,break_timeout=-1
pid=$PGDAX_LAST_PID

for i in 1 2; do head -c 64K /dev/urandom >"$mnt/f$i"; done
echo unrelated >"$mnt/g"

# Run CMD in the background with a deadline: a process waiting for a FUSE
# reply cannot be killed until it gets one, so a hang must fail the test
# (whose cleanup then kills the daemon), not hang it.
served() { # WHAT CMD...
	local what=$1 p
	shift
	"$@" >"$PGDAX_WORK/served.out" 2>&1 &
	p=$!
	_pgdax_pids+=("$p")
	pgdax_wait_pid "$p" 10 || fail "$what not served within 10 s while truncates fill the pool"
	[ "$PGDAX_STATUS" -eq 0 ] ||
		fail "$what failed (status $PGDAX_STATUS): $(cat "$PGDAX_WORK/served.out")"
}
setattrs() { pgdax_daemon_log "$pid" | grep -c "opcode: SETATTR" || true; }

pin_start holder pinall 4096 "$mnt/f1" "$mnt/f2"
pin_wait_line holder '^READY'

n0=$(setattrs)
tpids=()
for i in 1 2; do
	truncate -s 0 "$mnt/f$i" 2>"$PGDAX_WORK/t$i.err" &
	tpids+=("$!")
	_pgdax_pids+=("$!")
done
# both truncates reached the daemon: the two workers run them
for i in $(seq 1 200); do
	[ $(($(setattrs) - n0)) -ge 2 ] && break
	sleep 0.05
done
[ $(($(setattrs) - n0)) -ge 2 ] || fail "the two truncates did not reach the daemon"
for p in "${tpids[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "a truncate of a pinned file did not wait"
done

served "cat of an unrelated file" cat "$mnt/g"
served "an O_DIRECT read of an unrelated file" dd if="$mnt/g" of=/dev/null iflag=direct bs=4k status=none
served "a lookup" sh -c "! stat '$mnt/never-looked-up-$$'"
served "statfs" stat -f "$mnt"
served "a read of a file being truncated" dd if="$mnt/f1" of=/dev/null iflag=direct bs=4k count=1 status=none
served "a stat of a file being truncated" stat "$mnt/f1"
served "status" "$CLIENT" status "$mnt"
# both wait for the pins themselves (each holds a layout break)
[ "$(pin_status "$mnt" breaking)" = 2 ] ||
	fail "expected 2 layout breaks in progress, status says: $("$CLIENT" status "$mnt")"
for p in "${tpids[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "a truncate stopped waiting while the pin is held"
done

# the holder unpins and exits: its UNPINs and RELEASEs are served, the
# truncates complete
kill -USR1 "${PIN_PID[holder]}"
pgdax_wait_pid "${PIN_PID[holder]}" 10 || fail "the pin holder's unpin was not served"
[ "$PGDAX_STATUS" -eq 0 ] || fail "pin holder failed: $(cat "$PGDAX_WORK/holder.out")"
for i in 1 2; do
	pgdax_wait_pid "${tpids[$((i - 1))]}" 10 || fail "truncate $i still waiting after the unpin"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "truncate $i failed: $(cat "$PGDAX_WORK/t$i.err")"
	[ "$(stat -c %s "$mnt/f$i")" = 0 ] || fail "truncate $i did not take effect"
done
pin_wait_status "$mnt" breaking 0
pgdax_umount "$mnt"
log "PASS"
