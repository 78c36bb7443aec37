#!/bin/bash
# `mount -t pgdaxfs DEV DIR` and an /etc/fstab line (`DEV DIR pgdaxfs
# defaults,noauto 0 0`, then `mount DIR`) mount through mount.pgdaxfs, with
# userspace-only options stripped; /proc/mounts shows "DEV DIR fuse.pgdaxfs";
# `umount DIR` goes through umount.fuse.pgdaxfs and returns only once the
# daemon has released the device; errors (unformatted device, bad option)
# reach the terminal and leave nothing mounted.
#
# mount(8) only looks for helpers in /sbin: the build-tree helpers are
# linked there for the test (existing files are saved and restored), and
# PGDAXFS_DAEMON points them at the build-tree daemon.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
export PGDAXFS_DAEMON=$PGDAXFS
# without /dev/log the helper gives the daemon a log file: keep it here
export PGDAXFS_LOGFILE=$PGDAX_WORK/pgdaxfs.log
# /sbin and /etc/fstab are machine-wide: one instance of this test at a time
exec 9>/run/lock/pgdaxfs-mount-helper-test.lock
flock -w 600 9 || fail "another instance of this test holds the lock"

install_helper() { # NAME
	local dst=/sbin/$1
	if [ -e "$dst" ] || [ -L "$dst" ]; then
		cp -a "$dst" "$PGDAX_WORK/saved.$1"
		pgdax_on_exit "cp -a '$PGDAX_WORK/saved.$1' '$dst'"
	else
		pgdax_on_exit "rm -f '$dst'"
	fi
	ln -sf "$top_builddir/tools/$1" "$dst"
}
install_helper mount.pgdaxfs
install_helper umount.fuse.pgdaxfs

dev=$(pgdax_new_device 128M)
mnt=$(pgdax_new_dir mnt)
_pgdax_mounts+=("$mnt")

# unformatted: clear error, exit 32, nothing mounted
out=$(mount -t pgdaxfs "$dev" "$mnt" 2>&1) && fail "mount of an unformatted device succeeded"
echo "$out" | grep -q "run mkfs.pgdaxfs" || fail "unclear error for unformatted device: $out"
pgdax_is_mounted "$mnt" && fail "failed mount left a mount"
pgdax_mkfs "$dev"
out=$(mount -t pgdaxfs -o bogus_option "$dev" "$mnt" 2>&1) && fail "bad option accepted"
echo "$out" | grep -q "unknown option 'bogus_option'" || fail "unclear error for bad option: $out"
pgdax_is_mounted "$mnt" && fail "bad option left a mount"

daemon_pid() { # MNT -> pid from the daemon's run file
	local dn
	dn=$(awk -v m="$1" '$5 == m {print $3}' /proc/self/mountinfo | tail -n1 | tr : _)
	head -n1 "/run/pgdaxfs/$dn.pid"
}

check_mounted() {
	pgdax_is_mounted "$mnt" || fail "not mounted after mount returned"
	grep -q "^$dev $mnt fuse.pgdaxfs " /proc/mounts ||
		fail "/proc/mounts line wrong: $(grep " $mnt " /proc/mounts)"
}

umount_and_check() {
	local pid
	pid=$(daemon_pid "$mnt")
	[ -n "$pid" ] || fail "no run file for the daemon"
	_pgdax_pids+=("$pid")
	umount "$mnt" || fail "umount failed"
	# umount returned: the daemon must be gone already (device released)
	# (an exited daemon its parent has not reaped yet, a zombie, is gone)
	if kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
		fail "umount returned before the daemon $pid exited"
	fi
	pgdax_is_mounted "$mnt" && fail "still mounted after umount"
	true
}

# mount -t, with options mount(8) and the helper must filter
mount -t pgdaxfs -o noauto,nofail,_netdev,x-systemd.foo=1,nosuid,nodev "$dev" "$mnt" ||
	fail "mount -t pgdaxfs failed"
check_mounted
grep " $mnt " /proc/mounts | grep -q nosuid || fail "nosuid not applied"
echo "via mount -t" >"$mnt/a"
umount_and_check
# the device is free right after umount returned: a new mount works at once
"$PGDAXFS" "$dev" "$mnt" -f &
pid=$!
_pgdax_pids+=("$pid")
_pgdax_wait_mounted "$mnt" "$pid" || fail "device not free right after umount returned"
fusermount3 -u "$mnt"
pgdax_wait_pid "$pid" 20 || fail "daemon did not exit"

# fstab
line="$dev $mnt pgdaxfs defaults,noauto 0 0"
remove_line() { # remove exactly our line, whatever else changed meanwhile
	grep -vxF "$line" /etc/fstab >"$PGDAX_WORK/fstab.new" || true
	cat "$PGDAX_WORK/fstab.new" >/etc/fstab
}
pgdax_on_exit remove_line
echo "$line" >>/etc/fstab
mount "$mnt" || fail "mount from fstab failed"
check_mounted
[ "$(cat "$mnt/a")" = "via mount -t" ] || fail "data lost between mounts"
echo "via fstab" >"$mnt/b"
umount_and_check
remove_line
grep -qxF "$line" /etc/fstab && fail "fstab line not removed"

# umount with an open file is refused (EBUSY), the mount stays
mount -t pgdaxfs "$dev" "$mnt" || fail "remount failed"
exec 3<"$mnt/b"
out=$(umount "$mnt" 2>&1) && fail "umount with an open file succeeded"
pgdax_is_mounted "$mnt" || fail "refused umount still removed the mount"
exec 3<&-
umount_and_check
