#!/bin/bash
# On real devdax hardware: pgdaxctl list shows the device, and it opens by
# path, by dax name and (when it has one) by namespace name as a devdax with
# a 4K/2M/1G alignment. Exit 77 (skipped) on machines without /dev/dax*.
set -u
ctl=${top_builddir:-.}/tools/pgdaxctl
devs=(/dev/dax*)
if [ ! -e "${devs[0]}" ]; then
	echo "SKIP: no /dev/dax* on this machine (this test needs devdax hardware)"
	exit 77
fi
fail() { echo "FAIL: $*" >&2; exit 1; }
path=${devs[0]}
name=${path##*/}
"$ctl" list | grep -q "\"chardev\":\"$name\"" || fail "pgdaxctl list does not show $name"
for n in "$path" "$name"; do
	json=$("$ctl" info --json "$n") || fail "pgdaxctl info $n exited $?"
	[[ "$json" == *'"kind":"devdax"'* ]] || fail "$n is not reported as devdax: $json"
	[[ "$json" =~ \"align\":(4096|2097152|1073741824), ]] || fail "$n: odd alignment: $json"
done
ns=$(ndctl list -N 2>/dev/null | grep -B20 "\"chardev\":\"$name\"" | grep -o 'namespace[0-9]*\.[0-9]*' | tail -1)
if [ -n "$ns" ]; then
	"$ctl" info --json "$ns" | grep -q "\"path\":\"/dev/$name\"" || fail "$ns does not resolve to $path"
fi
echo "1 passed, 0 failed"
