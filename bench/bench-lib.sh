# SPDX-License-Identifier: MIT
#
# bench/bench-lib.sh: setup and teardown shared by bench/meta-bench.sh,
# bench/drain-bench.sh and bench/memory-bench.sh. Sourced, never run.
# The caller sets prog (its name, for messages and temporary names) and B
# (the build dir) first. bench_setup makes
#   work     a fresh directory under /tmp (removed on exit),
#   dev      the emulated device path /dev/shm/pgdaxfs-$prog-$$.img
#            (removed on exit),
#   pids     the daemons this script started (TERM, then KILL on exit:
#            only these, by pid; remove a pid once it is reaped),
#   mounts   the mount points this script mounted (unmounted on exit, in
#            order: put a mount that sits on another one first),
# and installs the EXIT trap that undoes all of it.

# PROG...: exit 2 unless every $B/PROG is built.
bench_need() {
	local p
	for p in "$@"; do
		[ -x "$B/$p" ] || { echo "$prog: $B/$p not built (set PGDAX_BUILD or run make)" >&2; exit 2; }
	done
}

bench_cleanup() {
	local m p
	for m in "${mounts[@]}"; do
		mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
	done
	for m in "${mounts[@]}"; do mountpoint -q "$m" && umount -l "$m"; done
	rm -f "$dev"
	rm -rf "$work"
}

bench_setup() {
	work=$(mktemp -d "/tmp/$prog.XXXXXX") || { echo "$prog: cannot create a work dir in /tmp" >&2; exit 1; }
	dev=/dev/shm/pgdaxfs-$prog-$$.img
	pids=() mounts=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# MKFS-ARGS...: format $dev (creating it) with mkfs.pgdaxfs -q $MKFS_OPTS.
bench_mkfs() {
	"$B/tools/mkfs.pgdaxfs" -q ${MKFS_OPTS:-} "$@" "$dev" || exit 1
}

# MNT PID: 0 once MNT is mounted, 1 if PID died or 10 s passed.
bench_wait_mount() {
	for _ in $(seq 200); do
		mountpoint -q "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# MNT: start the pgdaxfs daemon on $dev at MNT (foreground mode, in the
# background of this shell, $PGDAXFS_OPTS added; its stderr appended to
# $work/pgdaxfs.log), record it in pids/mounts and set pid; exit 1 with
# the daemon's log when it does not mount.
# $PGDAXFS_BIN, if set, is the daemon to run instead of the build's.
bench_mount_pgdaxfs() {
	"${PGDAXFS_BIN:-$B/fs/pgdaxfs}" "$dev" "$1" -f ${PGDAXFS_OPTS:-} 2>>"$work/pgdaxfs.log" &
	pid=$!
	pids+=("$pid")
	[[ " ${mounts[*]} " == *" $1 "* ]] || mounts+=("$1")
	bench_wait_mount "$1" "$pid" && return 0
	echo "$prog: pgdaxfs did not mount:" >&2
	cat "$work/pgdaxfs.log" >&2
	exit 1
}
