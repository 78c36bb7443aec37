#!/bin/bash
# SPDX-License-Identifier: MIT
# Mount options that tune the kernel side of the mount take effect there:
#  - readahead=KIB is the readahead window of the mount's bdi once the
#    mount is up (default 4096 KiB; -1 keeps the kernel's own 128), and a
#    bad value is refused before anything is mounted;
#  - poll(2) is served only with break_notify: by default FUSE_POLL is
#    answered ENOSYS (no request per io_uring SQE), so no POLL request
#    reaches the daemon however often a file is polled.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init

dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)

ra_of() { cat "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"; }

pgdax_mount "$dev" "$mnt"
[ "$(ra_of "$mnt")" = 4096 ] || fail "default readahead is $(ra_of "$mnt") KiB, not 4096"
pgdax_umount "$mnt"

pgdax_mount "$dev" "$mnt" -o readahead=2048
[ "$(ra_of "$mnt")" = 2048 ] || fail "readahead=2048 gave $(ra_of "$mnt") KiB"
pgdax_umount "$mnt"

pgdax_mount "$dev" "$mnt" -o readahead=-1
[ "$(ra_of "$mnt")" = 128 ] || fail "readahead=-1 gave $(ra_of "$mnt") KiB, not the kernel's 128"
pgdax_umount "$mnt"

for bad in readahead=abc readahead=-2 readahead=99999999 readahead; do
	must_fail "$PGDAXFS" "$dev" "$mnt" -f -o "$bad"
	pgdax_is_mounted "$mnt" && fail "-o $bad left $mnt mounted"
done

# poll: count POLL requests in the daemon's request trace (-d)
polls() { # MNT: poll a file on MNT 20 times
	python3 - "$1/f" <<'PY'
import select, sys
fd = open(sys.argv[1], "w+")
p = select.poll()
p.register(fd, select.POLLIN | select.POLLPRI)
for _ in range(20):
    p.poll(0)
PY
}
pgdax_mount "$dev" "$mnt" -d
echo x >"$mnt/f"
polls "$mnt"
n=$(pgdax_daemon_log | grep -c 'opcode: POLL' || true)
[ "$n" -le 1 ] || fail "default mount: $n POLL requests reached the daemon (expected at most the first)"
pgdax_umount "$mnt"

pgdax_mount "$dev" "$mnt" -d -o break_notify
polls "$mnt"
n=$(pgdax_daemon_log | grep -c 'opcode: POLL' || true)
[ "$n" -ge 20 ] || fail "break_notify: only $n POLL requests reached the daemon"
pgdax_umount "$mnt"
log "readahead and poll options reach the kernel"
