#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/mixed-bench.sh [--short] [--ops N] [--runs R]
#
# Issue 19's "mixed small operations", side by side in one run:
#   falloc   one fallocate(0, 1 GiB) on a new file: pgdaxfs vs kernel tmpfs
#            (target: ratio <= 2);
#   append   100,000 writes of 100 bytes with O_APPEND vs the same writes
#            by pwrite at the end of a file opened without it, both on
#            pgdaxfs (target: ratio <= 2);
#   mixed    bench/mixed-ops (fsx-like, checked against a model) on pgdaxfs
#            vs libfuse's passthrough_ll over tmpfs, the full mix and the
#            fallocate-heavy one (target: ratio <= 1). Both with -Z: tmpfs
#            has no FALLOC_FL_ZERO_RANGE, so the passthrough could not run
#            those ops; pgdaxfs's figure with them is printed too.
# Each figure is the median of R runs (default 3), alternating the sides so
# the load of other users falls on both. passthrough_ll is compiled here
# from $PASSTHROUGH_SRC (default: libfuse 3.18.3's example under
# /tmp/fuse318-src, against /opt/pgdaxfs/libfuse-3.18 via pkg-config; else
# the system libfuse 3.14's example) into the build dir. uptime is printed
# before and after (the machine is shared).
# --short: 20,000 appends, 20,000 mixed ops, 1 run.
# Environment: PGDAX_BUILD (build dir), PGDAXFS_OPTS, MKFS_OPTS.
# Everything it creates is undone by its EXIT trap; it signals only the
# daemons it started, by pid.
set -uo pipefail
prog=mixed-bench
B=${PGDAX_BUILD:-$(pwd)}
FUSE318=${FUSE318:-/opt/pgdaxfs/libfuse-3.18}
PASSTHROUGH_SRC=${PASSTHROUGH_SRC:-/tmp/fuse318-src/fuse-3.18.3/example/passthrough_ll.c}
ops=200000 appends=100000 runs=3
while [ $# -gt 0 ]; do
	case $1 in
	--short) ops=20000 appends=20000 runs=1 ;;
	--ops) ops=$2; shift ;;
	--runs) runs=$2; shift ;;
	-h|--help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$prog: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_need fs/pgdaxfs tools/mkfs.pgdaxfs bench/mixed-ops
bench_setup
M=$B/bench/mixed-ops

echo "load before: $(uptime)"
mkdir -p "$work/mnt-pgdaxfs" "$work/mnt-tmpfs" "$work/mnt-pt" "$work/pt-src"
bench_mkfs --size 4G
bench_mount_pgdaxfs "$work/mnt-pgdaxfs"
P=$work/mnt-pgdaxfs
mount -t tmpfs -o size=2G tmpfs "$work/mnt-tmpfs" || exit 1
mounts+=("$work/mnt-tmpfs")
T=$work/mnt-tmpfs

# passthrough_ll: 3.18's example if its sources and library are here
pt=$B/bench/passthrough_ll pt_from=
if [ -f "$PASSTHROUGH_SRC" ] && [ -f "$FUSE318/lib/pkgconfig/fuse3.pc" ]; then
	# shellcheck disable=SC2046 # pkg-config output is meant to split
	gcc -O2 -w -D_GNU_SOURCE -DHAVE_FALLOCATE -DHAVE_COPY_FILE_RANGE \
		-I"$(dirname "$PASSTHROUGH_SRC")" "$PASSTHROUGH_SRC" \
		$(PKG_CONFIG_PATH=$FUSE318/lib/pkgconfig pkg-config fuse3 --cflags --libs) \
		-Wl,-rpath,"$FUSE318/lib" -o "$pt" &&
		pt_from="libfuse $(PKG_CONFIG_PATH=$FUSE318/lib/pkgconfig pkg-config --modversion fuse3) ($PASSTHROUGH_SRC)"
fi
if [ -z "$pt_from" ]; then
	src=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
	# shellcheck disable=SC2046
	gcc -O2 -w -D_GNU_SOURCE -DHAVE_FALLOCATE "$src" $(pkg-config fuse3 --cflags --libs) \
		-o "$pt" && pt_from="system libfuse $(pkg-config --modversion fuse3) ($src)"
fi
if [ -n "$pt_from" ]; then
	mount -t tmpfs -o size=2G tmpfs "$work/pt-src" || exit 1
	mounts+=("$work/pt-src")
	"$pt" -f -o source="$work/pt-src" "$work/mnt-pt" 2>"$work/passthrough.log" &
	pids+=($!) mounts=("$work/mnt-pt" "${mounts[@]}")
	bench_wait_mount "$work/mnt-pt" "$!" || { echo "$prog: passthrough_ll did not mount" >&2; pt_from=; }
fi
echo "passthrough_ll: ${pt_from:-not available}"

# NAME CMD...: run CMD (a mixed-ops line), record its secs in res[NAME]
declare -A res
one() {
	local name=$1 out
	shift
	out=$("$@") || { echo "$prog: $name failed: $*" >&2; exit 1; }
	echo "  $name: $out"
	res[$name]="${res[$name]:-} $(echo "$out" | grep -o 'secs=[0-9.]*' | cut -d= -f2)"
}
median() { echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for r in $(seq "$runs"); do
	echo "== run $r"
	one falloc.pgdaxfs "$M" falloc "$P/falloc.$r" -b $((1 << 30))
	one falloc.tmpfs "$M" falloc "$T/falloc" -b $((1 << 30))
	rm -f "$T/falloc" "$P/falloc.$r"
	one append.o_append "$M" append "$P/append" -n "$appends" -b 100
	one append.pwrite "$M" append "$P/append" -n "$appends" -b 100 -p
	rm -f "$P/append"
	if [ -n "$pt_from" ]; then
		one mixed.passthrough "$M" mixed "$work/mnt-pt/mixed" -n "$ops" -s "$r" -Z
		one mixed.pgdaxfs "$M" mixed "$P/mixed" -n "$ops" -s "$r" -Z
		one fheavy.passthrough "$M" mixed "$work/mnt-pt/mixed" -n "$((ops / 4))" -s "$r" -Z -f
		one fheavy.pgdaxfs "$M" mixed "$P/mixed" -n "$((ops / 4))" -s "$r" -Z -f
		rm -f "$work/mnt-pt/mixed"
	fi
	one mixed_zero.pgdaxfs "$M" mixed "$P/mixed" -n "$ops" -s "$r"
	rm -f "$P/mixed"
done
echo "load after: $(uptime)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo "== summary (medians of $runs runs; seconds)"
printf '%-34s %10s %10s %7s %7s\n' figure pgdaxfs reference ratio target
row() {	# label a b target
	local a b
	a=$(median "${res[$2]:-}") b=$(median "${res[$3]:-}")
	printf '%-34s %10s %10s %7s %7s\n' "$1" "$a" "${b:--}" "$(ratio "$a" "$b")" "$4"
}
row "fallocate 1 GiB (vs tmpfs)" falloc.pgdaxfs falloc.tmpfs "<= 2"
row "$appends x 100 B O_APPEND (vs pwrite)" append.o_append append.pwrite "<= 2"
if [ -n "$pt_from" ]; then
	row "mixed $ops ops (vs passthrough)" mixed.pgdaxfs mixed.passthrough "<= 1"
	row "fallocate-heavy $((ops / 4)) (vs passthrough)" fheavy.pgdaxfs fheavy.passthrough "<= 1"
fi
row "mixed $ops ops with zero-range" mixed_zero.pgdaxfs none "-"
