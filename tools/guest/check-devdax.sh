#!/bin/bash
# SPDX-License-Identifier: MIT
# make check-devdax: boot the devdax guest at 2 MiB and at 1 GiB alignment
# (run-guest.sh) and run the devdax suite in each; print the total as
# "N passed, M failed" (what tools/run-tests.sh adds up); exit non-zero on
# any failure.
#   check-devdax.sh SRCDIR BUILDDIR TEST...   (TEST@2M / TEST@1G: only there)
# PGDAX_GUEST_ALIGNS="2M 1G" chooses the alignments.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$1 build=$2
shift 2
[ "$(id -u)" -eq 0 ] || { echo "check-devdax: needs root (the guest's cache, qemu)" >&2; exit 1; }
for t in qemu-system-x86_64 qemu-img debootstrap busybox cpio mke2fs depmod; do
	command -v "$t" >/dev/null || { echo "check-devdax: $t missing: run tools/install-deps.sh" >&2; exit 1; }
done
passed=0 failed=0
t0=$(date +%s)
log=$(mktemp /tmp/pgdaxfs-check-devdax.XXXXXX)
trap 'rm -f "$log"' EXIT
# one guest build at a time: a second run waits for the first's cache
exec 8>"${PGDAX_GUEST_CACHE:-/var/cache/pgdaxfs-guest}.lock"
flock 8
for align in ${PGDAX_GUEST_ALIGNS:-2M 1G}; do
	echo "== devdax guest at $align alignment"
	# (not tee /dev/stderr: reopening a log file that stderr points to
	# would truncate it)
	"$here/run-guest.sh" "$align" "$src" "$build" "$@" 2>&1 | tee "$log"
	out=$(tail -n1 "$log")
	if [[ "$out" =~ ^$align:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
	else
		echo "FAIL: the guest at $align gave no result" >&2
		failed=$((failed + 1))
	fi
done
echo "check-devdax: $(( $(date +%s) - t0 )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
