#!/bin/bash
# SPDX-License-Identifier: MIT
# The fio engine of bench/fio-engine/ (hand-declared fio 3.33 ABI, I/O
# through pgdax_map) moves the right bytes to the right offsets: fio's own
# checksum verification passes for sequential, random and mixed I/O through
# the engine, what the engine wrote reads back identically through read(2)
# on the mount, and a file that is not on pgdaxfs is refused with a message.
# The I/O really goes through the daemon's pins: its cumulative pin counter
# (pgdaxctl status) rises with every engine run and no pin is left after.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
pgdax_init

engine=$top_builddir/bench/fio-engine/.libs/pgdax-fio.so
[ -f "$engine" ] || fail "$engine not built (make bench/fio-engine/pgdax-fio.la)"
command -v fio >/dev/null || fail "fio not installed (tools/install-deps.sh)"

dev=$(pgdax_new_device 512M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

status_field() { # NAME -> numeric field of pgdaxctl status --json
	"$PGDAXCTL" status "$mnt" --json | tr -d ' \n' |
		sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
pins_before=0
expect_pins_moved() { # WHAT: pins_granted rose since the last call, pins is 0
	local granted pins
	granted=$(status_field pins_granted)
	pins=$(status_field pins)
	[ -n "$granted" ] && [ -n "$pins" ] || fail "no pin counters in pgdaxctl status"
	[ "$granted" -gt "$pins_before" ] ||
		fail "$1: the daemon granted no pin (pins_granted $pins_before -> $granted)"
	[ "$pins" -eq 0 ] || fail "$1: $pins pin(s) still held after fio exited"
	[ "$(status_field pins_dropped)" -eq "$granted" ] ||
		fail "$1: pins granted $granted, ended $(status_field pins_dropped)"
	log "$1: daemon pins granted $pins_before -> $granted, none left"
	pins_before=$granted
}

run_fio() { # LOGNAME fio-args...: fails the test unless fio succeeds
	local name=$1; shift
	fio --minimal "$@" >"$PGDAX_WORK/$name.log" 2>&1 || {
		cat "$PGDAX_WORK/$name.log" >&2
		fail "fio $name failed"
	}
}

for rw in write randwrite randrw; do
	log "engine $rw with crc32c verify"
	PGDAX_FIO_BACKEND=pgdax run_fio "engine-$rw" --name="$rw" \
		--ioengine="external:$engine" --directory="$mnt" --size=32m --bs=4k \
		--rw="$rw" --verify=crc32c --do_verify=1 --verify_fatal=1
	expect_pins_moved "engine $rw"
done

log "engine writes, read(2) through the mount verifies"
PGDAX_FIO_BACKEND=pgdax run_fio engine-fill --name=fill --ioengine="external:$engine" \
	--directory="$mnt" --size=16m --bs=64k --rw=write --verify=crc32c --do_verify=0
expect_pins_moved "engine fill"
run_fio psync-check --name=fill --ioengine=psync --directory="$mnt" --size=16m --bs=64k \
	--rw=read --verify=crc32c --verify_only=1 --verify_fatal=1
[ "$(status_field pins_granted)" -eq "$pins_before" ] ||
	fail "psync reads took pins (pins_granted moved without the engine)"

log "a file that is not on pgdaxfs is refused"
other=$(pgdax_new_dir other)
if PGDAX_FIO_BACKEND=pgdax fio --name=x --ioengine="external:$engine" --directory="$other" \
	--size=1m --rw=read >"$PGDAX_WORK/refused.log" 2>&1; then
	fail "the engine mapped a file outside pgdaxfs"
fi
grep -q "not a file on pgdaxfs" "$PGDAX_WORK/refused.log" ||
	{ cat "$PGDAX_WORK/refused.log" >&2; fail "no clear message for a file outside pgdaxfs"; }

pgdax_umount "$mnt"
log "ok"
