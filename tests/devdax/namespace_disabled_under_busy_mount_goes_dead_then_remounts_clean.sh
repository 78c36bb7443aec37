#!/bin/bash
# SPDX-License-Identifier: MIT
# The device goes away for real under a live, busy mount: `ndctl
# disable-namespace` while a writer streams and a DAX client holds a pin
# (DESIGN.md 4a, issue 14). The daemon notices (the devdax uevent watcher
# of lib/dev/dev_watch.c or a fault) and the volume is dead:
#   - `pgdaxctl status` says DEAD, with the reason; the daemon is alive;
#   - every request fails with EIO promptly, the writer stops with an error,
#     the pin holder is told (POLLPRI) and its pin revoked;
#   - umount completes, the daemon exits 1 and its log says the device
#     went away; nothing hangs;
# then `ndctl enable-namespace` brings the device back, it mounts, every
# acknowledged operation is there, and fsck -n is clean.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
. "$top_srcdir/tests/busy_mount_lib.sh"
pgdax_init
pgdax_on_exit "[ -c '$DAX' ] || ndctl enable-namespace $DAX_NS >/dev/null 2>&1"
status_json() { timeout 10 "$PGDAXCTL" status --json "$1"; }

pgdax_mkfs "$DAX"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$DAX" "$mnt" -o break_notify
pid=$PGDAX_LAST_PID
busy_load "$mnt"

log "ndctl disable-namespace $DAX_NS under the busy mount"
timeout 60 ndctl disable-namespace "$DAX_NS" >&2 || fail "ndctl disable-namespace failed"
[ ! -e "$DAX" ] || fail "$DAX still there after disable-namespace"
dead=
for i in $(seq 1 400); do
	status_json "$mnt" 2>/dev/null | grep -q '"dead": true' && { dead=1; break; }
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$pid" 2>/dev/null || { pgdax_daemon_log "$pid" >&2; fail "the daemon died when its namespace was disabled"; }
[ -n "$dead" ] || { status_json "$mnt" >&2; fail "the volume never became dead"; }
reason=$(status_json "$mnt" | sed -n 's/.*"dead_reason": "\(.*\)",*$/\1/p')
[ -n "$reason" ] || fail "status gives no reason"
log "dead: $reason"
"$PGDAXCTL" status "$mnt" | grep -q "DEAD" || fail "the text status does not say DEAD"
pin_wait_line holder '^BREAK' 20
pin_wait_status "$mnt" pinned_extents 0 20
busy_requests_fail_with_eio "$mnt" 10000 "cat $mnt/f1" "touch $mnt/new" "mkdir $mnt/d2" \
	"ls $mnt/dir" "stat $mnt/f2" "rm $mnt/f4"
pgdax_wait_pid "$BUSY_WRITER" 20 || fail "the writer did not stop with an error"
pgdax_wait_pid "${PIN_PID[holder]}" 10 || kill "${PIN_PID[holder]}" 2>/dev/null
timeout 60 umount "$mnt" || fail "umount of the dead mount failed or hung"
pgdax_wait_pid "$pid" 30 || fail "daemon $pid did not exit after umount"
[ "$PGDAX_STATUS" -eq 1 ] || { pgdax_daemon_log "$pid" >&2; fail "daemon exited $PGDAX_STATUS, expected 1"; }
pgdax_daemon_log "$pid" | grep -q "went away" || { pgdax_daemon_log "$pid" >&2; fail "the log does not say the device went away"; }
log "daemon log: $(pgdax_daemon_log "$pid" | grep -m1 "went away")"

timeout 60 ndctl enable-namespace "$DAX_NS" >&2 || fail "ndctl enable-namespace failed"
for i in $(seq 1 100); do [ -c "$DAX" ] && break; sleep 0.1; done
[ -c "$DAX" ] || fail "$DAX did not come back"
pgdax_mount "$DAX" "$mnt"
busy_check_acknowledged "$mnt"
pgdax_umount "$mnt"
"$FSCK" -n -f "$DAX" >"$PGDAX_WORK/fsck" 2>&1 || { cat "$PGDAX_WORK/fsck" >&2; fail "fsck -n after the device came back"; }
echo "1 passed, 0 failed"
