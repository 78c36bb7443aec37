#!/bin/bash
# SPDX-License-Identifier: MIT
# Unmount under load ("block new, drain old"): while fio (psync and mmap,
# verify=crc32c) and a DAX-mapped writer run, the filesystem is asked to
# unmount -- by SIGTERM to the daemon, by umount -l, and by pgdaxctl
# unmount. The daemon keeps serving and waits while references exist (it
# is still running, the device still held, while the DAX writer maps it);
# every job finishes without an error; after a remount every byte that was
# acknowledged (written by fio, DAX generation acknowledged by
# pgdax_mapping_sync) is present. PGDAX_UNMOUNT_CYCLES (default 1) rounds of
# the three ways (PGDAX_UNMOUNT_HOW picks some); make check-unmount-long
# runs many.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
command -v fio >/dev/null || fail "fio is required (tools/install-deps.sh)"

cycles=${PGDAX_UNMOUNT_CYCLES:-1}
dev=$(pgdax_new_device 256M 2M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)

# The same job three ways: laid out first (fio reopens a file between its
# phases, and a new open is exactly what a draining filesystem refuses),
# then written with crc32c verify headers through one descriptor, rate
# limited so it is still running when the unmount starts, msync/fsync'd at
# close; after the remount --verify_only checks every block.
fio_args() { # NAME ENGINE FILE
	echo --name="$1" --filename="$3" --ioengine="$2" --rw=randwrite --bs=4k \
	     --size=24M --verify=crc32c --verify_fatal=1 --randrepeat=1 \
	     --random_generator=tausworthe64
}
fio_layout() { fio $(fio_args "$@") --create_only=1 >/dev/null 2>&1; }
fio_run() { # NAME ENGINE FILE
	fio $(fio_args "$@") --do_verify=0 --fsync_on_close=1 --rate=12m \
	    --output="$PGDAX_WORK/$1.fio" >/dev/null 2>&1
}
fio_verify_only() { # NAME ENGINE FILE
	fio $(fio_args "$1" psync "$3") --verify_only \
	    --output="$PGDAX_WORK/$1.verify" >/dev/null 2>&1
}

one_round() { # HOW ROUND
	local how=$1 r=$2 daemon fio1 fio2 ctl= st gen
	log "round $r: unmount by $how"
	pgdax_mount "$dev" "$mnt"
	daemon=$PGDAX_LAST_PID

	fio_layout "psync$r" psync "$mnt/fio-psync.$r" || fail "fio layout"
	fio_layout "mmap$r" mmap "$mnt/fio-mmap.$r" || fail "fio layout"
	fio_run "psync$r" psync "$mnt/fio-psync.$r" & fio1=$!
	fio_run "mmap$r" mmap "$mnt/fio-mmap.$r" & fio2=$!
	pin_start dax writer "$mnt/dax.$r" 8M $((100 + r))
	pin_wait_line dax '^ACK 2'
	sleep 0.3

	case $how in
	sigterm) kill -TERM "$daemon" ;;
	lazy) umount -l "$mnt" ;;
	pgdaxctl) "$PGDAXCTL" unmount "$mnt" >"$PGDAX_WORK/ctl.$r.out" 2>&1 & ctl=$! ;;
	esac

	# old work is served: the jobs run on; the daemon waits for them
	sleep 1
	kill -0 "$daemon" 2>/dev/null || fail "daemon exited while a DAX mapping existed ($how)"
	wait "$fio1" || { cat "$PGDAX_WORK/psync$r.fio" >&2; fail "fio psync failed during unmount ($how)"; }
	wait "$fio2" || { cat "$PGDAX_WORK/mmap$r.fio" >&2; fail "fio mmap failed during unmount ($how)"; }
	kill -0 "$daemon" 2>/dev/null || fail "daemon exited while a DAX mapping existed ($how)"
	if [ -n "$ctl" ]; then
		kill -0 "$ctl" 2>/dev/null || fail "pgdaxctl unmount returned while the device was held"
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
