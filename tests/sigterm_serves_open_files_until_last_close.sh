#!/bin/bash
# SPDX-License-Identifier: MIT
# Two-phase teardown (fs/teardown.c): after SIGTERM the daemon blocks new work
# at the filesystem level -- new opens, creates, mkdir and opendir of
# anything but the root fail with ENXIO -- while handles that were already
# open keep being served: a file held open can still be read and written,
# getattr and the root listing work, pgdaxctl status reports "dying". The
# daemon waits for every open handle (files and directories); it exits 0
# promptly after the last close (the RELEASE wakes it: no polling), and
# what was written through the held handle is there after a remount.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o drain_timeout=1 --log-level info
pid=$PGDAX_LAST_PID

head -c 200000 /dev/urandom >"$PGDAX_WORK/ref"
cp "$PGDAX_WORK/ref" "$mnt/held"
echo other >"$mnt/other"
mkdir "$mnt/dir"
touch "$mnt/dir/inside"
exec 3<>"$mnt/held" 4<"$mnt/dir"

kill -TERM "$pid"
for i in $(seq 1 200); do
	pgdax_daemon_log "$pid" | grep -q "unmounting" && break
	sleep 0.05
done
pgdax_daemon_log "$pid" | grep -q "unmounting" || fail "no teardown message after SIGTERM"

# old work is served
cmp - "$PGDAX_WORK/ref" <&3 || fail "held file not readable after SIGTERM"
printf 'appended after SIGTERM\n' >&3 || fail "write through the held handle failed after SIGTERM"
cat "$PGDAX_WORK/ref" >"$PGDAX_WORK/expect"
printf 'appended after SIGTERM\n' >>"$PGDAX_WORK/expect"
[ "$(stat -c %s "$mnt/held")" -eq "$(stat -c %s "$PGDAX_WORK/expect")" ] ||
	fail "size of the held file not updated after SIGTERM"
ls "$mnt" | grep -qx held || fail "root listing failed after SIGTERM"
"$PGDAXCTL" status --json "$mnt" >"$PGDAX_WORK/status.json" ||
	fail "pgdaxctl status failed while draining"
grep -q '"state": "dying"' "$PGDAX_WORK/status.json" ||
	fail "status while draining does not say dying: $(cat "$PGDAX_WORK/status.json")"

# new work is refused, with ENXIO
expect_enxio() { # WHAT CMD...
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$what succeeded after SIGTERM"
	fi
	echo "$out" | grep -q "No such device or address" ||
		fail "$what after SIGTERM: expected ENXIO, got: $out"
}
expect_enxio "a new open" cat "$mnt/other"
expect_enxio "a create" touch "$mnt/new"
expect_enxio "a mkdir" mkdir "$mnt/newdir"
expect_enxio "opendir of a subdirectory" ls "$mnt/dir"
[ -e "$mnt/new" ] && fail "create after SIGTERM left a file"

# it waits for every handle: the file, then the directory
kill -0 "$pid" 2>/dev/null || fail "daemon exited while files were open"
exec 3>&-
# the file's RELEASE is served (asynchronous to close): the next report
# (every drain_timeout, 1 s) counts the directory alone
for i in $(seq 1 200); do
	pgdax_daemon_log "$pid" | grep -q "^pgdaxfs: 1 handle(s) still open" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$pid" 2>/dev/null || fail "daemon exited while a directory was still open"
pgdax_daemon_log "$pid" | grep -q "1 handle(s) still open" ||
	fail "no report of the one handle left after the file's release"
pgdax_is_mounted "$mnt" || fail "mount went away while a directory was open"
t0=$(date +%s%N)
exec 4<&-
pgdax_wait_pid "$pid" 30 || fail "daemon did not exit after the last close"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited $PGDAX_STATUS"
log "daemon exited ${ms} ms after the last close"
# event-driven: the last RELEASE wakes the teardown (a polling drain with
# a 1 s slice, or a drain timeout, would take longer)
[ "$ms" -lt 900 ] || fail "daemon took ${ms} ms to exit after the last close"
pgdax_is_mounted "$mnt" && fail "still mounted after the drain"

pgdax_mount "$dev" "$mnt"
cmp "$mnt/held" "$PGDAX_WORK/expect" || fail "data written after SIGTERM lost"
[ "$(cat "$mnt/other")" = other ] || fail "other file lost"
[ -e "$mnt/new" ] && fail "refused create exists after remount"
pgdax_umount "$mnt"
