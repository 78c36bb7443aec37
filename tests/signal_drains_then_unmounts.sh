#!/bin/bash
# SIGTERM (and SIGINT, SIGHUP) make the daemon block new work, serve and
# wait for the handles already open, drain, then unmount and release the
# device and exit 0: what was written is on the device, nothing stays
# mounted, and the device can be mounted again.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)

for sig in TERM INT HUP; do
	pgdax_mount "$dev" "$mnt" --log-level info
	pid=$PGDAX_LAST_PID
	echo "before $sig" >"$mnt/file.$sig"
	# an open handle across the signal: still served, and waited for
	exec 3<"$mnt/file.$sig"
	kill -"$sig" "$pid"
	for i in $(seq 1 200); do
		pgdax_daemon_log "$pid" | grep -q "unmounting" && break
		sleep 0.05
	done
	[ "$(cat <&3)" = "before $sig" ] || fail "open handle not served after SIG$sig"
	kill -0 "$pid" 2>/dev/null || fail "daemon exited with a file open after SIG$sig"
	exec 3<&-
	pgdax_wait_pid "$pid" 30 || fail "daemon did not exit after SIG$sig and the last close"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited $PGDAX_STATUS after SIG$sig"
	pgdax_daemon_log "$pid" | grep -q "unmounting" || fail "no drain message after SIG$sig"
	pgdax_is_mounted "$mnt" && umount -l "$mnt" 2>/dev/null && fail "still mounted after SIG$sig"
	true
done
pgdax_mount "$dev" "$mnt"
for sig in TERM INT HUP; do
	[ "$(cat "$mnt/file.$sig")" = "before $sig" ] || fail "file written before SIG$sig lost"
done
pgdax_umount "$mnt"
