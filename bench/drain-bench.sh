#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/drain-bench.sh [--runs N]
#
# How fast the pgdaxfs daemon lets go of its device (target: < 5 ms):
#   idle/umount  nothing open: `fusermount3 -u MNT` -> device flock free;
#   idle/umount2 nothing open: umount2(2) by the benchmark itself (what
#                umount(8) does as root, without starting fusermount3,
#                which alone takes 2-4 ms here) -> device flock free;
#   idle/term    nothing open: SIGTERM to the daemon -> device flock free;
#   held/open    a process holds a file open, SIGTERM, 300 ms later it closes
#                the file: last close -> device flock free;
#   held/map     the same with a pgdax_map() mapping as the last reference:
#                pgdax_unmap -> device flock free.
# Each case runs N times (default 3) on a fresh daemon; the timing is done
# by bench/drain-bench (flock wait on the device, pidfd for the exit). The
# last line is the summary of medians:
#   unmount_idle_ms=X release_after_last_ref_ms=Y (release_after_unmap_ms=Z)
# Environment: PGDAX_BUILD (build dir), PGDAXFS_OPTS, MKFS_OPTS.
# Undoes everything it creates on exit; signals only the daemons it started.
set -uo pipefail
prog=drain-bench
B=${PGDAX_BUILD:-$(pwd)}
runs=3
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift ;;
	--short) ;;
	-h|--help) sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$prog: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_need fs/pgdaxfs tools/mkfs.pgdaxfs bench/drain-bench
bench_setup
mnt=$work/mnt
mkdir -p "$mnt"
pid=
bench_mkfs --size 1G

start() { bench_mount_pgdaxfs "$mnt"; }
stop() {	# after a case: the daemon should be gone already
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$prog: daemon $pid still running after the case; stopping it" >&2
		mountpoint -q "$mnt" && fusermount3 -u "$mnt" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	pid= pids=()
	mountpoint -q "$mnt" && { echo "$prog: $mnt still mounted after the daemon exited" >&2; umount -l "$mnt"; }
}

declare -A vals
for c in "idle umount" "idle umount2" "idle term" "held open" "held map"; do
	set -- $c
	for r in $(seq "$runs"); do
		start
		out=$("$B/bench/drain-bench" "$1" "$dev" "$mnt" "$pid" "$2")
		echo "$1/$2 run $r: $out"
		v=$(echo "$out" | grep -oE '^[a-z_]+_ms=[0-9.]+' | cut -d= -f2)
		[ -n "$v" ] && vals[$1/$2]+="$v "
		stop
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
echo "unmount_idle_ms=$(echo "${vals[idle/umount]:-}" | median)" \
	"release_after_last_ref_ms=$(echo "${vals[held/open]:-}" | median)" \
	"(unmount_syscall_ms=$(echo "${vals[idle/umount2]:-}" | median)" \
	"unmount_sigterm_ms=$(echo "${vals[idle/term]:-}" | median)" \
	"release_after_unmap_ms=$(echo "${vals[held/map]:-}" | median); target < 5 ms)"
