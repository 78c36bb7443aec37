#!/bin/bash
# The README's test command: install what is missing, build, and run the
# whole suite: make check (Check unit tests + integration scripts), the unit
# tests again under ASan+UBSan, and the refcount stress under TSan.
# Prints "N passed, N failed" last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 1
tools/build.sh || exit 1
status=0
summary() { # $1 = log of an automake test run
	awk '/^# PASS:/ {p+=$3} /^# FAIL:/ {f+=$3} /^# ERROR:/ {f+=$3} /^# XPASS:/ {f+=$3}
	     END {print p+0, f+0}' "$1"
}
run() { # name, make target
	local log=/tmp/pgdaxfs-$1.$$.log
	echo "== $1: make $2"
	make -s "$2" 2>&1 | tee "$log" | grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP|# )' || true
	[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; grep -h -A40 -E '^(FAIL|ERROR)' "$log" | head -100; \
		for f in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find . build-* -name '*.trs' 2>/dev/null) 2>/dev/null); do \
			echo "---- ${f%.trs}.log"; tail -60 "${f%.trs}.log"; done; }
	read -r p f < <(summary "$log")
	passed=$((passed + p)); failed=$((failed + f))
	rm -f "$log"
}
passed=0; failed=0
run check check
run asan check-asan
run tsan check-tsan
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
