#!/bin/bash
# SPDX-License-Identifier: MIT
# The session loop (fs/loop.c) serves requests that may wait on worker
# threads: while a truncate waits (break_timeout=-1: forever) for a pinned
# range, every other request is still served -- reads, writes, creates,
# listings, status, pins of other files, reads and stats of the file being
# truncated (the wait holds no lock) -- and the wait ends either with
# EINTR when the caller is interrupted (a signal: FUSE_INTERRUPT), changing
# nothing, or with success once the holder unpins (its UNPIN and RELEASE
# are served while the truncate blocks).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M 2M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o break_timeout=-1

f=$mnt/file
head -c 4M /dev/urandom >"$f"
sum=$(md5sum <"$f")
mkdir "$mnt/sub"
echo other >"$mnt/sub/other"
head -c 2M /dev/urandom >"$mnt/sub/free"

# truncate(2) in a process that reports its errno (a USR1 handler makes
# the signal interrupt the call instead of killing the process)
start_truncate() { # NAME
	perl -e '$SIG{USR1} = sub {};
		 if (truncate($ARGV[0], 1048576)) { print "OK\n" } else { print "ERR $!\n" }' \
		"$f" >"$PGDAX_WORK/$1.out" 2>&1 &
	TPID=$!
	_pgdax_pids+=("$TPID")
}
# Run CMD with a deadline: it must be served while the truncate waits.
# (In the background: a process waiting for a FUSE reply cannot be killed
# until it gets one, so a hang must fail the test, whose cleanup then kills
# the daemon, rather than hang it.)
served() { # WHAT CMD...
	local what=$1 p
	shift
	"$@" >/dev/null &
	p=$!
	_pgdax_pids+=("$p")
	pgdax_wait_pid "$p" 10 || fail "$what not served within 10 s while a truncate waited"
	[ "$PGDAX_STATUS" -eq 0 ] || fail "$what failed (status $PGDAX_STATUS) while a truncate waited"
}

pin_start stubborn map "$f" 0 4M ro hold
pin_wait_line stubborn '^READY'

# 1. interrupted: EINTR, nothing changed
start_truncate t1
pin_wait_breaking "$mnt" "$TPID"
kill -0 "$TPID" 2>/dev/null || fail "truncate over a pinned range did not wait: $(cat "$PGDAX_WORK/t1.out")"
t0=$(date +%s%N)
served "a read" cat "$mnt/sub/other"
served "a read of the file being truncated" dd if="$f" of=/dev/null iflag=direct bs=4k count=1 status=none
served "a stat of the file being truncated" stat "$f"
served "a write" dd if=/dev/zero of="$mnt/sub/other" bs=4k count=4 conv=notrunc status=none
served "a create" touch "$mnt/sub/created"
served "a listing" ls -l "$mnt/sub"
served "a pin of another file" "$CLIENT" rawpin OK "$mnt/sub/free" 0 4096 ro
served "status" "$PGDAXCTL" status "$mnt"
ms=$((($(date +%s%N) - t0) / 1000000))
log "8 requests served in ${ms} ms while the truncate waited"
kill -0 "$TPID" 2>/dev/null || fail "truncate stopped waiting on its own: $(cat "$PGDAX_WORK/t1.out")"
kill -USR1 "$TPID"
pgdax_wait_pid "$TPID" 10 || fail "interrupted truncate still waiting"
grep -q "ERR Interrupted system call" "$PGDAX_WORK/t1.out" ||
	fail "interrupted truncate: expected EINTR, got: $(cat "$PGDAX_WORK/t1.out")"
[ "$(stat -c %s "$f")" = 4194304 ] || fail "interrupted truncate changed the size"
[ "$(md5sum <"$f")" = "$sum" ] || fail "interrupted truncate changed the data"

# 2. the holder lets go while the truncate waits: it completes
start_truncate t2
pin_wait_breaking "$mnt" "$TPID"
kill -0 "$TPID" 2>/dev/null || fail "second truncate did not wait: $(cat "$PGDAX_WORK/t2.out")"
pin_release stubborn
pgdax_wait_pid "$TPID" 10 || fail "truncate still waiting after the unpin"
grep -qx OK "$PGDAX_WORK/t2.out" || fail "truncate after the unpin: $(cat "$PGDAX_WORK/t2.out")"
[ "$(stat -c %s "$f")" = 1048576 ] || fail "truncate did not take effect"
pgdax_umount "$mnt"
