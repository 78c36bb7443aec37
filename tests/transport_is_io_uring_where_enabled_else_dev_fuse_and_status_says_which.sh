#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon serves over FUSE-over-io_uring with -o io_uring where the
# kernel offers it (the fuse module's enable_uring is 1), over /dev/fuse by
# default and with -o no_io_uring, and falls back to /dev/fuse when
# enable_uring is 0, saying so in one log line that names the switch
# (the default and -o no_io_uring, which did not ask, say nothing); `pgdaxctl status`
# reports the transport each mount uses, and a mount that fell back serves
# normally. The test sets enable_uring (a
# system-wide switch): to 1, left on, and to 0 only while it mounts, holding
# the lock that keeps other tests' io_uring mounts out of that moment, then
# restores it (also from the exit trap).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_need_uring
PGDAX_TRANSPORT=	# this test passes the options itself
pgdax_init
dev=$(pgdax_new_device 64M 4K)
dev2=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev"
pgdax_mkfs "$dev2"
mnt=$(pgdax_new_dir mnt)
mnt2=$(pgdax_new_dir mnt2)
switch_lines() { pgdax_daemon_log "$@" | grep -c "enable_uring" || true; }

exec {lockfd}>>"$PGDAX_URING_LOCK"
_pgdax_uring_on "$lockfd"
exec {lockfd}>&-

# 1. enabled: io_uring on request, /dev/fuse by default and on request
pgdax_mount "$dev" "$mnt"
[ "$(pgdax_transport "$mnt")" = dev_fuse ] ||
	fail "default mount: transport '$(pgdax_transport "$mnt")', expected dev_fuse: $(pgdax_daemon_log)"
[ "$(switch_lines)" = 0 ] || fail "default mount mentions enable_uring: $(pgdax_daemon_log)"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt" -o io_uring
[ "$(pgdax_transport "$mnt")" = io_uring ] ||
	fail "-o io_uring with enable_uring=1: transport '$(pgdax_transport "$mnt")': $(pgdax_daemon_log)"
"$PGDAXCTL" status "$mnt" | grep -q '^  transport:  io_uring$' ||
	fail "pgdaxctl status (text) does not say io_uring: $("$PGDAXCTL" status "$mnt")"
[ "$(switch_lines)" = 0 ] || fail "enable_uring mentioned although on: $(pgdax_daemon_log)"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt" -o no_io_uring
[ "$(pgdax_transport "$mnt")" = dev_fuse ] || fail "-o no_io_uring: transport '$(pgdax_transport "$mnt")'"
pgdax_umount "$mnt"

# 2. disabled: -o io_uring falls back with one line naming the switch; the
# default and -o no_io_uring say nothing
pgdax_uring_off
pgdax_mount "$dev" "$mnt"
m1=$PGDAX_LAST_PID
pgdax_mount "$dev2" "$mnt2" -o io_uring
m2=$PGDAX_LAST_PID
mnt3=$(pgdax_new_dir mnt3)
dev3=$(pgdax_new_device 64M 4K)
pgdax_mkfs "$dev3"
pgdax_mount "$dev3" "$mnt3" -o no_io_uring
m3=$PGDAX_LAST_PID
pgdax_uring_restore
[ "$(cat "$PGDAX_ENABLE_URING")" = Y ] || fail "enable_uring not restored to 1"

[ "$(switch_lines "$m3")" = 0 ] || fail "enable_uring=0, -o no_io_uring: mentions the switch: $(pgdax_daemon_log "$m3")"
[ "$(switch_lines "$m1")" = 0 ] || fail "enable_uring=0, default mount: mentions the switch: $(pgdax_daemon_log "$m1")"
for m in "$mnt:$m1" "$mnt2:$m2" "$mnt3:$m3"; do
	[ "$(pgdax_transport "${m%:*}")" = dev_fuse ] ||
		fail "enable_uring=0: transport '$(pgdax_transport "${m%:*}")': $(pgdax_daemon_log "${m#*:}")"
	[ "${m#*:}" != "$m2" ] || [ "$(switch_lines "${m#*:}")" = 1 ] ||
		fail "enable_uring=0: expected one log line naming the switch: $(pgdax_daemon_log "${m#*:}")"
	echo fell back >"${m%:*}/f"
	[ "$(cat "${m%:*}/f")" = "fell back" ] || fail "a mount that fell back does not serve"
done
log "the fallback line: $(pgdax_daemon_log "$m2" | grep enable_uring)"
pgdax_umount "$mnt" "$m1"
pgdax_umount "$mnt2" "$m2"
pgdax_umount "$mnt3" "$m3"
log "PASS"
