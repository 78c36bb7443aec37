#!/bin/bash
# An unmount that skips the umount helper (umount2(2) itself: `umount -i`,
# what another mount namespace or a FUSE-aware tool does) returns while the
# old daemon still drains and releases the device. A mount right after it,
# through mount(8) as `mount -t fuse.pgdaxfs` (mount.fuse.pgdaxfs, the link
# make install puts beside mount.pgdaxfs) and as `mount -t pgdaxfs`, must
# wait for that release and succeed, PGDAX_REMOUNT_ITER times (default 10)
# in a row, data intact; it used to fail with "in use by pid N".
#
# A daemon that still serves a mount keeps the refusal: a second mount of
# the device at another directory fails, and the message says pgdaxfs
# serves one mount point per device and that a bind mount gives another.
#
# mount(8) only looks for helpers in /sbin: the build-tree helper is linked
# there under both names (existing files saved and restored, one instance
# of the mount-helper tests at a time).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
export PGDAXFS_DAEMON=$PGDAXFS
export PGDAXFS_LOGFILE=$PGDAX_WORK/pgdaxfs.log
exec 9>/run/lock/pgdaxfs-mount-helper-test.lock
flock -w 600 9 || fail "another instance of a mount-helper test holds the lock"

install_helper() { # NAME TARGET
	local dst=/sbin/$1
	if [ -e "$dst" ] || [ -L "$dst" ]; then
		cp -a "$dst" "$PGDAX_WORK/saved.$1"
		pgdax_on_exit "rm -f '$dst'; cp -a '$PGDAX_WORK/saved.$1' '$dst'"
	else
		pgdax_on_exit "rm -f '$dst'"
	fi
	ln -sfn "$top_builddir/tools/$2" "$dst"
}
install_helper mount.pgdaxfs mount.pgdaxfs
install_helper mount.fuse.pgdaxfs mount.pgdaxfs
install_helper umount.fuse.pgdaxfs umount.fuse.pgdaxfs

dev=$(pgdax_new_device 512M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
mnt2=$(pgdax_new_dir mnt2)
_pgdax_mounts+=("$mnt" "$mnt2")

daemon_pid() { # MNT -> pid from the daemon's run file
	local dn
	dn=$(awk -v m="$1" '$5 == m {print $3}' /proc/self/mountinfo | tail -n1 | tr : _)
	head -n1 "/run/pgdaxfs/$dn.pid"
}

iters=${PGDAX_REMOUNT_ITER:-10}
waited=0
for i in $(seq 1 "$iters"); do
	if [ $((i % 2)) -eq 1 ]; then type=fuse.pgdaxfs; else type=pgdaxfs; fi
	out=$(mount -t "$type" "$dev" "$mnt" 2>&1) ||
		fail "iteration $i: mount -t $type right after a direct umount failed: $out"
	echo "$out" | grep -q "releasing it after its unmount" && waited=$((waited + 1))
	pgdax_is_mounted "$mnt" || fail "iteration $i: mount -t $type returned 0, nothing mounted"
	pid=$(daemon_pid "$mnt")
	[ -n "$pid" ] || fail "iteration $i: no run file for the daemon"
	_pgdax_pids+=("$pid")
	if [ "$i" -gt 1 ]; then
		[ "$(cat "$mnt/f")" = "$((i - 1))" ] || fail "iteration $i: data lost: $(cat "$mnt/f")"
	fi
	echo "$i" >"$mnt/f"
	# a mapped working set makes the release (the volume's unmapping)
	# take long enough for the next mount to find the device still held
	if [ "$i" -eq 1 ]; then
		dd if=/dev/zero of="$mnt/big" bs=1M count=256 status=none || fail "dd failed"
	fi
	cat "$mnt/big" >/dev/null
	if [ "$i" -eq 1 ]; then
		# item 6: a second mount point of a served device is refused, and
		# the message says what to do instead
		out=$(mount -t pgdaxfs "$dev" "$mnt2" 2>&1) &&
			fail "a second mount of a served device succeeded"
		echo "$out" | grep -q "mounted on $mnt: pgdaxfs serves a device at one mount point" ||
			fail "second mount: message does not say one mount point per device: $out"
		echo "$out" | grep -qF "mount --bind $mnt DIR" ||
			fail "second mount: message does not suggest a bind mount: $out"
		pgdax_is_mounted "$mnt2" && fail "refused second mount left a mount"
		pgdax_is_mounted "$mnt" || fail "refused second mount took the first one away"
		kill -0 "$pid" || fail "refused second mount stopped the serving daemon"
	fi
	# umount2(2) directly: no helper, returns before the daemon released
	umount -i "$mnt" || fail "iteration $i: umount -i failed"
done
# a lazy unmount while a file is open: the daemon serves that file until
# its last close, then releases; a mount meanwhile waits (and says so)
# rather than fail, and completes once the file is closed
mount -t fuse.pgdaxfs "$dev" "$mnt" || fail "mount before the lazy unmount failed"
_pgdax_pids+=("$(daemon_pid "$mnt")")
exec 3<"$mnt/f"
umount -l "$mnt" || fail "umount -l failed"
# (3<&-: a mount holding the open file itself would wait for itself)
mount -t pgdaxfs "$dev" "$mnt" >"$PGDAX_WORK/lazy.out" 2>&1 3<&- &
mpid=$!
for _ in $(seq 1 400); do
	grep -q "releasing it after its unmount" "$PGDAX_WORK/lazy.out" && break
	kill -0 "$mpid" 2>/dev/null || break
	sleep 0.05
done
grep -q "releasing it after its unmount" "$PGDAX_WORK/lazy.out" ||
	fail "mount during a lazy unmount's drain did not wait: $(cat "$PGDAX_WORK/lazy.out")"
exec 3<&-
wait "$mpid" || fail "mount after the lazily unmounted file closed failed: $(cat "$PGDAX_WORK/lazy.out")"
_pgdax_pids+=("$(daemon_pid "$mnt")")
[ "$(cat "$mnt/f")" = "$iters" ] || fail "data lost across the lazy unmount"
umount -i "$mnt" || fail "umount -i failed"

log "$iters mounts right after a direct umount; $waited of them waited for the old daemon"
mount -t pgdaxfs "$dev" "$mnt" || fail "final mount failed"
_pgdax_pids+=("$(daemon_pid "$mnt")")
[ "$(cat "$mnt/f")" = "$iters" ] || fail "data lost at the end"
umount "$mnt" || fail "final umount failed"
pgdax_is_mounted "$mnt" && fail "still mounted"
exit 0
