#!/bin/bash
# SPDX-License-Identifier: MIT
# A pin ends when the process that took it dies, even if that process
# forked a child that lives on (lib/client/pgdax.h, "fork()"): the child
# inherits neither the library's descriptor nor, through the caller's own
# descriptors, the open file the pin lives on. Two holders, each forking a
# child (a plain fork(), blocked on a FIFO the script holds) after pinning:
# a mapping whose caller closed its descriptor, and a raw pin whose caller
# keeps its descriptor open across the fork. Both holders are killed; the
# daemon's pin count must reach 0 while both children still live.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

dev=$(pgdax_new_device 64M 2M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
daemon=$PGDAX_LAST_PID
mkfifo "$PGDAX_WORK/fifo.map" "$PGDAX_WORK/fifo.pin"

head -c 3M /dev/urandom >"$mnt/a"
pin_start map map "$mnt/a" 0 3M ro hold forkwait="$PGDAX_WORK/fifo.map"
pin_start pin pin "$mnt/a" 1M 1M keepfd forkwait="$PGDAX_WORK/fifo.pin"
pin_wait_line map '^READY'
pin_wait_line pin '^READY'
children=()
for n in map pin; do
	c=$(sed -n 's/^CHILD //p' "$PGDAX_WORK/$n.out")
	[ -n "$c" ] || fail "client $n printed no child pid"
	children+=("$c")
	_pgdax_pids+=("$c")	# the trap ends them if the test fails
done
[ "$(pin_status "$mnt" pins)" = 2 ] || fail "expected 2 pins, status: $("$CLIENT" status "$mnt")"

# the holders die; their children live on, blocked on the FIFOs
kill -9 "${PIN_PID[map]}" "${PIN_PID[pin]}"
wait "${PIN_PID[map]}" "${PIN_PID[pin]}" 2>/dev/null || true
pin_wait_status "$mnt" pins 0
pin_wait_status "$mnt" pinned_extents 0
pin_wait_status "$mnt" active_extents 0
for c in "${children[@]}"; do
	kill -0 "$c" 2>/dev/null || fail "child $c is gone: the pins ended with it, not with its parent"
done

# let the children go (each reads a line and exits)
for n in map pin; do
	timeout 10 sh -c "echo go >'$PGDAX_WORK/fifo.$n'" || fail "child of $n not reading its FIFO"
done
for c in "${children[@]}"; do
	for i in $(seq 1 200); do kill -0 "$c" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$c" 2>/dev/null && fail "child $c did not exit"
done
pgdax_umount "$mnt" "$daemon"
log "PASS"
