#!/bin/bash
# SPDX-License-Identifier: MIT
# The devdax watcher of lib/dev/dev_watch.c (kernel uevents on a
# NETLINK_KOBJECT_UEVENT socket, then sysfs) notices on its own that the
# namespace was disabled: with the mount idle (no request, so no access
# faults), the daemon logs that the device went away, why, and the volume
# is dead; umount makes the daemon exit 1; enabled again, the device mounts
# with the file written before.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
pgdax_init
pgdax_on_exit "[ -c '$DAX' ] || ndctl enable-namespace $DAX_NS >/dev/null 2>&1"
pgdax_mkfs "$DAX"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$DAX" "$mnt"
pid=$PGDAX_LAST_PID
echo kept >"$mnt/f"
timeout 60 ndctl disable-namespace "$DAX_NS" >&2 || fail "ndctl disable-namespace failed"
# only the daemon's own watcher can notice: nothing touches the mount
seen=
for i in $(seq 1 600); do
	pgdax_daemon_log "$pid" | grep -q "went away" && { seen=1; break; }
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$seen" ] || { pgdax_daemon_log "$pid" >&2; fail "the idle daemon did not notice the disabled namespace in 30 s"; }
line=$(pgdax_daemon_log "$pid" | grep -m1 "went away")
log "daemon: $line"
grep -q "disabled or unbound" <<<"$line" || fail "the log does not say the namespace was disabled: $line"
timeout 10 "$PGDAXCTL" status "$mnt" | grep -q DEAD || fail "pgdaxctl status does not say DEAD"
timeout 60 umount "$mnt" || fail "umount hung or failed"
pgdax_wait_pid "$pid" 30 || fail "daemon $pid did not exit after umount"
[ "$PGDAX_STATUS" -eq 1 ] || fail "daemon exited $PGDAX_STATUS, expected 1"
timeout 60 ndctl enable-namespace "$DAX_NS" >&2 || fail "ndctl enable-namespace failed"
for i in $(seq 1 100); do [ -c "$DAX" ] && break; sleep 0.1; done
pgdax_mount "$DAX" "$mnt"
[ "$(cat "$mnt/f")" = kept ] || fail "the file written before is lost"
pgdax_umount "$mnt"
echo "1 passed, 0 failed"
