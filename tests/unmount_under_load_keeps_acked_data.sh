#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmount under load ("block new, drain old"): while fio (psync and mmap,
# verify=crc32c) and a DAX-mapped writer run, the filesystem is asked to
# unmount -- by SIGTERM to the daemon, by umount -l, and by pgdaxctl
# unmount. The daemon keeps serving and waits while handles or references
# exist (it is still running, the device still held, while the DAX writer
# maps it); every job runs to completion without an error in all three
# ways (open handles are old work: served until closed, fs/teardown.c phase 1);
# after a remount every byte that was acknowledged (fio writes completed,
# DAX generations acknowledged by pgdax_mapping_sync) is present.
# PGDAX_UNMOUNT_CYCLES (default 1) rounds of the three ways
# (PGDAX_UNMOUNT_HOW picks some); make check-unmount-long runs many.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
command -v fio >/dev/null || fail "fio is required (tools/install-deps.sh)"

cycles=${PGDAX_UNMOUNT_CYCLES:-1}
# PGDAX_UNMOUNT_SIZE: bytes per fio job (24M; the devdax guest, emulated
# by TCG, uses less)
dev=$(pgdax_new_device 256M 2M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)

# One fio job, three steps: laid out first (fio reopens a file between its
# phases, and a new open is exactly what a draining filesystem refuses);
# then written with crc32c verify headers through one descriptor, rate
# limited so it is still running when the unmount starts (mmap: msync after
# every write, so each completed write is acknowledged); fio must complete;
# after the remount --verify_only checks all the blocks.
fio_args() { # NAME ENGINE FILE
	echo --name="$1" --filename="$3" --ioengine="$2" --rw=randwrite --bs=4k \
	     --size=${PGDAX_UNMOUNT_SIZE:-24M} --verify=crc32c --verify_fatal=1 --randrepeat=1 \
	     --random_generator=tausworthe64
}
fio_layout() { (cd "$PGDAX_WORK" && fio $(fio_args "$@") --create_only=1 >/dev/null 2>&1); }
fio_run() { # NAME ENGINE FILE
	local sync=
	[ "$2" = mmap ] && sync=--fsync=1
	mkdir -p "$PGDAX_WORK/fio.$1"
	(cd "$PGDAX_WORK/fio.$1" &&
	 fio $(fio_args "$@") --do_verify=0 --fsync_on_close=1 --rate=12m $sync \
	     --output="$PGDAX_WORK/$1.fio" >/dev/null 2>&1)
}
fio_verify_only() { # NAME ENGINE FILE
	(cd "$PGDAX_WORK/fio.$1" &&
	 fio $(fio_args "$1" psync "$3") --verify_only \
	     --output="$PGDAX_WORK/$1.verify" >/dev/null 2>&1)
}

# Wait until some process holds PATH open (fio opens late, in its job
# process; unmounting before that would test nothing).
wait_open() { # PATH
	local i
	for i in $(seq 1 200); do
		find /proc/[0-9]*/fd -lname "$1" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	fail "nobody opened $1 within 10s"
}

# Wait until PATH's mtime is no longer STAMP: a write reached the daemon.
wait_written() { # PATH STAMP
	local i
	for i in $(seq 1 200); do
		[ "$(stat -c %y "$1")" != "$2" ] && return 0
		sleep 0.05
	done
	fail "$1 not written within 10s"
}

# Wait until the unmount has begun: the daemon blocks new work (status says
# dying from phase 1 on). umount -l detaches at once (and the daemon is not
# told): nothing to wait for.
wait_unmounting() { # HOW
	local i
	if [ "$1" = lazy ]; then
		pgdax_is_mounted "$mnt" && fail "umount -l left $mnt visible"
		return 0
	fi
	for i in $(seq 1 200); do
		[ "$(pin_status "$mnt" state 2>/dev/null)" = 1 ] && return 0
		sleep 0.05
	done
	fail "unmount by $1 not begun within 10s"
}

