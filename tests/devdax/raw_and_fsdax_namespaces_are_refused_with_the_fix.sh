#!/bin/bash
# SPDX-License-Identifier: MIT
# A namespace that is not devdax (raw: /dev/pmem0 with no dax device; fsdax:
# a block device) is refused by every tool that is given its namespace name,
# and the message says how to fix it (ndctl create-namespace ... -m devdax).
# The namespace is made devdax again at the end (and on failure).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
pgdax_init
pgdax_on_exit "[ -c '$DAX' ] || dax_ns devdax"
mnt=$(pgdax_new_dir mnt)
for mode in raw fsdax; do
	dax_ns "$mode"
	[ ! -e "$DAX" ] || fail "$DAX still there in $mode mode"
	for tool in "$MKFS" "$FSCK -n" "$PGDAXCTL info" "$PGDAXFS --mnt"; do
		if [ "$tool" = "$PGDAXFS --mnt" ]; then
			cmd=("$PGDAXFS" "$DAX_NS" "$mnt" -f)
		else
			read -ra cmd <<<"$tool"
			cmd+=("$DAX_NS")
		fi
		if out=$(timeout 30 "${cmd[@]}" 2>&1); then
			pgdax_is_mounted "$mnt" && umount "$mnt"
			fail "${cmd[*]} accepted a $mode namespace: $out"
		fi
		grep -q "create-namespace" <<<"$out" && grep -q "devdax" <<<"$out" ||
			fail "${cmd[*]} on a $mode namespace: no fix in the message: $out"
		log "$mode: ${cmd[0]##*/}: refused: $(head -n1 <<<"$out")"
	done
	! pgdax_is_mounted "$mnt" || fail "a $mode namespace got mounted"
done
dax_ns devdax
echo "1 passed, 0 failed"
