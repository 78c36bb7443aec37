#!/bin/bash
# SPDX-License-Identifier: MIT
# Over FUSE-over-io_uring a worker that answered a handed-off request
# (fs/handoff.c) submitted that ring entry's COMMIT_AND_FETCH itself, and
# the kernel cancels a thread's io_uring commands when it exits: had the
# worker exited (the pool trims idle workers beyond max_idle_threads), the
# entry would be dropped (-ENOTCONN, libfuse never resubmits it) or the
# request just assigned to it lost (-ECANCELED), so each burst of
# truncates would cost its CPU's queue entries until the queue served
# nothing (the RELEASEs that end a SIGTERM drain among what is lost).
# With max_threads=2 (io_uring_q_depth 2 * 2 + 16 = 20 entries a queue)
# and every client on CPU 0 (one queue), 28 rounds of two truncates that
# wait for a pin together (two workers, one then idle beyond
# max_idle_threads=1) must all be served, and the mount then unmounts.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_need_uring
pgdax_init
ROUNDS=28
dev=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -d -o break_timeout=-1,max_threads=2,max_idle_threads=1
pid=$PGDAX_LAST_PID
# every request from here on comes from CPU 0 (the kernel picks the queue
# of the CPU a request is issued on)
taskset -pc 0 $$ >/dev/null

setattrs() { pgdax_daemon_log "$pid" | grep -c "opcode: SETATTR" || true; }
for r in $(seq 1 $ROUNDS); do
	head -c 8K /dev/zero >"$mnt/a$r"
	head -c 8K /dev/zero >"$mnt/b$r"
	pin_start holder pinall 4096 "$mnt/a$r" "$mnt/b$r"
	pin_wait_line holder '^READY' 10
	n0=$(setattrs)
	truncate -s 0 "$mnt/a$r" & ta=$!
	truncate -s 0 "$mnt/b$r" & tb=$!
	_pgdax_pids+=("$ta" "$tb")
	# both truncates wait on workers (they wait for the pins)
	for i in $(seq 1 200); do
		[ $(($(setattrs) - n0)) -ge 2 ] && break
		sleep 0.05
	done
	[ $(($(setattrs) - n0)) -ge 2 ] ||
		fail "round $r: only $(($(setattrs) - n0)) of 2 truncates reached the daemon"
	pin_release holder
	for t in $ta $tb; do
		pgdax_wait_pid "$t" 10 || fail "round $r: a truncate not served within 10 s (ring entries lost?)"
		[ "$PGDAX_STATUS" -eq 0 ] || fail "round $r: a truncate failed"
	done
done
log "$ROUNDS rounds served"
stat "$mnt/a1" >/dev/null
pgdax_umount "$mnt"
log "PASS"
