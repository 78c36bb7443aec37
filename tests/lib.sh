# SPDX-License-Identifier: MIT
# Shared helpers for pgdaxfs integration scripts. Source it:
#
#   . "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
#   pgdax_init                       # work dir, cleanup trap, tool paths
#   dev=$(pgdax_new_device 256M)     # emulated device file (sparse) under /dev/shm
#   pgdax_mkfs "$dev"
#   mnt=$(pgdax_new_dir mnt)
#   pgdax_mount "$dev" "$mnt" [-o opts]   # daemon -f in the background, waits until served
#   ... test ...
#   pgdax_umount "$mnt"              # unmount, wait for the daemon to exit, check its status
#
# Transport: with PGDAX_TRANSPORT=io_uring (or dev_fuse) in the environment,
# pgdax_mount passes -o io_uring (-o no_io_uring) and fails unless
# `pgdaxctl status` says the mount is served that way; a test over io_uring
# calls pgdax_need_uring first (skips where the build or kernel cannot).
#
# Everything a script creates (device files, mounts, daemons, temp dirs) is
# registered and undone by the EXIT trap even when the script fails: mounts
# are detached (fusermount3 -u, then umount -l), only daemons this script
# started are signalled, by pid. Scripts run under `set -eu`; `fail MSG`
# ends the test with a message; exit 77 only for tests needing real devdax.

set -eu

top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}

PGDAXFS=${PGDAXFS:-$top_builddir/fs/pgdaxfs}
MKFS=${MKFS:-$top_builddir/tools/mkfs.pgdaxfs}
FSCK=${FSCK:-$top_builddir/tools/fsck.pgdaxfs}
PGDAXCTL=${PGDAXCTL:-$top_builddir/tools/pgdaxctl}

_pgdax_devs=()
_pgdax_mounts=()
_pgdax_pids=()
_pgdax_cleanups=()
PGDAX_WORK=
PGDAX_LAST_PID=
PGDAX_TRANSPORT=${PGDAX_TRANSPORT:-}
PGDAX_ENABLE_URING=/sys/module/fuse/parameters/enable_uring
# Mounts that need io_uring hold it shared while they mount; a test that sets
# enable_uring to 0 holds it exclusively meanwhile (pgdax_uring_off).
PGDAX_URING_LOCK=/tmp/pgdaxfs-enable_uring.lock

log() { echo "[$(date +%T)] $*" >&2; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# Run "$@" and fail unless it exits non-zero; the output goes to stderr.
must_fail() {
	if "$@" >&2; then fail "expected failure: $*"; fi
}

pgdax_init() {
	[ "$(id -u)" -eq 0 ] || fail "integration tests need root (FUSE mounts, /dev/shm devices)"
	[ -e /dev/fuse ] || fail "/dev/fuse missing (modprobe fuse)"
	PGDAX_WORK=$(mktemp -d /tmp/pgdaxfs-test.XXXXXX)
	trap _pgdax_cleanup EXIT
	trap 'exit 130' INT TERM
}

# Skip (77) unless this build serves over io_uring (libfuse 3.18 with
# fuse_req_unique: tools/install-libfuse318.sh) and the kernel has it; then
# pgdax_mount mounts over io_uring.
pgdax_need_uring() {
	grep -q '^#define PGDAX_HAVE_FUSE_REQ_UNIQUE 1' "$top_builddir/config.h" ||
		{ echo "SKIP: built against libfuse < 3.18 (no io_uring)"; exit 77; }
	[ -e "$PGDAX_ENABLE_URING" ] ||
		{ echo "SKIP: this kernel has no FUSE-over-io_uring ($PGDAX_ENABLE_URING)"; exit 77; }
	PGDAX_TRANSPORT=io_uring
}

# The kernel offers io_uring only while enable_uring is 1: a system-wide
# switch of the fuse module, which the tests set (and leave set: it changes
# nothing for daemons that do not ask for io_uring). Sets it under the shared
# lock held in fd $1 (see PGDAX_URING_LOCK).
_pgdax_uring_on() {
	flock -s -w 120 "$1" || fail "no shared lock on $PGDAX_URING_LOCK in 120 s"
	if [ "$(cat "$PGDAX_ENABLE_URING")" != Y ]; then
		log "tests: setting $PGDAX_ENABLE_URING to 1 (system-wide; left on)"
		echo 1 >"$PGDAX_ENABLE_URING"
	fi
}

# Set enable_uring to 0 until pgdax_uring_restore (and at the latest at exit),
# holding PGDAX_URING_LOCK exclusively meanwhile, so that no other test's
# io_uring mount comes up over /dev/fuse because of it. (A mount already
# serving over io_uring goes on doing so: the switch is read at INIT.)
pgdax_uring_off() {
	exec {_pgdax_uring_fd}>>"$PGDAX_URING_LOCK"
	flock -x -w 120 "$_pgdax_uring_fd" || fail "no exclusive lock on $PGDAX_URING_LOCK in 120 s"
	_pgdax_uring_saved=$(cat "$PGDAX_ENABLE_URING")
	pgdax_on_exit pgdax_uring_restore
	log "tests: setting $PGDAX_ENABLE_URING to 0 for a moment (was $_pgdax_uring_saved)"
	echo 0 >"$PGDAX_ENABLE_URING"
}
pgdax_uring_restore() {
	[ -n "${_pgdax_uring_saved:-}" ] || return 0
	case $_pgdax_uring_saved in Y|1) echo 1 ;; *) echo 0 ;; esac >"$PGDAX_ENABLE_URING"
	log "tests: $PGDAX_ENABLE_URING restored to $_pgdax_uring_saved"
	_pgdax_uring_saved=
	exec {_pgdax_uring_fd}>&-
}

