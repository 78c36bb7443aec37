#!/bin/bash
# `mount -o remount,ro MNT` and `mount -o remount,rw MNT` (no fstab line)
# work on a pgdaxfs mount: mount(8) runs mount.fuse.pgdaxfs (the mount's
# type is fuse.pgdaxfs), which switches both the kernel mount and the
# daemon (pgdaxctl remount). Read-only refuses with "busy" while a file is
# open for writing and changes nothing; once read-only, writes fail with
# EROFS, what was written before (buffered, never synced) reads back and
# survives, and pgdaxctl status says read-only; read-write again takes
# writes. The same through the helper called directly. A mount made with
# -o ro cannot become read-write, and says why.
#
# mount(8) only looks for helpers in /sbin: the build-tree helpers are
# linked there for the test (existing files are saved and restored, under
# the lock tests/mount_helper_fstab_and_umount_waits.sh takes too).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
export PGDAXFS_DAEMON=$PGDAXFS PGDAXCTL=$PGDAXCTL
# without /dev/log the helper gives the daemon a log file: keep it here
export PGDAXFS_LOGFILE=$PGDAX_WORK/pgdaxfs.log
exec 9>/run/lock/pgdaxfs-mount-helper-test.lock
flock -w 600 9 || fail "another instance of a mount helper test holds the lock"

install_helper() { # NAME [TARGET]
	local dst=/sbin/$1
	if [ -e "$dst" ] || [ -L "$dst" ]; then
		cp -a "$dst" "$PGDAX_WORK/saved.$1"
		pgdax_on_exit "cp -a '$PGDAX_WORK/saved.$1' '$dst'"
	else
		pgdax_on_exit "rm -f '$dst'"
	fi
	ln -sf "$top_builddir/tools/${2:-$1}" "$dst"
}
install_helper mount.pgdaxfs
install_helper mount.fuse.pgdaxfs mount.pgdaxfs
install_helper umount.fuse.pgdaxfs

dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
_pgdax_mounts+=("$mnt")

mount_opts() { # the kernel's per-mount options of MNT (mountinfo field 6)
	awk -v m="$mnt" '$5 == m { o = $6 } END { print o }' /proc/self/mountinfo
}
expect_mode() { # ro|rw
	[ "$(mount_opts | cut -d, -f1)" = "$1" ] || fail "expected a $1 mount, have: $(mount_opts)"
}
daemon_pid() {
	local dn
	dn=$(awk -v m="$mnt" '$5 == m {print $3}' /proc/self/mountinfo | tail -n1 | tr : _)
	head -n1 "/run/pgdaxfs/$dn.pid"
}

# nosuid,nodev,noexec must survive both remounts (a remount sets every
# per-mount flag to what it is given)
mount -t pgdaxfs -o nosuid,nodev,noexec "$dev" "$mnt" || fail "mount -t pgdaxfs failed"
keeps_flags() {
	local o=",$(mount_opts),"
	for f in nosuid nodev noexec; do
		[[ "$o" == *",$f,"* ]] || fail "$1: $f lost: $(mount_opts)"
	done
}
_pgdax_pids+=("$(daemon_pid)")
expect_mode rw
echo "written before remount" >"$mnt/f"	# buffered, no sync

# busy: a file open for writing
exec 8>>"$mnt/f"
out=$(mount -o remount,ro "$mnt" 2>&1) && fail "remount,ro with a file open for writing succeeded"
grep -q "busy" <<<"$out" || fail "remount,ro of a busy mount: unclear message: $out"
log "remount,ro while a file is open for writing: $out"
expect_mode rw
echo more >&8 || fail "the refused remount,ro broke the writer"
exec 8>&-

mount -o remount,ro "$mnt" || fail "mount -o remount,ro failed"
expect_mode ro
if echo x 2>/dev/null >"$mnt/g"; then fail "created a file on a read-only remount"; fi
if mkdir "$mnt/d" 2>/dev/null; then fail "mkdir on a read-only remount"; fi
out=$(touch "$mnt/f" 2>&1) && fail "touch on a read-only remount succeeded"
grep -q "Read-only file system" <<<"$out" || fail "touch: expected EROFS, got: $out"
[ "$(cat "$mnt/f")" = "$(printf 'written before remount\nmore')" ] ||
	fail "contents after remount,ro: $(cat "$mnt/f")"
"$PGDAXCTL" status "$mnt" | head -n1 | grep -q "read-only" ||
	fail "pgdaxctl status does not say read-only: $("$PGDAXCTL" status "$mnt" | head -n1)"
keeps_flags remount,ro
log "remount,ro: $(mount_opts); writes refused; pgdaxctl status: read-only"

mount -o remount,rw "$mnt" || fail "mount -o remount,rw failed"
expect_mode rw
echo "written after remount,rw" >"$mnt/g" || fail "write after remount,rw failed"
"$PGDAXCTL" status "$mnt" | head -n1 | grep -q "read-only" && fail "pgdaxctl status still says read-only"
keeps_flags remount,rw
log "remount,rw: $(mount_opts); writes work"

# the helper directly, as mount(8) calls it
/sbin/mount.fuse.pgdaxfs "$dev" "$mnt" -o ro,relatime,remount,user_id=0,group_id=0 ||
	fail "mount.fuse.pgdaxfs -o remount,ro failed"
expect_mode ro
"$top_builddir/tools/mount.pgdaxfs" "$dev" "$mnt" -o remount,rw || fail "mount.pgdaxfs -o remount,rw failed"
expect_mode rw
log "the helper directly: ro, then rw"

# what was written survives an unmount
umount "$mnt" || fail "umount failed"
mount -t pgdaxfs -o ro "$dev" "$mnt" || fail "mount -o ro failed"
_pgdax_pids+=("$(daemon_pid)")
[ "$(cat "$mnt/g")" = "written after remount,rw" ] || fail "g lost: $(cat "$mnt/g")"
grep -q "^more$" "$mnt/f" || fail "f lost its last write"

# a -o ro mount cannot become read-write
out=$(mount -o remount,rw "$mnt" 2>&1) && fail "remount,rw of a -o ro mount succeeded"
grep -q "mounted read-only (-o ro): unmount it and mount it read-write" <<<"$out" ||
	fail "remount,rw of a -o ro mount: unclear message: $out"
expect_mode ro
log "remount,rw of a -o ro mount: $out"
umount "$mnt" || fail "umount failed"
