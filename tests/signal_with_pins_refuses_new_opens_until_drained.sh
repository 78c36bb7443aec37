#!/bin/bash
# Block new, drain old: after SIGTERM with a DAX pin held, the daemon keeps
# the mount and keeps serving, refuses new opens with ENXIO, reports who
# holds what once drain_timeout passes, and exits 0 (unmounted, device
# released) only when the pin goes. With on_drain_timeout=exit it gives up
# after the report instead: exit 1, mount detached (no dead mount left), and
# the next mount recovers the volume with the acknowledged data.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
client=$top_builddir/tests/pgdax_client
[ -x "$client" ] || fail "$client not built (make check builds it)"
dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o drain_timeout=1 --log-level notice
pid=$PGDAX_LAST_PID
head -c $((1 << 20)) /dev/urandom >"$mnt/pinned"
echo other >"$mnt/other"
"$client" pin "$mnt/pinned" 0 65536 >"$PGDAX_WORK/client.out" 2>&1 &
cpid=$!
_pgdax_pids+=("$cpid")
for i in $(seq 1 100); do grep -q READY "$PGDAX_WORK/client.out" && break; sleep 0.05; done
grep -q READY "$PGDAX_WORK/client.out" || { cat "$PGDAX_WORK/client.out" >&2; fail "pin not taken"; }

kill -TERM "$pid"
# the drain report comes after drain_timeout (1 s) of waiting for the pin
for i in $(seq 1 200); do
	pgdax_daemon_log "$pid" | grep -q "waiting .* for references" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$pid" 2>/dev/null || fail "daemon exited while a pin was held"
pgdax_is_mounted "$mnt" || fail "mount went away while draining"
out=$(cat "$mnt/other" 2>&1) && fail "a new open succeeded after SIGTERM: $out"
echo "$out" | grep -q "No such device or address" || fail "new open after SIGTERM: expected ENXIO, got: $out"
pgdax_daemon_log "$pid" | grep -q "waiting .* for references" || fail "no drain report after drain_timeout"
pgdax_daemon_log "$pid" | grep -q "pins on" || fail "drain report does not name the pins"

kill -USR1 "$cpid"
pgdax_wait_pid "$cpid" 10 || fail "client did not exit"
pgdax_wait_pid "$pid" 20 || fail "daemon did not exit after the pin was released"
[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited $PGDAX_STATUS"
pgdax_is_mounted "$mnt" && fail "still mounted after drain"
pgdax_mount "$dev" "$mnt" -o drain_timeout=1,on_drain_timeout=exit
pid=$PGDAX_LAST_PID
[ "$(cat "$mnt/other")" = other ] || fail "data lost"
"$client" pin "$mnt/pinned" 0 65536 >"$PGDAX_WORK/client2.out" 2>&1 &
cpid=$!
_pgdax_pids+=("$cpid")
for i in $(seq 1 100); do grep -q READY "$PGDAX_WORK/client2.out" && break; sleep 0.05; done
grep -q READY "$PGDAX_WORK/client2.out" || fail "second pin not taken"
kill -TERM "$pid"
pgdax_wait_pid "$pid" 20 || fail "on_drain_timeout=exit: daemon still waiting"
[ "$PGDAX_STATUS" -eq 1 ] || fail "on_drain_timeout=exit: status $PGDAX_STATUS, expected 1"
pgdax_is_mounted "$mnt" && fail "on_drain_timeout=exit left the mount behind"
kill -USR1 "$cpid" 2>/dev/null || true
pgdax_wait_pid "$cpid" 10 || true
pgdax_mount "$dev" "$mnt"
[ "$(cat "$mnt/other")" = other ] || fail "data lost after on_drain_timeout=exit"
[ "$(cat "$mnt/pinned" | wc -c)" -eq 1048576 ] || fail "pinned file unreadable after on_drain_timeout=exit"
pgdax_umount "$mnt"
