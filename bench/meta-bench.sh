#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/meta-bench.sh [--short] [--files N] [--sizes LIST] [--targets "pgdaxfs tmpfs passthrough base"]
#
# Metadata figures through FUSE, side by side in one run:
#   pgdaxfs      mkfs.pgdaxfs + the daemon on an emulated device in /dev/shm;
#   tmpfs        kernel tmpfs (no FUSE): the in-kernel reference;
#   passthrough  libfuse's example/passthrough_ll.c (compiled at run time
#                from /usr/share/doc/libfuse3-dev/examples, or
#                $PASSTHROUGH_SRC) over a tmpfs directory: what a plain
#                libfuse filesystem achieves on this machine;
#   base         another pgdaxfs daemon binary, $PGDAXFS_BASE (e.g. main's
#                build), on a fresh volume: the summary's vs_base column is
#                this build's figure over that one's (issue 19: >= 1.5x for
#                create and unlink).
# For each it runs bench/meta-bench (create/stat/unlink of N files in one
# directory, then lookup time at several directory sizes, with the dentry
# cache dropped and 1.2 s waited past the 1 s FUSE entry timeout, so every
# lookup reaches the filesystem) and prints its lines, then
# a summary with pgdaxfs's ratios to the others and the issue's targets:
#   create >= 20000/s, stat >= 80000/s, unlink >= 24000/s; lookup time flat
#   from 1k to 100k entries.
# --short (make bench): 2000 files, sizes 1000,10000.
# Environment: PGDAX_BUILD (build dir with fs/pgdaxfs, tools/mkfs.pgdaxfs,
# bench/meta-bench), PGDAXFS_OPTS (extra daemon arguments), MKFS_OPTS.
# Everything it creates is undone by its EXIT trap; it signals only the
# daemons it started, by pid.
set -uo pipefail
prog=meta-bench
B=${PGDAX_BUILD:-$(pwd)}
PASSTHROUGH_SRC=${PASSTHROUGH_SRC:-/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c}
files=20000 sizes=1000,10000,100000 samples=2000
targets="pgdaxfs tmpfs passthrough"
while [ $# -gt 0 ]; do
	case $1 in
	--short) files=2000 sizes=1000,10000 samples=500 ;;
	--files) files=$2; shift ;;
	--sizes) sizes=$2; shift ;;
	--targets) targets=$2; shift ;;
	-h|--help) sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$prog: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_need fs/pgdaxfs tools/mkfs.pgdaxfs bench/meta-bench
bench_setup

declare -A res
run_target() {	# name mnt [max-inodes]
	local n=$files sz=$sizes cap=${3:-}
	if [ -n "$cap" ]; then
		# passthrough_ll holds one O_PATH descriptor per inode: stay under
		# RLIMIT_NOFILE (say so: its figures are then for fewer files)
		[ "$n" -gt "$cap" ] && n=$cap
		sz=$(echo "$sizes" | tr ',' '\n' | awk -v c="$cap" '$1 <= c' | paste -sd,)
		[ -n "$sz" ] || sz=0
		[ "$n" != "$files" ] || [ "$sz" != "$sizes" ] &&
			echo "($1: RLIMIT_NOFILE $(ulimit -Hn): files=$n, lookup sizes $sz)"
	fi
	echo "== $1"
	"$B/bench/meta-bench" -d -w 1200 -n "$n" -s "$sz" -k "$samples" "$2" | tee "$work/$1.out"
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "$prog: meta-bench failed on $1" >&2; return 1; }
	for k in create_per_s stat_per_s unlink_per_s; do
		res[$1.$k]=$(grep -o "$k=[0-9.]*" "$work/$1.out" | cut -d= -f2)
	done
	# (none with --sizes 0: grep's failure is not the run's)
	res[$1.lookup]=$(grep -oE '(^| )lookup_us=[0-9.]*' "$work/$1.out" | cut -d= -f2 | tr '\n' ' ')
	return 0
}

for t in $targets; do
	mnt=$work/mnt-$t
	mkdir -p "$mnt"
	case $t in
	pgdaxfs)
		bench_mkfs --size 4G -N 262144
		bench_mount_pgdaxfs "$mnt"
		pg_mnt=$mnt pg_pid=$pid
		;;
	base)
		[ -x "${PGDAXFS_BASE:-}" ] || { echo "$prog: PGDAXFS_BASE is no program: skipping base"; continue; }
		# one volume at a time on $dev: the first daemon goes first
		if [ -n "${pg_mnt:-}" ]; then
			umount "$pg_mnt" || exit 1
			for _ in $(seq 600); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.05; done
			pg_mnt=
		fi
		rm -f "$dev"
		bench_mkfs --size 4G -N 262144
		PGDAXFS_BIN=$PGDAXFS_BASE bench_mount_pgdaxfs "$mnt"
		;;
	tmpfs)
		mount -t tmpfs -o size=2G tmpfs "$mnt" || exit 1
		mounts+=("$mnt")
		;;
	passthrough)
		[ -f "$PASSTHROUGH_SRC" ] || { echo "$prog: $PASSTHROUGH_SRC missing: skipping passthrough"; continue; }
		# shellcheck disable=SC2046 # pkg-config output is meant to split
		gcc -O2 -w "$PASSTHROUGH_SRC" $(pkg-config fuse3 --cflags --libs) -o "$work/passthrough_ll" || continue
		mkdir -p "$work/pt-src"
		mount -t tmpfs -o size=2G tmpfs "$work/pt-src" || exit 1
		mounts+=("$work/pt-src")
		# passthrough_ll keeps one O_PATH descriptor per inode it knows
		ulimit -n "$(ulimit -Hn)" 2>/dev/null
		"$work/passthrough_ll" -f -o source="$work/pt-src" "$mnt" 2>"$work/passthrough.log" &
		pids+=($!) mounts=("$mnt" "${mounts[@]}")
		bench_wait_mount "$mnt" "$!" || { echo "$prog: passthrough_ll did not mount" >&2; continue; }
		;;
	*) echo "$prog: unknown target '$t'" >&2; exit 2 ;;
	esac
	cap=
	[ "$t" = passthrough ] && cap=$(( $(ulimit -Hn) - 200 ))
	run_target "$t" "$mnt" $cap || { [ "$t" = pgdaxfs ] && exit 1; echo "$prog: no figures for $t"; }
done

ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo "== summary (files=$files, lookup sizes $sizes)"
printf '%-14s %12s %12s %12s %12s %10s %10s %8s %8s\n' metric pgdaxfs tmpfs passthrough base \
	vs_tmpfs vs_pt vs_base target
for k in create_per_s:20000 stat_per_s:80000 unlink_per_s:24000; do
	m=${k%%:*} tgt=${k#*:}
	p=${res[pgdaxfs.$m]:-} tm=${res[tmpfs.$m]:-} pt=${res[passthrough.$m]:-} ba=${res[base.$m]:-}
	printf '%-14s %12s %12s %12s %12s %10s %10s %8s %8s\n' "$m" "${p:--}" "${tm:--}" "${pt:--}" \
		"${ba:--}" "$(ratio "$p" "$tm")" "$(ratio "$p" "$pt")" "$(ratio "$p" "$ba")" ">=$tgt"
done
for t in pgdaxfs tmpfs passthrough base; do
	l=${res[$t.lookup]:-}
	[ -n "$l" ] || continue
	set -- $l
	first=$1 last=${*: -1}
	echo "lookup_us $t at sizes $sizes: $l (largest/smallest $(ratio "$last" "$first"))"
done
