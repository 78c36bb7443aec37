# SPDX-License-Identifier: MIT
# A busy mount whose device goes away (DESIGN.md 4a): the load both the
# emulated-device test (the file is cut) and the devdax test (ndctl
# disable-namespace) put on the mount before the device goes, and the
# checks they make while it is dead and after it is back. Sourced after
# tests/lib.sh and tests/pin_lib.sh; needs a mount made with -o break_notify.
#
# What is "acknowledged" here: a file whose write(2)s and close returned, a
# mkdir that returned, each pwrite of the stream that returned (logged to
# $PGDAX_WORK/stream.acks after it returned). Every one of them must be
# there after the device comes back.

# MNT: twenty files and a directory (acknowledged, hashes in
# $PGDAX_WORK/acked), a DAX client "holder" holding a pin on f20 and
# waiting for POLLPRI, and a writer streaming 4 KiB pwrites to MNT/stream
# ($BUSY_WRITER, its pid). Returns once the writer has written.
busy_load() {
	local mnt=$1 i
	: >"$PGDAX_WORK/acked"
	for i in $(seq 1 20); do
		head -c $((i * 7777)) /dev/urandom >"$mnt/f$i"
		echo "f$i $(sha256sum <"$mnt/f$i" | cut -d' ' -f1)" >>"$PGDAX_WORK/acked"
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
	BUSY_WRITER=$!
	_pgdax_pids+=("$BUSY_WRITER")
	for i in $(seq 1 400); do
		[ -s "$PGDAX_WORK/stream.acks" ] && return 0
		kill -0 "$BUSY_WRITER" 2>/dev/null || break
		sleep 0.05
	done
	fail "the writer never wrote"
}

# MNT MAX_MS CMD...: each command fails with EIO within MAX_MS on the dead
# volume.
busy_requests_fail_with_eio() {
	local mnt=$1 max_ms=$2 cmd out t0 ms
	shift 2
	for cmd in "$@"; do
		t0=$(date +%s%N)
		if out=$(timeout $((max_ms / 1000 + 10)) $cmd 2>&1); then
			fail "'$cmd' succeeded on a dead volume"
		fi
		ms=$((($(date +%s%N) - t0) / 1000000))
		grep -q "Input/output error" <<<"$out" || fail "'$cmd' failed with '$out', expected EIO"
		[ "$ms" -lt "$max_ms" ] || fail "'$cmd' took $ms ms"
	done
}

# MNT: the load's acknowledged files, directory and stream writes are all
# there (the device came back and MNT is mounted again).
busy_check_acknowledged() {
	local mnt=$1 name sum last
	while read -r name sum; do
		[ "$(sha256sum <"$mnt/$name" | cut -d' ' -f1)" = "$sum" ] || fail "$name lost or changed"
	done <"$PGDAX_WORK/acked"
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
}
