#!/bin/bash
# pgdaxctl lists the devdax devices as JSON ("[]" when there are none) and
# reports an emulated device's kind, size and its volume's alignment; bad input
# gets exit status 1 or 2 and a message naming the device and the fix.
set -u
ctl=${top_builddir:-.}/tools/pgdaxctl
dev=/dev/shm/pgdaxfs-test-ctl-$$
trap 'rm -f "$dev" "$dev.small"' EXIT
pass=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { pass=$((pass + 1)); }
# expect STATUS STDERR-SUBSTRING CMD...: exit status and message
expect() {
	local want=$1 msg=$2 err rc
	shift 2
	err=$("$@" 2>&1 >/dev/null); rc=$?
	[ "$rc" -eq "$want" ] || fail "$* exited $rc, expected $want ($err)"
	[[ "$err" == *"$msg"* ]] || fail "$*: message '$err' lacks '$msg'"
	ok
}

out=$("$ctl" list) || fail "pgdaxctl list exited $?"
[[ "$out" == \[*\] ]] || fail "pgdaxctl list printed '$out', not a JSON array"
if ! compgen -G '/dev/dax*' >/dev/null; then
	[ "$out" = "[]" ] || fail "no /dev/dax* but pgdaxctl list printed '$out'"
fi
ok

truncate -s 64M "$dev"
"${top_builddir:-.}/tools/mkfs.pgdaxfs" -q --align 2M "$dev" || fail "mkfs.pgdaxfs --align 2M failed"
json=$("$ctl" info --json "$dev") || fail "info --json exited $?"
# the device part; a formatted device's superblock follows under "filesystem"
want="{\"kind\":\"emulated\",\"path\":\"$dev\",\"name\":\"${dev##*/}\",\"size\":67108864,\"align\":2097152,\"numa_node\":-1,\"granularity\":\"page\",\"needs_flush\":true,\"bad_ranges\":0,\"filesystem\":{"
[[ "$json" == "$want"* ]] || fail "info --json printed '$json', expected it to start '$want'"
ok
human=$("$ctl" info "$dev") || fail "info exited $?"
grep -q '^kind: *emulated$' <<<"$human" || fail "info: no emulated kind in '$human'"
grep -q '^align: *2097152 (2M)$' <<<"$human" || fail "info: the volume's 2M alignment not shown"
grep -q '^size: *67108864 (64M)$' <<<"$human" || fail "info: size not shown"
ok
"$ctl" info --align 4K "$dev" | grep -q '^align: *4096 (4K)$' || fail "--align 4K not applied"
ok

expect 1 "/dev/null is not a devdax device" "$ctl" info /dev/null
expect 1 "$dev.missing does not exist" "$ctl" info "$dev.missing"
expect 1 "/dev/shm is a directory" "$ctl" info /dev/shm
truncate -s 1M "$dev.small"
expect 1 "at least 16 MiB" "$ctl" info "$dev.small"
expect 1 "not a multiple of its alignment" "$ctl" info --align 1G "$dev"
expect 2 "--align 3M: use 4K, 2M or 1G" "$ctl" info --align 3M "$dev"
expect 1 "no devdax device dax987.654" "$ctl" info dax987.654
expect 1 "namespace987.654" "$ctl" info namespace987.654
expect 2 "missing DEVICE" "$ctl" info
expect 2 "unknown command 'frobnicate'" "$ctl" frobnicate
expect 2 "usage:" "$ctl"
expect 2 "unexpected argument" "$ctl" list extra

for c in "" list info; do
	"$ctl" $c --help | grep -q '^usage: pgdaxctl' || fail "pgdaxctl $c --help"
	ok
done
"$ctl" help info | grep -q '^usage: pgdaxctl info' || fail "pgdaxctl help info"
"$ctl" --version | grep -Eq '^pgdaxctl [0-9]+\.[0-9]+\.[0-9]+' || fail "--version"
ok
echo "$pass passed, 0 failed"
