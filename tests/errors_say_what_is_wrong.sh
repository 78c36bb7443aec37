#!/bin/bash
# Errors that are true. A 1 MiB file given as device: mount and mkfs both
# say it is too small and name the minimum (mount used to add "run
# mkfs.pgdaxfs", mkfs "Invalid argument"). A directory: "is a directory"
# and nothing about mkfs. A mount point whose daemon was killed (a stale
# FUSE mount): "stale pgdaxfs mount at X: run umount X", from the daemon and
# from the mount helper (both used to say it does not exist or is not a
# directory). A device another daemon holds: "in use by pid N", and where it
# is mounted. Bad option values: the message states the allowed values.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
helper=$top_builddir/tools/mount.pgdaxfs
export PGDAXFS_DAEMON=$PGDAXFS

expect() { # WHAT OUTPUT PATTERN [FORBIDDEN-PATTERN]
	grep -q -- "$3" <<<"$2" || fail "$1: expected '$3' in: $2"
	if [ -n "${4:-}" ] && grep -q -- "$4" <<<"$2"; then fail "$1: '$4' in: $2"; fi
	log "$1: $(grep -- "$3" <<<"$2" | head -n1)"
}
mnt=$(pgdax_new_dir mnt)

# a device too small
small=$(pgdax_new_device 1M)
out=$("$PGDAXFS" "$small" "$mnt" -f 2>&1) && fail "mount of a 1 MiB file succeeded"
expect "mount, 1 MiB file" "$out" "at least 16 MiB" "run mkfs"
out=$("$MKFS" "$small" 2>&1) && fail "mkfs of a 1 MiB file succeeded"
expect "mkfs, 1 MiB file" "$out" "at least 16 MiB" "Invalid argument"
pgdax_is_mounted "$mnt" && fail "a failed mount left a mount"

# a directory
d=$(pgdax_new_dir notadevice)
out=$("$PGDAXFS" "$d" "$mnt" -f 2>&1) && fail "mount of a directory succeeded"
expect "mount, directory" "$out" "is a directory" "run mkfs"
out=$("$MKFS" "$d" 2>&1) && fail "mkfs of a directory succeeded"
expect "mkfs, directory" "$out" "is a directory" "Is a directory"

# bad option values state what is allowed
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
out=$("$PGDAXFS" "$dev" "$mnt" -f -o max_threads=1 2>&1) && fail "max_threads=1 accepted"
expect "max_threads=1" "$out" "max_threads: an integer from 2 to 1024"
out=$("$PGDAXFS" "$dev" "$mnt" -f -o readahead=x 2>&1) && fail "readahead=x accepted"
expect "readahead=x" "$out" "readahead: an integer from -1 to 1048576"
out=$("$PGDAXFS" "$dev" "$mnt" -f -o align=3K 2>&1) && fail "align=3K accepted"
expect "align=3K" "$out" "align: 4K, 2M or 1G"
out=$("$PGDAXFS" "$dev" "$mnt" -f -o on_drain_timeout=later 2>&1) && fail "on_drain_timeout=later accepted"
expect "on_drain_timeout=later" "$out" "on_drain_timeout: wait or exit"
pgdax_is_mounted "$mnt" && fail "a bad option left a mount"

# in use: by whom and where
pgdax_mount "$dev" "$mnt"
pid=$PGDAX_LAST_PID
mnt2=$(pgdax_new_dir mnt2)
out=$("$PGDAXFS" "$dev" "$mnt2" -f 2>&1) && fail "second mount of a device in use succeeded"
expect "device in use" "$out" "in use by pid $pid (pgdaxfs), mounted on $mnt"

# a stale mount point: the daemon killed, the mount left behind
kill -9 "$pid"
pgdax_wait_pid "$pid" 10 || fail "daemon $pid survived SIGKILL"
pgdax_is_mounted "$mnt" || fail "the killed daemon's mount is gone: nothing stale to test"
out=$(timeout 30 "$PGDAXFS" "$dev" "$mnt" -f 2>&1) && fail "mount on a stale mount point succeeded"
expect "daemon, stale mount point" "$out" "stale pgdaxfs mount at $mnt: run umount $mnt"
out=$(timeout 30 "$helper" "$dev" "$mnt" 2>&1) && fail "mount.pgdaxfs on a stale mount point succeeded"
expect "mount.pgdaxfs, stale mount point" "$out" "stale pgdaxfs mount at $mnt: run umount $mnt" \
	"does not exist"
umount "$mnt" || fail "umount of the stale mount failed"
for f in /run/pgdaxfs/*.pid; do
	[ -f "$f" ] && [ "$(head -n1 "$f")" = "$pid" ] && rm -f "$f"
done
pgdax_is_mounted "$mnt" && fail "still mounted"
true