# The transport `pgdaxctl status` reports for MNT (io_uring, dev_fuse).
pgdax_transport() {
	"$PGDAXCTL" status "$1" --json | sed -n 's/^ *"transport": "\(.*\)",$/\1/p'
}

# Extra cleanup command (run first, last registered first).
pgdax_on_exit() { _pgdax_cleanups=("$*" "${_pgdax_cleanups[@]}"); }

pgdax_new_dir() { # NAME -> path of a fresh directory in the work dir
	local d
	d=$(mktemp -d "$PGDAX_WORK/${1:-d}.XXXXXX")
	echo "$d"
}

# SIZE [ALIGN] -> path of a new sparse emulated device under /dev/shm.
# ALIGN is the alignment pgdax_mkfs formats it with (the volume records
# it; nothing is kept on the file): noted in DEV.align for pgdax_mkfs.
# Called as dev=$(pgdax_new_device ...), i.e. in a subshell: the path is
# registered for cleanup in a file, not in a shell variable (which the
# subshell would lose).
# With PGDAX_DAX set (the devdax guest, tools/guest/guest-init.sh) it is
# that real device instead, whatever the size: host tests reused there run
# on /dev/daxX.Y (mkfs overwrites it; it is never removed).
pgdax_new_device() {
	local size=$1 align=${2:-}
	local f
	if [ -n "${PGDAX_DAX:-}" ]; then
		echo "$PGDAX_DAX"
		return 0
	fi
	f=$(mktemp /dev/shm/pgdaxfs-test-$$.XXXXXX)
	echo "$f" >>"$PGDAX_WORK/devices"
	truncate -s "$size" "$f"
	[ -z "$align" ] || echo "$align" >"$f.align"
	echo "$f"
}

pgdax_mkfs() { # DEV [mkfs args]: with pgdax_new_device's ALIGN unless --align is given
	local dev=$1; shift
	if [ -f "$dev.align" ] && [[ " $* " != *" --align "* ]]; then
		set -- --align "$(cat "$dev.align")" "$@"
	fi
	# the guest's real device holds the previous test's volume
	[ -n "${PGDAX_DAX:-}" ] && [ "$dev" = "$PGDAX_DAX" ] && set -- -f "$@"
	"$MKFS" "$@" "$dev" >"$PGDAX_WORK/mkfs.log" 2>&1 || {
		cat "$PGDAX_WORK/mkfs.log" >&2
		fail "mkfs.pgdaxfs $dev failed"
	}
}

# Is MNT a pgdaxfs mount right now? (reads mountinfo: never blocks on FUSE)
pgdax_is_mounted() {
	local m
	m=$(realpath -m "$1")
	awk -v m="$m" '{ for (i = 1; i <= NF; i++) if ($i == "-") break;
			 gsub(/\\040/, " ", $5);
			 if ($5 == m && $(i + 1) == "fuse.pgdaxfs") f = 1 }
		       END { exit !f }' /proc/self/mountinfo
}

