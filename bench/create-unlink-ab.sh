#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/create-unlink-ab.sh [--files N] [--rounds R] BASE_PGDAXFS
#
# Creates and unlinks of N files (default 20000) in one directory, this
# build's daemon (A) against another daemon binary (B, e.g. main's build),
# both mounted at once on their own emulated devices and measured in
# alternating rounds of N/R files (default R 10), so that the load of a
# shared machine falls on both alike. Prints each side's rate and the
# median of the per-round ratios A/B (issue 19: >= 1.5 for create and
# unlink). Environment: PGDAX_BUILD (build dir with fs/pgdaxfs and
# tools/mkfs.pgdaxfs); PGDAX_AB_OPTS, this build's mount options (default
# "-o no_default_permissions,no_io_uring": the round trips the daemon's own
# permission checks save, over the same transport as a daemon built before
# io_uring became the default; BASE is mounted with its defaults). Undoes everything by its EXIT trap and signals only
# the daemons it started, by pid.
set -uo pipefail
prog=create-unlink-ab
B=${PGDAX_BUILD:-$(pwd)}
files=20000 rounds=10
while [ $# -gt 1 ]; do
	case $1 in
	--files) files=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	*) echo "$prog: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
base=${1:-}
[ -x "$base" ] || { echo "usage: $prog [--files N] [--rounds R] BASE_PGDAXFS" >&2; exit 2; }
work=$(mktemp -d "/tmp/$prog.XXXXXX") || exit 1
pids=() mounts=() devs=()
cleanup() {
	for m in "${mounts[@]}"; do mountpoint -q "$m" && fusermount3 -u "$m" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
	done
	for m in "${mounts[@]}"; do mountpoint -q "$m" && umount -l "$m"; done
	rm -f "${devs[@]}"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_one() { # NAME DAEMON [OPTIONS...]
	local dev=/dev/shm/pgdaxfs-$prog-$$-$1.img mnt=$work/$1 name=$1 daemon=$2
	shift 2
	devs+=("$dev")
	mkdir -p "$mnt"
	"$B/tools/mkfs.pgdaxfs" -q --size 2G -N 131072 "$dev" || exit 1
	"$daemon" "$dev" "$mnt" -f "$@" 2>>"$work/$name.log" &
	pids+=($!) mounts+=("$mnt")
	for _ in $(seq 200); do mountpoint -q "$mnt" && return 0; sleep 0.05; done
	echo "$prog: $daemon did not mount: $(cat "$work/$name.log")" >&2
	exit 1
}
# shellcheck disable=SC2086
mount_one A "$B/fs/pgdaxfs" ${PGDAX_AB_OPTS--o no_default_permissions,no_io_uring}
mount_one B "$base"
mkdir "$work/A/d" "$work/B/d"

python3 - "$work/A/d" "$work/B/d" "$files" "$rounds" <<'PY'
import os, statistics, sys, time
a, b, files, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
per = files // rounds
tot = {("A", "create"): 0.0, ("B", "create"): 0.0, ("A", "unlink"): 0.0, ("B", "unlink"): 0.0}
ratios = {"create": [], "unlink": []}
def run(d, r):
    t0 = time.perf_counter()
    for i in range(per):
        os.close(os.open(f"{d}/r{r}f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    t1 = time.perf_counter()
    for i in range(per):
        os.unlink(f"{d}/r{r}f{i}")
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1
for r in range(rounds):
    order = [("A", a), ("B", b)] if r % 2 == 0 else [("B", b), ("A", a)]
    got = {}
    for name, d in order:
        got[name] = run(d, r)
        tot[(name, "create")] += got[name][0]
        tot[(name, "unlink")] += got[name][1]
    ratios["create"].append(got["B"][0] / got["A"][0])
    ratios["unlink"].append(got["B"][1] / got["A"][1])
n = per * rounds
for op in ("create", "unlink"):
    print(f"{op}: A {n / tot[('A', op)]:.0f}/s  B {n / tot[('B', op)]:.0f}/s  "
          f"ratio A/B median {statistics.median(ratios[op]):.2f} "
          f"(rounds: {' '.join(f'{x:.2f}' for x in ratios[op])})")
PY
