#!/bin/bash
# Corruption met while mounted (an inode whose checksum fails when it is
# first read) is recorded in the superblock (s_errors PGDAX_ERR_RUNTIME,
# s_error_count, s_last_error_ino), the call fails with EUCLEAN, and
# errors= decides what follows: remount-ro (the default) turns every later
# change into EROFS, continue keeps serving, panic records the error and
# aborts the daemon (the kernel's panic: nothing more is written). The next read-write mount is
# refused naming fsck.pgdaxfs; fsck -y repairs and clears the state.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
le64() { od -An -tu8 -j "$1" -N8 "$dev" | tr -d ' '; }
bs=4096
it=$(le64 192)
break_inode() { # INO: flip a bit of its uid (the checksum no longer matches)
	local off=$((it * bs + $1 * 256 + 4)) v
	v=$(od -An -tu1 -j $off -N1 "$dev" | tr -d ' ')
	printf "\\$(printf %o $((v ^ 1)))" | dd of="$dev" bs=1 seek=$off conv=notrunc status=none
}

pgdax_mount "$dev" "$mnt"
echo a >"$mnt/f"; echo b >"$mnt/g"
fi=$(stat -c %i "$mnt/f"); gi=$(stat -c %i "$mnt/g")
pgdax_umount "$mnt"
[ "$(le64 416)" -eq 0 ] || fail "a fresh volume records errors"

# default: errors=remount-ro
break_inode "$fi"
pgdax_mount "$dev" "$mnt"
out=$(cat "$mnt/f" 2>&1) && fail "a corrupt inode was read: $out"
echo "$out" | grep -q "Structure needs cleaning" || fail "expected EUCLEAN, got: $out"
[ $(( $(le64 416) & 2 )) -eq 2 ] || fail "s_errors lacks PGDAX_ERR_RUNTIME: $(le64 416)"
[ "$(le64 424)" -ge 1 ] || fail "s_error_count not counted"
[ "$(le64 448)" -eq "$fi" ] || fail "s_last_error_ino $(le64 448), expected $fi"
out=$(touch "$mnt/new" 2>&1) && fail "a change succeeded after corruption (remount-ro)"
echo "$out" | grep -q "Read-only file system" || fail "expected EROFS, got: $out"
[ "$(cat "$mnt/g")" = b ] || fail "reads stopped after remount-ro"
pgdax_daemon_log | grep -q "fsck.pgdaxfs" || fail "the daemon log does not name fsck.pgdaxfs"
pgdax_umount "$mnt"

# a volume recording errors: read-write refused, read-only allowed
out=$("$PGDAXFS" "$dev" "$mnt" -f 2>&1) && fail "a volume with errors mounted read-write"
echo "$out" | grep -q "fsck.pgdaxfs -y" || fail "refusal does not name fsck.pgdaxfs -y: $out"
pgdax_is_mounted "$mnt" && fail "something is mounted after the refusal"
pgdax_mount "$dev" "$mnt" -o ro
[ "$(cat "$mnt/g")" = b ] || fail "read-only mount of a volume with errors does not read"
pgdax_umount "$mnt"

rc=0; "$FSCK" -y "$dev" >"$PGDAX_WORK/y.out" 2>&1 || rc=$?
cat "$PGDAX_WORK/y.out" >&2
[ "$rc" -eq 1 ] || fail "fsck -y exited $rc, expected 1"
[ "$(le64 416)" -eq 0 ] && [ "$(le64 424)" -eq 0 ] && [ "$(le64 448)" -eq 0 ] ||
	fail "a clean fsck -y left the error state"

# errors=continue: the damaged object fails, everything else goes on
must_fail "$PGDAXFS" "$dev" "$mnt" -f -o errors=bogus
break_inode "$gi"
pgdax_mount "$dev" "$mnt" -o errors=continue
cat "$mnt/g" >/dev/null 2>&1 && fail "a corrupt inode was read (continue)"
[ $(( $(le64 416) & 2 )) -eq 2 ] || fail "not recorded with errors=continue"
touch "$mnt/new" || fail "errors=continue refused a change elsewhere"
pgdax_umount "$mnt"
rc=0; "$FSCK" -y "$dev" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "second fsck -y exited $rc"
rc=0; "$FSCK" -n -f "$dev" >"$PGDAX_WORK/n.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$PGDAX_WORK/n.out" >&2; fail "fsck -n after -y exited $rc"; }

# errors=panic: recorded first, then the daemon aborts; the mount is gone
# (ENOTCONN) and the next read-write mount is refused like the others
pgdax_mount "$dev" "$mnt"
ni=$(stat -c %i "$mnt/new")
pgdax_umount "$mnt"
break_inode "$ni"
ulimit -c 0	# (the abort is expected: no core file)
pgdax_mount "$dev" "$mnt" -o errors=panic
pid=$PGDAX_LAST_PID
cat "$mnt/new" >/dev/null 2>&1 && fail "a corrupt inode was read (panic)"
pgdax_wait_pid "$pid" 30 || fail "errors=panic: the daemon did not stop"
[ "$PGDAX_STATUS" -eq 134 ] || fail "errors=panic: the daemon exited $PGDAX_STATUS, expected SIGABRT (134)"
pgdax_daemon_log "$pid" | grep -q "aborting (errors=panic)" || fail "the log does not say it aborts"
umount -l "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true
for f in /run/pgdaxfs/*.pid; do
	[ -f "$f" ] && [ "$(head -n1 "$f")" = "$pid" ] && rm -f "$f"
done
[ $(( $(le64 416) & 2 )) -eq 2 ] || fail "errors=panic aborted without recording the error"
[ "$(le64 448)" -eq "$ni" ] || fail "s_last_error_ino $(le64 448), expected $ni (panic)"
out=$("$PGDAXFS" "$dev" "$mnt" -f 2>&1) && fail "a volume with errors mounted read-write (panic)"
rc=0; "$FSCK" -y "$dev" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "third fsck -y exited $rc"
echo "runtime corruption recorded; errors= obeyed (remount-ro, continue, panic); mount refuses until fsck"