# Wait until MNT is mounted and answers a stat, or PID died; 0 when served.
_pgdax_wait_mounted() {
	local mnt=$1 pid=$2 i
	for i in $(seq 1 200); do
		if pgdax_is_mounted "$mnt" && timeout 5 stat "$mnt" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# DEV MNT [daemon args...]: start the daemon in the foreground, in the
# background of this shell; PGDAX_LAST_PID is its pid; its log goes to
# $PGDAX_WORK/daemon.<pid>.log.
pgdax_mount() {
	local dev=$1 mnt=$2; shift 2
	local logf="$PGDAX_WORK/daemon.$RANDOM.log" lockfd=
	case $PGDAX_TRANSPORT in
	io_uring)
		set -- "$@" -o io_uring
		exec {lockfd}>>"$PGDAX_URING_LOCK"
		_pgdax_uring_on "$lockfd" ;;
	dev_fuse)
		set -- "$@" -o no_io_uring ;;
	esac
	# (the daemon must not inherit the lock)
	if [ -n "$lockfd" ]; then
		"$PGDAXFS" "$dev" "$mnt" -f "$@" >"$logf" 2>&1 {lockfd}>&- &
	else
		"$PGDAXFS" "$dev" "$mnt" -f "$@" >"$logf" 2>&1 &
	fi
	local pid=$!
	_pgdax_pids+=("$pid")
	_pgdax_mounts+=("$mnt")
	PGDAX_LAST_PID=$pid
	ln -sf "$logf" "$PGDAX_WORK/daemon.$pid.log"
	if ! _pgdax_wait_mounted "$mnt" "$pid"; then
		cat "$logf" >&2
		fail "pgdaxfs $dev $mnt $* did not come up"
	fi
	[ -z "$lockfd" ] || exec {lockfd}>&-
	if [ -n "$PGDAX_TRANSPORT" ]; then
		local t
		t=$(pgdax_transport "$mnt")
		[ "$t" = "$PGDAX_TRANSPORT" ] ||
			fail "pgdaxfs $dev $mnt $*: serves over '$t', not $PGDAX_TRANSPORT: $(cat "$logf")"
	fi
}

# Wait (up to SECS, default 30) for PID to exit; its status in PGDAX_STATUS.
pgdax_wait_pid() {
	local pid=$1 secs=${2:-30} i
	for i in $(seq 1 $((secs * 20))); do
		if ! kill -0 "$pid" 2>/dev/null; then
			PGDAX_STATUS=0
			wait "$pid" 2>/dev/null || PGDAX_STATUS=$?
			return 0
		fi
		# a zombie child still answers kill -0: reap it if it is ours
		if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
			PGDAX_STATUS=0
			wait "$pid" 2>/dev/null || PGDAX_STATUS=$?
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# MNT [PID]: unmount and wait for the daemon to exit cleanly (status 0).
pgdax_umount() {
	local mnt=$1 pid=${2:-$PGDAX_LAST_PID}
	fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" ||
		fail "cannot unmount $mnt"
	pgdax_wait_pid "$pid" 30 || fail "daemon $pid did not exit after unmount of $mnt"
	[ "$PGDAX_STATUS" -eq 0 ] || {
		cat "$PGDAX_WORK/daemon.$pid.log" >&2 || true
		fail "daemon $pid exited with status $PGDAX_STATUS after unmount"
	}
}

# PID: SIGKILL a daemon we started and detach its mount.
pgdax_kill9() {
	local pid=$1 mnt=$2
	local f
	kill -9 "$pid"
	pgdax_wait_pid "$pid" 10 || fail "daemon $pid survived SIGKILL"
	umount -l "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true
	# the run file the killed daemon could not remove
	for f in /run/pgdaxfs/*.pid; do
		[ -f "$f" ] && [ "$(head -n1 "$f")" = "$pid" ] && rm -f "$f"
	done
	return 0
}

pgdax_daemon_log() { cat "$PGDAX_WORK/daemon.${1:-$PGDAX_LAST_PID}.log"; }

_pgdax_cleanup() {
	local rc=$? c m p d
	set +e
	for c in "${_pgdax_cleanups[@]}"; do eval "$c"; done
	for m in "${_pgdax_mounts[@]}"; do
		if pgdax_is_mounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${_pgdax_pids[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null
		pgdax_wait_pid "$p" 10 || { kill -KILL "$p" 2>/dev/null; pgdax_wait_pid "$p" 5; }
	done
	for m in "${_pgdax_mounts[@]}"; do
		pgdax_is_mounted "$m" && umount -l "$m" 2>/dev/null
	done
	for d in "${_pgdax_devs[@]}"; do rm -f "$d" "$d".*; done
	if [ -n "$PGDAX_WORK" ] && [ -f "$PGDAX_WORK/devices" ]; then
		while read -r d; do rm -f "$d" "$d".*; done <"$PGDAX_WORK/devices"
	fi
	if [ "$rc" -ne 0 ] && [ -n "$PGDAX_WORK" ]; then
		for f in "$PGDAX_WORK"/daemon.*.log; do
			[ -f "$f" ] && [ ! -L "$f" ] && { echo "---- $f" >&2; tail -30 "$f" >&2; }
		done
	fi
	[ -n "$PGDAX_WORK" ] && rm -rf "$PGDAX_WORK"
	exit "$rc"
}
