#!/bin/bash
# Bad command lines, bad options, a missing or unformatted device: the daemon
# says what is wrong (naming the fix), exits non-zero, and nothing is left
# mounted or running.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
mnt=$(pgdax_new_dir mnt)

expect_error() { # PATTERN ARGS... : daemon must fail with a message matching PATTERN
	local pat=$1; shift
	local out rc=0
	out=$(timeout 20 "$PGDAXFS" "$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "pgdaxfs $* succeeded"
	[ "$rc" -ne 124 ] || fail "pgdaxfs $* hung"
	echo "$out" | grep -q -- "$pat" || fail "pgdaxfs $*: message '$out' lacks '$pat'"
	pgdax_is_mounted "$mnt" && fail "pgdaxfs $* left a mount"
	return 0
}

# unformatted device: the message names mkfs
expect_error "has no pgdaxfs filesystem: run mkfs.pgdaxfs" "$dev" "$mnt"
expect_error "has no pgdaxfs filesystem: run mkfs.pgdaxfs" "$dev" "$mnt" -f
pgdax_mkfs "$dev"
expect_error "unknown option 'bogus'" "$dev" "$mnt" -o bogus
expect_error "unknown option 'noauto'" "$dev" "$mnt" -o rw,noauto
expect_error "dev needs the kernel's permission checks" "$dev" "$mnt" -o no_default_permissions,dev
expect_error "bad value 'abc' for option break_timeout" "$dev" "$mnt" -o break_timeout=abc
expect_error "bad value '0' for option drain_timeout" "$dev" "$mnt" -o drain_timeout=0
expect_error "bad value 'maybe' for option on_drain_timeout" "$dev" "$mnt" -o on_drain_timeout=maybe
expect_error "bad value '3K' for option align" "$dev" "$mnt" -o align=3K
expect_error "need DEVICE and MOUNTPOINT" "$dev"
expect_error "unexpected argument" "$dev" "$mnt" extra
expect_error "bad log level" "$dev" "$mnt" --log-level loud
expect_error "mount point" "$dev" "$PGDAX_WORK/no-such-dir"
expect_error "not a directory" "$dev" "$dev"
expect_error "" /dev/shm/pgdaxfs-no-such-device-$$ "$mnt"
"$PGDAXFS" --help | grep -q "drain_timeout" || fail "--help does not document the options"

# the device is mountable after all that, and a second mount of it is refused
pgdax_mount "$dev" "$mnt"
first=$PGDAX_LAST_PID
mnt2=$(pgdax_new_dir mnt2)
out=$(timeout 20 "$PGDAXFS" "$dev" "$mnt2" 2>&1) && fail "second mount of a busy device succeeded"
echo "$out" | grep -qi "busy\|lock\|in use" || fail "second mount: unclear message: $out"
pgdax_is_mounted "$mnt2" && fail "second mount left a mount"
pgdax_umount "$mnt" "$first"
