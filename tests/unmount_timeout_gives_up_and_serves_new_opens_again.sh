#!/bin/bash
# An unmount that gives up returns the mount to service. While a drain is in
# progress (SIGTERM, or pgdaxctl unmount) new opens fail with ENXIO, and
# that ENXIO explains itself: the daemon log names the drain and the pid
# holding it up, pgdaxctl status says "draining since T, N holder(s): pids
# ...". `pgdaxctl unmount --timeout S` that runs out cancels the drain (new
# opens succeed again, exit 1); `pgdaxctl unmount --cancel` does the same
# for a drain started by a signal; with nothing draining it says so. A
# drain whose holders go away in time still completes: exit 0, unmounted,
# daemon gone with status 0.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
pid=$PGDAX_LAST_PID
echo held >"$mnt/held"
echo other >"$mnt/other"

# a process that holds the mount: a file open for as long as it lives
hold() {
	sleep 600 <"$mnt/held" &
	holder=$!
	_pgdax_pids+=("$holder")
	for i in $(seq 1 100); do
		[ "$(readlink "/proc/$holder/fd/0")" = "$mnt/held" ] && return 0
		sleep 0.05
	done
	fail "holder did not open $mnt/held"
}
# wait until pgdaxctl status shows a drain in progress
wait_draining() {
	for i in $(seq 1 200); do
		"$PGDAXCTL" status "$mnt" 2>/dev/null | grep -q "draining since" && return 0
		sleep 0.05
	done
	"$PGDAXCTL" status "$mnt" >&2 || true
	fail "no drain in progress after ${1:-SIGTERM}"
}

# 1. --timeout gives up: exit 1, the drain is cancelled, new opens work
hold
rc=0
"$PGDAXCTL" unmount --timeout 1 "$mnt" >"$PGDAX_WORK/u1.out" 2>"$PGDAX_WORK/u1.err" || rc=$?
cat "$PGDAX_WORK/u1.out" "$PGDAX_WORK/u1.err" >&2
[ "$rc" -eq 1 ] || fail "unmount --timeout with a holder exited $rc, expected 1"
kill -0 "$pid" 2>/dev/null || fail "daemon exited although a file was open"
out=$(cat "$mnt/other" 2>&1) || fail "new open after unmount --timeout gave up: $out"
[ "$out" = other ] || fail "read after give-up: $out"
echo new >"$mnt/created" || fail "create after unmount --timeout gave up"
grep -q "gave up after" "$PGDAX_WORK/u1.err" || fail "unmount --timeout does not say it gave up"
grep -q "pids $holder (sleep)" "$PGDAX_WORK/u1.err" || fail "unmount --timeout does not name holder $holder"
grep -q "serving new opens again" "$PGDAX_WORK/u1.out" || fail "unmount --timeout does not say the mount serves again"
"$PGDAXCTL" status "$mnt" | grep -q "unmount:" && fail "status still shows a drain after give-up"

# 2. a drain in progress explains its ENXIO; --cancel serves again
kill -TERM "$pid"
wait_draining SIGTERM
out=$(cat "$mnt/other" 2>&1) && fail "a new open succeeded while draining: $out"
echo "$out" | grep -q "No such device or address" || fail "open while draining: expected ENXIO, got: $out"
st=$("$PGDAXCTL" status "$mnt")
echo "$st" >&2
echo "$st" | grep -Eq "draining since [0-9-]+ [0-9:]+ \([0-9]+ s\), 1 holder\(s\): pids $holder \(sleep\)" ||
	fail "status does not show the drain and its holder"
echo "$st" | grep -q "SIGTERM from pid $$" || fail "status does not say who asked for the unmount"
"$PGDAXCTL" status --json "$mnt" | grep -q "\"pids\": \[$holder\]" || fail "status --json has no drain pids"
for i in $(seq 1 100); do
	pgdax_daemon_log "$pid" | grep -q "open by pid .* refused with ENXIO" && break
	sleep 0.05
done
line=$(pgdax_daemon_log "$pid" | grep "open by pid .* refused with ENXIO" | head -1)
[ -n "$line" ] || fail "no log line explains the ENXIO"
echo "$line" >&2
echo "$line" | grep -q "draining for an unmount since" || fail "ENXIO log line does not name the drain"
echo "$line" | grep -q "pids $holder (sleep)" || fail "ENXIO log line does not name the holder"
echo "$line" | grep -q -- "--cancel" || fail "ENXIO log line does not say how to cancel"
"$PGDAXCTL" unmount --cancel "$mnt" | grep -q "serving new opens again" || fail "unmount --cancel failed"
[ "$(cat "$mnt/other")" = other ] || fail "new open after --cancel failed"
must_fail "$PGDAXCTL" unmount --cancel "$mnt"
"$PGDAXCTL" unmount --cancel "$mnt" 2>&1 | grep -q "no unmount in progress" ||
	fail "--cancel with nothing draining does not say so"

# 3. a second SIGTERM after a cancel starts a new drain (the signal thread
# waits again), and one whose holder goes in time completes
"$PGDAXCTL" unmount --timeout 30 "$mnt" >"$PGDAX_WORK/u3.out" 2>&1 &
upid=$!
_pgdax_pids+=("$upid")
wait_draining "pgdaxctl unmount"
kill "$holder"
pgdax_wait_pid "$holder" 10 || fail "holder did not exit"
pgdax_wait_pid "$upid" 30 || fail "unmount did not return after the holder left"
cat "$PGDAX_WORK/u3.out" >&2
[ "$PGDAX_STATUS" -eq 0 ] || fail "unmount exited $PGDAX_STATUS once the holder left"
pgdax_wait_pid "$pid" 10 || fail "daemon still running after unmount"
[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited $PGDAX_STATUS"
pgdax_is_mounted "$mnt" && fail "still mounted after unmount"
pgdax_mount "$dev" "$mnt"
[ "$(cat "$mnt/created")" = new ] || fail "file created after the give-up lost"
pgdax_umount "$mnt"
