#!/usr/bin/env bash
# check_model.sh -- exhaustive Spin checks of the pgdaxfs protocol models.
#
#   refcount.pml  the refcount core (lib/core/folio.c, lib/core/pgmap.c):
#                 must verify (errors: 0), its deliberate-bug mutants must be
#                 caught and its witnesses reached (the properties bite);
#   loop.pml      the request loop (fs/loop.c, fs/reqclass.c, fs/ioctl.c,
#                 lib/vol/data.c, lib/pin/pin.c): every OLD variant (the C
#                 before the rework) must deadlock, and so must the
#                 single-pool variant ONE_POOL on scenario 6; NEW (the C
#                 now: two lanes, UNPIN's invalidation deferred) must
#                 verify: no invalid end state, and every request answered
#                 under weak fairness (LTL, pan -a -f); NEW's mutants must be
#                 caught and its witnesses reached.
#
# A check "passes" when pan gives the verdict it must give; the script fails
# if NEW or refcount has an error, and also if OLD or a mutant stops failing
# (the model lost its teeth). Every search is exhaustive (no bitstate, no
# hash compaction); each runs in its own mktemp -d directory, removed on
# exit. One line per check, then "N passed, M failed"; exit 1 on a failure.
#
# Needs spin (Debian package "spin") and a C compiler. JOBS (default 2)
# checks run at once; MEMLIM (MB, default 2048) bounds each pan.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JOBS=${JOBS:-2}
CC=${CC:-cc}
MEMLIM=${MEMLIM:-2048}
DEPTH=100000

if ! command -v spin >/dev/null 2>&1; then
	echo "FAIL: spin not found (apt-get install spin)"
	echo "0 passed, 1 failed"
	exit 1
fi

results=$(mktemp -d "${TMPDIR:-/tmp}/pgdax-model-res.XXXXXX") || exit 1
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$results"' EXIT
trap 'exit 130' INT TERM

# check MODEL "SPIN DEFINES" MODE EXPECT "DESCRIPTION"
#   MODE    safety: assertions + invalid end states (-DSAFETY, claim off)
#           ltl:    the model's LTL formula, acceptance cycles, weak fairness
#   EXPECT  ok | deadlock (invalid end state) | assert (assertion violated)
#           | reached (a witness assertion fails: the situation is reachable)
# Writes its one-line verdict to $results/NNN.
n=0
check() {
	local model=$1 defs=$2 mode=$3 expect=$4 desc=$5
	local out
	n=$((n + 1))
	out=$(printf '%s/%03d' "$results" "$n")
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
	(
		d=$(mktemp -d "${TMPDIR:-/tmp}/pgdax-model.XXXXXX") || exit 1
		trap 'rm -rf "$d"' EXIT
		verdict() { echo "$1" > "$out"; exit 0; }
		local cflags pflags opt start states errs first

		cp "$here/$model.pml" "$d/" && cd "$d" || verdict "FAIL: $desc: cannot copy $model.pml"
		case $mode in
		safety) cflags="-DSAFETY -DNOCLAIM"; pflags="" ;;
		ltl)    cflags="-DNFAIR=4"; pflags="-a -f" ;;
		esac
		# expected failures stop early: compile fast; the searches
		# that must complete are long enough to be worth -O2
		if [ "$expect" != ok ]; then opt=-O0
		else opt=-O2; fi
		start=$SECONDS
		# shellcheck disable=SC2086
		spin $defs -a "$model.pml" > spin.out 2>&1 ||
			verdict "FAIL: $desc: spin -a: $(grep -m1 -i error spin.out)"
		# shellcheck disable=SC2086
		$CC $opt -w $cflags -DMEMLIM="$MEMLIM" -o pan pan.c > cc.out 2>&1 ||
			verdict "FAIL: $desc: cc: $(head -n1 cc.out)"
		# shellcheck disable=SC2086
		# -w19: a small hash table to start with (pan grows it as
		# needed); the default 2^24 slots cost more than most searches
		timeout 600 ./pan -m"$DEPTH" -w19 $pflags > pan.out 2>&1
		states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -n1)
		errs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -n1)
		first=$(grep -m1 '^pan:1:' pan.out | sed 's/ (at depth.*//')
		if [ -z "$errs" ]; then
			verdict "FAIL: $desc: pan did not finish: $(grep -m1 -E 'pan:|error' pan.out)"
		fi
		case $expect in
		ok)
			if [ "$errs" != 0 ]; then
				verdict "FAIL: $desc: $first"
			elif grep -q -E 'max search depth too small|Search not completed|out of memory' pan.out; then
				verdict "FAIL: $desc: search incomplete"
			fi
			verdict "PASS: $desc, $states states ($((SECONDS - start))s)" ;;
		deadlock)
			case $first in
			*"invalid end state"*)
				verdict "PASS: $desc (invalid end state)" ;;
			esac
			verdict "FAIL: $desc: expected an invalid end state, pan: ${first:-errors: 0}" ;;
		assert)
			case $first in
			*"assertion violated"*)
				verdict "PASS: $desc (assertion: ${first#*assertion violated })" ;;
			esac
			verdict "FAIL: $desc: expected an assertion violation, pan: ${first:-errors: 0}" ;;
		reached)	# a witness: its assertion must fail
			case $first in
			*"assertion violated"*)
				verdict "PASS: $desc" ;;
			esac
			verdict "FAIL: $desc: not reached, pan: ${first:-errors: 0}" ;;
		esac
	) &
}

