#!/bin/bash
# The README's test command: install what is missing, build, and run the
# whole suite: make check (Check unit tests + integration scripts), the unit
# tests again under ASan+UBSan, the refcount stress under TSan, and the Spin
# models of the protocol (make check-model), and the devdax suite on a real
# /dev/dax0.0 in a QEMU guest at 2M and 1G alignment (make check-devdax).
# Prints "N passed, N failed" last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 1
tools/build.sh || exit 1
cd "${PGDAX_BUILD_DIR:-build}" || exit 1
status=0
summary() { # $1 = log of an automake test run
	awk '/^# PASS:/ {p+=$3} /^# FAIL:/ {f+=$3} /^# ERROR:/ {f+=$3} /^# XPASS:/ {f+=$3}
	     /^[0-9]+ passed, [0-9]+ failed$/ {p+=$1; f+=$3}
	     END {print p+0, f+0}' "$1"
}
run() { # name, make target
	local log=/tmp/pgdaxfs-$1.$$.log rc
	echo "== $1: make $2"
	make -s "$2" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP|# )' "$log" || true
	if [ "$rc" -ne 0 ]; then
		status=1
		echo "== $1 failed (make exit $rc); last lines and failing test logs:"
		tail -30 "$log"
		for f in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find . -name '*.trs' 2>/dev/null) 2>/dev/null); do
			echo "---- ${f%.trs}.log"; tail -60 "${f%.trs}.log"
		done
	fi
	read -r p f < <(summary "$log")
	passed=$((passed + p)); failed=$((failed + f))
	rm -f "$log"
}
passed=0; failed=0
run check check
run devdax check-devdax
run asan check-asan
run tsan check-tsan
run model check-model
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
