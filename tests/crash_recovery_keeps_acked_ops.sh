#!/bin/bash
# Crash injection: tests/vol_workload (a metadata-heavy workload through the
# lib/vol/vol.h API) is killed at persist barrier N, with PGDAX_CRASH_SHADOW
# keeping the image a power cut would have left. For every N tried:
#   - fsck.pgdaxfs -n -f on the shadow finds no inconsistency (it rolls a
#     pending journal transaction back in a private view, as mount would);
#   - fsck.pgdaxfs -y -f on a copy only recovers (journal rollback, orphan
#     reclaim: "0 problems found"), and the copy then holds every
#     acknowledged operation;
#   - the shadow mounts (the mount's own recovery, pending truncates
#     finished) and holds every acknowledged operation with its data
#     (vol_workload verify: the state after the last "ack N", or after N+1
#     if that one had committed), and on the medium no allocated byte past
#     the EOF of any file is non-zero (but the in-flight write's own), so
#     growing a file never shows old bytes; the workload truncates, punches,
#     zero-ranges, relays out for DAX, renames over and unlinks open files;
#   - after that mount, fsck.pgdaxfs -n -f exits 0.
# N runs over a spread sample of all barriers of a clean run (200 by
# default, about a minute of CPU; PGDAX_CRASH_COUNT tells how many);
# CRASH_POINTS=all tries every one (make check-crash-long). Knobs:
# CRASH_POINTS, CRASH_OPS, CRASH_SEED.
set -u
B=${top_builddir:-.}
FSCK=$B/tools/fsck.pgdaxfs
MKFS=$B/tools/mkfs.pgdaxfs
WL=$B/tests/vol_workload
SEED=${CRASH_SEED:-1}
NOPS=${CRASH_OPS:-150}
POINTS=${CRASH_POINTS:-200}

work=$(mktemp -d /dev/shm/pgdaxfs-crash.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
dev=$work/dev
fail() { echo "FAIL: $*"; exit 1; }
copy() { cp --sparse=always --preserve=xattr "$1" "$2" || fail "cp $1 $2"; }

truncate -s 32M "$dev" || fail "truncate"
"$MKFS" "$dev" >"$work/mkfs.log" 2>&1 || { cat "$work/mkfs.log"; fail "mkfs"; }
copy "$dev" "$work/base"

# A clean run: how many barriers, and the workload itself must verify.
PGDAX_CRASH_COUNT=$work/count "$WL" run "$dev" "$work/ack" "$SEED" "$NOPS" \
	|| fail "clean workload run"
total=$(cat "$work/count")
[ "$total" -gt 0 ] || fail "no barriers counted"
"$WL" verify "$dev" "$work/ack" "$SEED" "$NOPS" >/dev/null || fail "clean run does not verify"
"$FSCK" -n -f "$dev" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log"; fail "fsck -n after a clean run"; }

if [ "$POINTS" = all ] || [ "$POINTS" -ge "$total" ]; then
	points=$(seq 1 "$total")
else
	# evenly spread, shifted by the seed so different seeds cover other points
	points=$(awk -v t="$total" -v k="$POINTS" -v s="$SEED" \
		'BEGIN { step = t / k; for (i = 0; i < k; i++) print 1 + int(i * step + (s * 7919) % step) }' | sort -nu)
fi

tried=0
completed=0
for n in $points; do
	copy "$work/base" "$dev"
	rm -f "$work/shadow" "$work/ack" "$work/y"
	# in a subshell whose stderr (where bash reports "Killed") is discarded
	( PGDAX_CRASH_AT=$n PGDAX_CRASH_SHADOW=$work/shadow \
		"$WL" run "$dev" "$work/ack" "$SEED" "$NOPS" >"$work/run.log" 2>&1; r=$?; exit $r ) \
		2>/dev/null
	rc=$?
	if [ $rc -eq 0 ]; then
		# fewer barriers this time (timing of background work): nothing to test
		completed=$((completed + 1))
		continue
	fi
	[ $rc -eq 137 ] || { cat "$work/run.log"; fail "crash point $n: workload exited $rc, not killed"; }
	[ -f "$work/shadow" ] || fail "crash point $n: no shadow image"
	acks=$(grep -c '^ack ' "$work/ack" 2>/dev/null)
	ctx="crash point $n of $total (after ${acks:-0} acks)"

	"$FSCK" -n -f "$work/shadow" >"$work/fsck.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || { cat "$work/fsck.log"; fail "$ctx: fsck -n before mount exited $rc"; }

	copy "$work/shadow" "$work/y"
	"$FSCK" -y -f "$work/y" >"$work/fsck.log" 2>&1
	rc=$?
	{ [ $rc -le 1 ] && grep -q '^pgdaxfs: 0 problems found' "$work/fsck.log"; } ||
		{ cat "$work/fsck.log"; fail "$ctx: fsck -y did more than recover (exit $rc)"; }
	"$WL" verify "$work/y" "$work/ack" "$SEED" "$NOPS" >"$work/verify.log" 2>&1 ||
		{ cat "$work/verify.log"; fail "$ctx: acknowledged ops missing after fsck -y"; }

	"$WL" verify "$work/shadow" "$work/ack" "$SEED" "$NOPS" >"$work/verify.log" 2>&1 ||
		{ cat "$work/verify.log"; fail "$ctx: acknowledged ops missing after mount"; }
	"$FSCK" -n -f "$work/shadow" >"$work/fsck.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || { cat "$work/fsck.log"; fail "$ctx: fsck -n after mount exited $rc"; }
	tried=$((tried + 1))
done
echo "crash points tried: $tried of $total (seed $SEED, $NOPS ops; $completed ran to completion)"
[ $tried -gt 0 ] || fail "no crash point was tried"
exit 0
