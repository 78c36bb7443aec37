#!/bin/bash
# The README's test command: install what is missing, build, and run the
# whole suite: make check (Check unit tests + integration scripts), the unit
# tests again under ASan+UBSan, the refcount stress under TSan, and the Spin
# models of the protocol (make check-model), and the devdax suite on a real
# /dev/dax0.0 in a QEMU guest at 2M and 1G alignment (make check-devdax).
# Transports: the main build uses libfuse 3.18 when install-deps could
# install it; it serves over io_uring by default where the fuse module's
# enable_uring is 1, which its io_uring tests need: this script sets it
# (system-wide; it says so). A second build against the system's libfuse
# 3.14 (build-fuse314/, /dev/fuse only) is built and runs a subset
# (FUSE314_TESTS) so that it keeps working.
# Prints "N passed, N failed" last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
tools/install-deps.sh || exit 1
tools/build.sh || exit 1
cd "${PGDAX_BUILD_DIR:-build}" || exit 1
status=0
summary() { # $1 = log of an automake test run
	awk '/^# PASS:/ {p+=$3} /^# FAIL:/ {f+=$3} /^# ERROR:/ {f+=$3} /^# XPASS:/ {f+=$3}
	     /^[0-9]+ passed, [0-9]+ failed$/ {p+=$1; f+=$3}
	     END {print p+0, f+0}' "$1"
}
run() { # name, make target [make args]
	local name=$1 log=/tmp/pgdaxfs-$1.$$.log rc
	shift
	echo "== $name: make $1"
	make -s "$@" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP|# )' "$log" || true
	if [ "$rc" -ne 0 ]; then
		status=1
		echo "== $name failed (make exit $rc); last lines and failing test logs:"
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
uring=/sys/module/fuse/parameters/enable_uring
if grep -q '^#define PGDAX_HAVE_FUSE_REQ_UNIQUE 1' config.h && [ -w "$uring" ]; then
	if [ "$(cat "$uring")" != Y ]; then
		echo "== setting $uring to 1 (system-wide) for the io_uring tests"
		echo 1 >"$uring"
	fi
	echo "== libfuse 3.18 build: the io_uring tests run over FUSE-over-io_uring"
else
	echo "== the suite runs over /dev/fuse ($(grep -q PGDAX_HAVE_FUSE_URING config.h &&
		echo "no $uring" || echo "built against libfuse < 3.18"))"
fi
run check check
run devdax check-devdax
run asan check-asan
run tsan check-tsan
run model check-model
# The libfuse 3.14 build (where the main one used 3.18): build + a subset.
FUSE314_TESTS="tests/check_vol tests/posix_behaviour_matches_tmpfs.sh
	tests/truncate_waiting_for_pin_is_interruptible_while_others_are_served.sh
	tests/requests_are_served_while_waiting_truncates_fill_the_pool.sh
	tests/signal_drains_then_unmounts.sh tests/data_persists_across_remount.sh
	tests/transport_is_io_uring_where_enabled_else_dev_fuse_and_status_says_which.sh"
if grep -q '^#define PGDAX_HAVE_FUSE_URING 1' config.h; then
	echo "== libfuse 3.14 build (build-fuse314)"
	b314=$top/build-fuse314
	if PGDAX_BUILD_DIR=$b314 PGDAX_CONFIGURE_FLAGS=--without-libfuse "$top/tools/build.sh"; then
		cd "$b314" || exit 1
		run fuse314 check TESTS="$(echo $FUSE314_TESTS)"
	else
		echo "== libfuse 3.14 build failed"
		status=1; failed=$((failed + 1))
	fi
fi
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
