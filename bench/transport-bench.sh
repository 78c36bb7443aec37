#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/transport-bench.sh [--runs N] [--seconds S] [--files N] [--loads "quiet loaded"]
#
# FUSE-over-io_uring against /dev/fuse, same build, side by side: pgdaxfs
# mounted with -o io_uring, then with -o no_io_uring (the order alternates
# from run to run), each time on the same emulated device, measuring
#   read    fio 4k O_DIRECT random reads, psync, 1 job (IOPS)
#   write   fio 4k O_DIRECT random writes, psync, 1 job (IOPS)
#   create  a python loop creating N empty files (creates/s)
# quiet (nothing else started) and loaded (two CPU-bound shell loops running
# for the whole measurement: a busy server). Prints the median of N runs of
# each (and the spread, min-max, so that a noisy row shows), and the ratio
# io_uring / dev_fuse, against the issue's targets: loaded >= 1.5x for
# each job; quiet >= 0.95x (nothing slower). It prints uptime before and
# after: figures taken while others load the machine are provisional.
# The kernel offers io_uring only while /sys/module/fuse/parameters/
# enable_uring is 1: this script sets it to 1 if it is not (system-wide,
# and says so) and puts the old value back on exit.
# Environment: PGDAX_BUILD (build dir with fs/pgdaxfs, tools/mkfs.pgdaxfs,
# tools/pgdaxctl), PGDAXFS_OPTS (extra daemon arguments), MKFS_OPTS.
# Everything it creates is undone by its EXIT trap; it signals only the
# processes it started, by pid.
set -uo pipefail
prog=transport-bench
B=${PGDAX_BUILD:-$(pwd)}
runs=3 secs=5 files=5000 loads="quiet loaded"
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift ;;
	--seconds) secs=$2; shift ;;
	--files) files=$2; shift ;;
	--loads) loads=$2; shift ;;
	-h|--help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$prog: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
. "$(dirname "$0")/bench-lib.sh"
bench_need fs/pgdaxfs tools/mkfs.pgdaxfs tools/pgdaxctl
command -v fio >/dev/null || { echo "$prog: fio not installed" >&2; exit 2; }
grep -q '^#define PGDAX_HAVE_FUSE_URING 1' "$B/config.h" 2>/dev/null ||
	{ echo "$prog: $B is built against libfuse < 3.18: no io_uring to compare" >&2; exit 2; }
switch=/sys/module/fuse/parameters/enable_uring
[ -w "$switch" ] || { echo "$prog: no $switch (kernel without FUSE-over-io_uring?)" >&2; exit 2; }

bench_setup
busy=() saved_switch=$(cat "$switch")
stop_load() {
	local p
	for p in "${busy[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	busy=()
}
cleanup() {
	stop_load
	bench_cleanup
	if [ "$saved_switch" != Y ]; then
		echo 0 >"$switch"
		echo "$prog: $switch set back to 0"
	fi
}
trap cleanup EXIT
if [ "$saved_switch" != Y ]; then
	echo "$prog: setting $switch to 1 (system-wide) for the io_uring runs"
	echo 1 >"$switch"
fi
MKFS_OPTS=${MKFS_OPTS:-}
bench_mkfs --size 1G
mnt=$work/mnt
mkdir -p "$mnt"

# TRANSPORT: mount with it; exit unless status says it serves that way.
mount_with() {
	PGDAXFS_OPTS="${PGDAXFS_OPTS:-} -o $1" bench_mount_pgdaxfs "$mnt"
	local t want=$1
	[ "$want" = no_io_uring ] && want=dev_fuse
	t=$("$B/tools/pgdaxctl" status "$mnt" --json | sed -n 's/^ *"transport": "\(.*\)",$/\1/p')
	[ "$t" = "$want" ] || { echo "$prog: -o $1 serves over '$t'" >&2; exit 1; }
}
unmount() {
	umount "$mnt" || exit 1
	for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	wait "$pid" 2>/dev/null
	pids=()
}
fio_iops() { # RW (randread|randwrite)
	local v
	v=$(fio --name=t --filename="$mnt/fio.dat" --size=256M --rw="$1" --bs=4k --direct=1 \
	    --ioengine=psync --numjobs=1 --time_based --runtime="$secs" --ramp_time=1 \
	    --output-format=json 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]
print(int(j["read"]["iops"] + j["write"]["iops"]))')
	[ -n "$v" ] || { echo "$prog: fio $1 failed on $mnt" >&2; exit 1; }
	echo "$v"
}
creates() {
	python3 - "$mnt/c" "$files" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
t = time.monotonic()
for i in range(n):
    os.close(os.open("%s/f%d" % (d, i), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
print(int(n / (time.monotonic() - t)))
EOF
	rm -rf "$mnt/c"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
spread() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[1] "-" v[NR]}'; }

echo "$prog: before: $(uptime)"

declare -A res
for load in $loads; do
	if [ "$load" = loaded ]; then
		for _ in 1 2; do
			bash -c 'while :; do :; done' &
			busy+=("$!")
		done
	fi
	for r in $(seq 1 "$runs"); do
		if [ $((r % 2)) = 1 ]; then order="io_uring no_io_uring"; else order="no_io_uring io_uring"; fi
		for t in $order; do
			mount_with "$t"
			[ -f "$mnt/fio.dat" ] || head -c 256M /dev/zero >"$mnt/fio.dat"
			rd=$(fio_iops randread) wr=$(fio_iops randwrite) cr=$(creates)
			# (a failed measurement exits only its subshell)
			[ -n "$rd" ] && [ -n "$wr" ] && [ -n "$cr" ] || exit 1
			echo "$prog: $load run $r $t: read $rd IOPS, write $wr IOPS, creates $cr/s" >&2
			res[$load.$t.read]+=" $rd" res[$load.$t.write]+=" $wr" res[$load.$t.create]+=" $cr"
			unmount
		done
	done
	stop_load
done

echo "$prog: after: $(uptime)"
printf '\n%-7s %-7s %12s %12s %7s  %-12s %s\n' load job io_uring dev_fuse ratio "target" \
	"spread (io_uring; dev_fuse)"
for load in $loads; do
	for job in read write create; do
		u=$(echo "${res[$load.io_uring.$job]}" | median)
		d=$(echo "${res[$load.no_io_uring.$job]}" | median)
		ratio=$(awk -v u="$u" -v d="$d" 'BEGIN {printf "%.2f", d ? u / d : 0}')
		if [ "$load" = loaded ]; then tgt=">= 1.50"; else tgt=">= 0.95"; fi
		ok=$(awk -v r="$ratio" -v t="${tgt#>= }" 'BEGIN {print (r >= t) ? "ok" : "MISSED"}')
		printf '%-7s %-7s %12s %12s %6sx  %-12s %s; %s\n' "$load" "$job" "$u" "$d" "$ratio" \
			"$tgt $ok" "$(echo "${res[$load.io_uring.$job]}" | spread)" \
			"$(echo "${res[$load.no_io_uring.$job]}" | spread)"
	done
done
echo "(medians of $runs alternating runs; read/write: fio 4k O_DIRECT psync 1 job, IOPS; create: files/s)"
