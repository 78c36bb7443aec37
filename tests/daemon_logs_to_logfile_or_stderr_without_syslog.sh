#!/bin/bash
# Logs land somewhere. With -o logfile=PATH the daemon appends what it says
# once serving to PATH, one line each with a timestamp, its pid and the
# level (foreground and background alike; the file is appended to, not
# truncated). Without logfile= and without a syslog socket (/dev/log, which
# this machine and containers lack) a background daemon keeps its stderr for
# the log instead of sending it to /dev/null; and mount.pgdaxfs, when there
# is no /dev/log, gives the daemon logfile=/var/log/pgdaxfs.log (here
# PGDAXFS_LOGFILE) so that nothing is lost. The line provoked: unmounting
# logs "DEVICE released" at level info.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
logf=$PGDAX_WORK/pgdaxfs.log
stamp='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} pgdaxfs\[[0-9]+\] '

echo "a line from before" >"$logf"
pgdax_mount "$dev" "$mnt" -o "logfile=$logf" --log-level info
pid=$PGDAX_LAST_PID
pgdax_umount "$mnt"
grep -q "^a line from before$" "$logf" || fail "logfile= truncated the file"
grep -Eq "${stamp}info: $dev released$" "$logf" ||
	fail "no stamped 'released' line in the log file: $(cat "$logf")"
grep -Eq "${stamp}" "$logf" && ! grep -Ev "${stamp}|^a line from before$" "$logf" | grep -q . ||
	fail "unstamped lines in the log file: $(cat "$logf")"
grep -q "\[$pid\]" "$logf" || fail "the log lines do not carry the daemon's pid $pid"
log "foreground, logfile=: $(tail -n1 "$logf")"

# background, no logfile=, no syslog: stderr keeps the log
if [ -S /dev/log ]; then
	log "this machine has /dev/log: the stderr fallback is not exercised"
else
	errf=$PGDAX_WORK/stderr.log
	"$PGDAXFS" "$dev" "$mnt" --log-level info 2>"$errf" || fail "background mount failed"
	_pgdax_mounts+=("$mnt")
	bgpid=$(awk 'NR == 1' /run/pgdaxfs/"$(awk -v m="$mnt" '$5 == m {print $3}' /proc/self/mountinfo | tail -n1 | tr : _)".pid)
	[ -n "$bgpid" ] || fail "no run file for the background daemon"
	_pgdax_pids+=("$bgpid")
	umount "$mnt"
	pgdax_wait_pid "$bgpid" 30 || fail "background daemon $bgpid did not exit"
	grep -Eq "${stamp}info: $dev released$" "$errf" ||
		fail "background daemon without syslog: no 'released' line on stderr: $(cat "$errf")"
	log "background, no syslog: $(tail -n1 "$errf")"

	# the mount helper passes logfile= when there is no syslog
	out=$(PGDAXFS_DAEMON=$PGDAXFS PGDAXFS_LOGFILE=$PGDAX_WORK/helper.log \
		"$top_builddir/tools/mount.pgdaxfs" "$dev" "$mnt" -f -v 2>&1) ||
		fail "mount.pgdaxfs -f -v failed: $out"
	grep -q "logfile=$PGDAX_WORK/helper.log" <<<"$out" ||
		fail "mount.pgdaxfs did not pass logfile= without syslog: $out"
	log "mount.pgdaxfs without syslog: $out"
fi