one_round() { # HOW ROUND
	local how=$1 r=$2 daemon fio1 fio2 ctl= st gen stamp
	log "round $r: unmount by $how"
	pgdax_mount "$dev" "$mnt"
	daemon=$PGDAX_LAST_PID

	fio_layout "psync$r" psync "$mnt/fio-psync.$r" || fail "fio layout"
	fio_layout "mmap$r" mmap "$mnt/fio-mmap.$r" || fail "fio layout"
	stamp=$(stat -c %y "$mnt/fio-psync.$r")
	fio_run "psync$r" psync "$mnt/fio-psync.$r" & fio1=$!
	fio_run "mmap$r" mmap "$mnt/fio-mmap.$r" & fio2=$!
	pin_start dax writer "$mnt/dax.$r" 8M $((100 + r))
	pin_wait_line dax '^ACK 2'
	wait_open "$mnt/fio-psync.$r"
	wait_open "$mnt/fio-mmap.$r"
	wait_written "$mnt/fio-psync.$r" "$stamp"	# I/O in flight, not just opens

	case $how in
	sigterm) kill -TERM "$daemon" ;;
	lazy) umount -l "$mnt" ;;
	pgdaxctl) "$PGDAXCTL" unmount "$mnt" >"$PGDAX_WORK/ctl.$r.out" 2>&1 & ctl=$! ;;
	esac

	# old work is served: the jobs run on; the daemon waits for them
	wait_unmounting "$how"
	kill -0 "$daemon" 2>/dev/null || fail "daemon exited while a DAX mapping existed ($how)"
	for j in "psync$r:$fio1" "mmap$r:$fio2"; do
		if ! wait "${j#*:}"; then
			cat "$PGDAX_WORK/${j%%:*}.fio" >&2
			fail "fio ${j%%:*} failed during unmount ($how): open handles must keep working"
		fi
	done
	if [ "$how" != lazy ]; then
		# ...while new work is refused
		out=$(cat "$mnt/fio-psync.$r" 2>&1 >/dev/null) &&
			fail "a new open succeeded while unmounting ($how)"
		echo "$out" | grep -q "No such device or address" ||
			fail "new open while unmounting ($how): expected ENXIO, got: $out"
	fi
	kill -0 "$daemon" 2>/dev/null || fail "daemon exited while a DAX mapping existed ($how)"
	if [ -n "$ctl" ]; then
		kill -0 "$ctl" 2>/dev/null || fail "pgdaxctl unmount returned while the device was held"
	fi
	if [ "$how" != lazy ]; then
		# status works while draining, and says who holds what
		"$PGDAXCTL" status --json "$mnt" >"$PGDAX_WORK/status.json" ||
			fail "pgdaxctl status failed while draining ($how)"
		grep -q '"state": "dying"' "$PGDAX_WORK/status.json" ||
			fail "status while draining: $(cat "$PGDAX_WORK/status.json")"
		grep -q '"pins": 1,' "$PGDAX_WORK/status.json" ||
			fail "status does not show the DAX writer's pin"
		grep -q "\"path\": \"$mnt/dax.$r\"" "$PGDAX_WORK/status.json" ||
			fail "status does not name the pinned file: $(cat "$PGDAX_WORK/status.json")"
	fi
	# the DAX client lets go: the drain completes
	gen=$(grep '^ACK' "$PGDAX_WORK/dax.out" | tail -1 | awk '{print $2}')
	pin_release dax
	gen=$(grep '^ACK' "$PGDAX_WORK/dax.out" | tail -1 | awk '{print $2}')
	[ -n "$gen" ] || fail "no acknowledged DAX generation"
	if [ "$how" = lazy ] || [ "$how" = pgdaxctl ]; then
		pgdax_wait_pid "$daemon" 30 || fail "daemon did not exit after the last reference ($how)"
		[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited with $PGDAX_STATUS ($how)"
	else
		pgdax_wait_pid "$daemon" 30 || fail "daemon did not exit after SIGTERM drain"
		[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited with $PGDAX_STATUS after SIGTERM"
	fi
	if [ -n "$ctl" ]; then
		wait "$ctl" || { cat "$PGDAX_WORK/ctl.$r.out" >&2; fail "pgdaxctl unmount failed"; }
	fi
	pgdax_is_mounted "$mnt" && umount -l "$mnt"

	# remount: everything acknowledged is there
	pgdax_mount "$dev" "$mnt"
	fio_verify_only "psync$r" psync "$mnt/fio-psync.$r" ||
		{ cat "$PGDAX_WORK/psync$r.verify" >&2; fail "fio psync data lost ($how)"; }
	fio_verify_only "mmap$r" mmap "$mnt/fio-mmap.$r" ||
		{ cat "$PGDAX_WORK/mmap$r.verify" >&2; fail "fio mmap data lost ($how)"; }
	"$CLIENT" verify "$mnt/dax.$r" 8M $((100 + r)) "$gen" >&2 ||
		fail "DAX generation $gen acknowledged but not on the device ($how)"
	rm -f "$mnt"/fio-* "$mnt"/dax.*
	pgdax_umount "$mnt"
	rm -f "$PGDAX_WORK"/dax.*
}

round=0
for c in $(seq 1 "$cycles"); do
	for how in ${PGDAX_UNMOUNT_HOW:-sigterm lazy pgdaxctl}; do
		round=$((round + 1))
		one_round "$how" "$round"
	done
done
log "PASS ($round rounds)"
