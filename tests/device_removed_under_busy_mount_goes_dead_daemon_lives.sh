#!/bin/bash
# SPDX-License-Identifier: MIT
# The device goes away under a live, busy mount (DESIGN.md 4a; on the
# emulated device: its file is cut, as a disabled devdax namespace revokes
# the mapping). The daemon survives and the volume is dead:
#   - every request fails with EIO at once (reads, writes, creates, stat);
#   - the pin holder is told (POLLPRI) and its pin is revoked;
#   - pgdaxctl status says "dead" and why; the log says it plainly;
#   - umount completes and the daemon exits with status 1;
#   - when the device is back, it mounts with every acknowledged operation.
# Two cuts: the last block only (the backup superblock, saved first and put
# back, so the device "comes back" whole), and half the device under a
# stream of writers (nothing to bring back: only the behaviour is checked).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
. "$top_srcdir/tests/busy_mount_lib.sh"
pgdax_init
CTL=${PGDAXCTL:-$top_builddir/tools/pgdaxctl}

status_json() { timeout 10 "$CTL" status --json "$1"; }

# MNT: wait (bounded) until the daemon reports the volume dead
wait_dead() {
	local mnt=$1 i
	for i in $(seq 1 200); do
		status_json "$mnt" 2>/dev/null | grep -q '"dead": true' && return 0
		sleep 0.05
	done
	status_json "$mnt" >&2
	fail "the volume on $mnt never became dead"
}

# MNT PID: umount, then the daemon must exit 1 and say why
umount_dead() {
	local mnt=$1 pid=$2
	umount "$mnt" || fail "umount of the dead mount $mnt failed"
	pgdax_wait_pid "$pid" 30 || fail "daemon $pid did not exit after umount"
	[ "$PGDAX_STATUS" -eq 1 ] || {
		pgdax_daemon_log "$pid" >&2
		fail "daemon of a dead volume exited $PGDAX_STATUS, expected 1"
	}
	pgdax_daemon_log "$pid" | grep -q "went away" || fail "the log does not say the device went away"
}

# ---- 1. the last block cut; the device comes back whole ----------------
dev=$(pgdax_new_device 64M)
size=$(stat -c %s "$dev")
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o break_notify
pid=$PGDAX_LAST_PID
pgdax_on_exit "truncate -s $size '$dev'"

busy_load "$mnt"
[ "$(pin_status "$mnt" pins)" = 1 ] || fail "the pin is not held"

# the device goes away: its last block (the backup superblock) is cut
dd if="$dev" of="$PGDAX_WORK/tail" bs=4096 skip=$((size / 4096 - 1)) count=1 status=none
truncate -s $((size - 4096)) "$dev"
wait_dead "$mnt"
kill -0 "$pid" 2>/dev/null || fail "the daemon died when its device went away"
status_json "$mnt" | grep -q '"dead_reason": ".*was cut to' || fail "status does not say why"
"$CTL" status "$mnt" | grep -q "DEAD" || fail "the text status does not say DEAD"
# the pin holder is told and its pin revoked
pin_wait_line holder '^BREAK' 10
pin_wait_status "$mnt" pinned_extents 0 10
# every request fails with EIO, promptly
busy_requests_fail_with_eio "$mnt" 5000 "cat $mnt/f1" "touch $mnt/new" "mkdir $mnt/d2" \
	"ls $mnt/dir" "stat $mnt/f2" "truncate -s 0 $mnt/f3" "rm $mnt/f4"
pgdax_wait_pid "$BUSY_WRITER" 10 || fail "the writer did not stop with an error"
pgdax_wait_pid "${PIN_PID[holder]}" 10 || kill "${PIN_PID[holder]}" 2>/dev/null
pgdax_wait_pid "${PIN_PID[holder]}" 10
umount_dead "$mnt" "$pid"
pgdax_daemon_log "$pid" | grep -q "pin(s) revoked" || fail "the log does not report the revoked pin"

# the device comes back whole: every acknowledged operation is there
truncate -s "$size" "$dev"
dd if="$PGDAX_WORK/tail" of="$dev" bs=4096 seek=$((size / 4096 - 1)) conv=notrunc status=none
pgdax_mount "$dev" "$mnt"
busy_check_acknowledged "$mnt"
pgdax_umount "$mnt"
"$FSCK" -n "$dev" >"$PGDAX_WORK/fsck.out" 2>&1 || { cat "$PGDAX_WORK/fsck.out" >&2; fail "fsck after the device came back"; }

# ---- 2. half the device cut under writers: the daemon lives ------------
dev2=$(pgdax_new_device 64M)
size2=$(stat -c %s "$dev2")
pgdax_mkfs "$dev2"
mnt2=$(pgdax_new_dir mnt2)
pgdax_mount "$dev2" "$mnt2"
pid2=$PGDAX_LAST_PID
pgdax_on_exit "truncate -s $size2 '$dev2'"
pids=()
for w in 1 2 3; do
	( for i in $(seq 1 100000); do
		head -c 65536 /dev/urandom >"$mnt2/w$w.$((i % 50))" 2>/dev/null || exit 0
	  done ) &
	pids+=("$!"); _pgdax_pids+=("$!")
done
for i in $(seq 1 200); do [ -e "$mnt2/w3.3" ] && break; sleep 0.05; done
truncate -s $((size2 / 2)) "$dev2"
wait_dead "$mnt2"
for p in "${pids[@]}"; do
	pgdax_wait_pid "$p" 20 || fail "a writer hung on the dead volume"
done
kill -0 "$pid2" 2>/dev/null || fail "the daemon died when half its device went away"
umount_dead "$mnt2" "$pid2"
echo "ok"
