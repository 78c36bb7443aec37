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
pgdax_init
pgdax_on_exit "[ -c '$DAX' ] || ndctl enable-namespace $DAX_NS >/dev/null 2>&1"
status_json() { timeout 10 "$PGDAXCTL" status --json "$1"; }

pgdax_mkfs "$DAX"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$DAX" "$mnt" -o break_notify
pid=$PGDAX_LAST_PID
acked=$PGDAX_WORK/acked
: >"$acked"
for i in $(seq 1 20); do
	head -c $((i * 7777)) /dev/urandom >"$mnt/f$i"
	echo "f$i $(sha256sum <"$mnt/f$i" | cut -d' ' -f1)" >>"$acked"
done
mkdir "$mnt/dir"
pin_start holder map "$mnt/f20" 0 4096 ro poll
pin_wait_line holder '^READY' 60
python3 - "$mnt/stream" "$PGDAX_WORK/stream.acks" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
log = open(sys.argv[2], "w")
i = 0
while True:
    try:
        os.pwrite(fd, bytes([i % 251]) * 4096, i * 4096)
    except OSError as e:
        print("stream stopped:", e, file=sys.stderr)
        break
    log.write("%d\n" % i); log.flush()
    i += 1
PY
writer=$!
_pgdax_pids+=("$writer")
for i in $(seq 1 400); do [ -s "$PGDAX_WORK/stream.acks" ] && break; sleep 0.05; done
[ -s "$PGDAX_WORK/stream.acks" ] || fail "the writer never wrote"

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
for cmd in "cat $mnt/f1" "touch $mnt/new" "mkdir $mnt/d2" "ls $mnt/dir" "stat $mnt/f2" "rm $mnt/f4"; do
	t0=$(date +%s%N)
	if out=$(timeout 20 $cmd 2>&1); then fail "'$cmd' succeeded on a dead volume"; fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	grep -q "Input/output error" <<<"$out" || fail "'$cmd' failed with '$out', expected EIO"
	[ "$ms" -lt 10000 ] || fail "'$cmd' took $ms ms"
done
pgdax_wait_pid "$writer" 20 || fail "the writer did not stop with an error"
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
while read -r name sum; do
	[ "$(sha256sum <"$mnt/$name" | cut -d' ' -f1)" = "$sum" ] || fail "$name lost or changed"
done <"$acked"
[ -d "$mnt/dir" ] || fail "acknowledged mkdir lost"
last=$(tail -n1 "$PGDAX_WORK/stream.acks")
python3 - "$mnt/stream" "$last" <<'PY' || fail "acknowledged stream writes lost"
import sys
data = open(sys.argv[1], "rb").read()
last = int(sys.argv[2])
for i in range(last + 1):
    if data[i * 4096:(i + 1) * 4096] != bytes([i % 251]) * 4096:
        print("block %d of the stream is wrong" % i); sys.exit(1)
print("stream: %d acknowledged blocks intact" % (last + 1), file=sys.stderr)
PY
pgdax_umount "$mnt"
"$FSCK" -n -f "$DAX" >"$PGDAX_WORK/fsck" 2>&1 || { cat "$PGDAX_WORK/fsck" >&2; fail "fsck -n after the device came back"; }
echo "1 passed, 0 failed"