# --- refcount.pml ------------------------------------------------------------
# the two long ones first, so that the short ones fill the other slot
check refcount "" ltl ok \
	"refcount LTL <> released verified (drain terminates, weak fairness)"
check refcount "" safety ok \
	"refcount verified (assertions a,b,e,f; no invalid end state: d)"
for m in BUG_NO_GRACE:assert BUG_WAKE_BEFORE_STORE:deadlock \
	 BUG_UNITS_FIRST:assert BUG_NO_BIAS:assert; do
	check refcount "-D${m%%:*}" safety "${m#*:}" \
		"refcount mutant ${m%%:*} caught"
done
check refcount "-DWITNESS=1" safety reached \
	"refcount witness reached: a truncate-like waiter sleeps on a busy extent"
check refcount "-DWITNESS=2" safety reached \
	"refcount witness reached: pgmap_get_folio sleeps on a FREEING extent"
check refcount "-DWITNESS=3" safety reached \
	"refcount witness reached: a request live before kill publishes after kill"
check refcount "-DWITNESS=4" safety reached \
	"refcount witness reached: pgmap_drain sleeps"

# --- loop.pml: OLD (today's C) must deadlock ----------------------------------
check loop "-DOLD_LOOP -DSCEN=1" safety deadlock \
	"loop OLD deadlocks as expected (scenario 1: the bug report)"
check loop "-DOLD_LOOP -DSCEN=2" safety deadlock \
	"loop OLD deadlocks as expected (scenario 2: READs of f while a truncate waits)"
check loop "-DOLD_LOOP -DSCEN=3" safety deadlock \
	"loop OLD deadlocks as expected (scenario 3: two truncates and a SYNC)"
check loop "-DOLD_LOOP -DOLD_INLINE_FAST -DSCEN=2 -DMAXT=3" safety deadlock \
	"loop OLD with inline fast requests deadlocks as expected (receivers blocked on f's lock)"

# --- loop.pml: NEW (two lanes, fs/loop.c as it is) must verify -----------------
for s in "1:the bug report" "2:READs of f while a truncate waits" \
	 "3:two truncates fill the break lane, a SYNC" \
	 "4:device removal at any moment + unmount drain" \
	 "5:two pin holders unpin, invalidation deferred" \
	 "6:truncates fill the break lane, the holder SYNCs then UNPINs"; do
	sc=${s%%:*}
	defs="-DSCEN=$sc"
	[ "$sc" = 4 ] && defs="$defs -DREMOVAL"
	check loop "$defs" safety ok \
		"loop NEW verified, scenario $sc (${s#*:}): no deadlock"
	check loop "$defs" ltl ok \
		"loop NEW verified, scenario $sc (${s#*:}): every request answered (LTL, weak fairness)"
done
check loop "-DSCEN=6 -DONE_POOL" safety deadlock \
	"loop ONE_POOL deadlocks as expected (scenario 6: the holder's SYNC queued behind the truncates)"
check loop "-DSCEN=5 -DINVAL_INLINE" safety deadlock \
	"loop NEW with UNPIN's page invalidation on the receiver deadlocks as expected (scenario 5)"
check loop "-DSCEN=4 -DREMOVAL -DBUG_PIN_NO_DEAD_CHECK" safety deadlock \
	"loop NEW mutant BUG_PIN_NO_DEAD_CHECK caught (pin entered after revocation: drain hangs)"
check loop "-DSCEN=2 -DBUG_TRUNC_WAIT_LOCKED" safety deadlock \
	"loop NEW mutant BUG_TRUNC_WAIT_LOCKED caught (truncate waits holding f's lock)"
check loop "-DSCEN=1 -DWITNESS=1" safety reached \
	"loop NEW witness reached: a truncate sleeps on the pinned extent"
check loop "-DSCEN=2 -DWITNESS=2" safety reached \
	"loop NEW witness reached: a READ of f is served while a truncate sleeps"
check loop "-DSCEN=3 -DWITNESS=3" safety reached \
	"loop NEW witness reached: both break-lane workers sleep in truncates with the SYNC unanswered"
check loop "-DSCEN=4 -DREMOVAL -DWITNESS=4" safety reached \
	"loop NEW witness reached: the device dies while a truncate sleeps on a pinned extent"
check loop "-DSCEN=6 -DWITNESS=5" safety reached \
	"loop NEW witness reached: the holder's SYNC is served while both break-lane workers sleep"

wait

pass=0
fail=0
for f in "$results"/*; do
	line=$(cat "$f")
	echo "$line"
	case $line in
	PASS:*) pass=$((pass + 1)) ;;
	*) fail=$((fail + 1)) ;;
	esac
done
# a check whose subshell died without a verdict
missing=$((n - pass - fail))
if [ "$missing" -gt 0 ]; then
	echo "FAIL: $missing check(s) gave no verdict"
	fail=$((fail + missing))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
