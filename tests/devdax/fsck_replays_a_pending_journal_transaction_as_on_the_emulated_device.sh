#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 15 finding 1: a volume left with a pending journal transaction (the
# workload killed at a persist barrier in the middle of a transaction, on
# the device itself) gets the same verdict from fsck -n on devdax as from
# fsck -n on an emulated copy of the same bytes (where a private mapping
# lets the check roll the transaction back without writing); fsck -y on
# the device applies the rollback, and -n is clean after it.
# Until lib/fsck can roll back without a private mapping (devdax refuses
# them: "dax_mmap: fail, attempted private mapping"), this test fails.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
pgdax_init
WL=$top_builddir/tests/vol_workload
[ -x "$WL" ] || fail "$WL not built"
emu=/var/tmp/pgdax-emu.$$	# ext4: private mappings and the align option work
pgdax_on_exit "rm -f '$emu'"
verdict() { # fsck output -> "problems=N journal=WORD"
	sed -n 's/^pgdaxfs: \([0-9]*\) problems found, [0-9]* fixed; journal \([a-z ]*\);.*/problems=\1 journal=\2/p' "$1"
}

# the number of barriers of a clean run, then crash points through it
# until one leaves a transaction pending (fsck -n on the device says
# "pending" or "rolled back"; only that image is copied out: TCG is slow)
pgdax_mkfs "$DAX"
PGDAX_CRASH_COUNT=$PGDAX_WORK/count "$WL" run "$DAX" "$PGDAX_WORK/ack" 1 12 >/dev/null 2>&1 ||
	fail "clean workload run on $DAX"
total=$(cat "$PGDAX_WORK/count")
[ "$total" -gt 20 ] || fail "only $total barriers"
found=
for frac in 50 37 63 25 75 44; do
	n=$((total * frac / 100))
	pgdax_mkfs "$DAX"
	PGDAX_CRASH_AT=$n "$WL" run "$DAX" "$PGDAX_WORK/ack" 1 12 >/dev/null 2>&1 || true
	"$FSCK" -n -f "$DAX" >"$PGDAX_WORK/probe" 2>&1 || true
	if verdict "$PGDAX_WORK/probe" | grep -qE "journal=(pending|rolled back)"; then
		found=$n
		break
	fi
done
[ -n "$found" ] || fail "no crash point out of $total left a pending transaction"
rm -f "$emu"
dax_copy_out "$emu"
"$FSCK" -n -f --align "$DAX_ALIGN" "$emu" >"$PGDAX_WORK/emu.n" 2>&1 || true
log "crash at barrier $found of $total: emulated copy: $(verdict "$PGDAX_WORK/emu.n")"
rc_emu=0; "$FSCK" -n -f --align "$DAX_ALIGN" "$emu" >/dev/null 2>&1 || rc_emu=$?
rc_dax=0; "$FSCK" -n -f "$DAX" >"$PGDAX_WORK/dax.n" 2>&1 || rc_dax=$?
log "devdax: fsck -n exit $rc_dax: $(verdict "$PGDAX_WORK/dax.n")"
if [ "$rc_dax" -ne "$rc_emu" ] || [ "$(verdict "$PGDAX_WORK/dax.n")" != "$(verdict "$PGDAX_WORK/emu.n")" ]; then
	cat "$PGDAX_WORK/dax.n" >&2
	fail "fsck -n on devdax (exit $rc_dax, $(verdict "$PGDAX_WORK/dax.n")) differs from the emulated copy (exit $rc_emu, $(verdict "$PGDAX_WORK/emu.n"))"
fi
rc=0; "$FSCK" -y -f "$DAX" >"$PGDAX_WORK/dax.y" 2>&1 || rc=$?
verdict "$PGDAX_WORK/dax.y" | grep -q "journal=rolled back" ||
	{ cat "$PGDAX_WORK/dax.y" >&2; fail "fsck -y did not roll the transaction back (exit $rc)"; }
[ "$rc" -le 1 ] || { cat "$PGDAX_WORK/dax.y" >&2; fail "fsck -y exited $rc"; }
rc=0; "$FSCK" -n -f "$DAX" >"$PGDAX_WORK/dax.n2" 2>&1 || rc=$?
[ "$rc" -eq 0 ] && verdict "$PGDAX_WORK/dax.n2" | grep -q "problems=0 journal=clean" ||
	{ cat "$PGDAX_WORK/dax.n2" >&2; fail "fsck -n after -y: exit $rc"; }
echo "1 passed, 0 failed"
