#!/bin/bash
# check-layers.sh [TOP]: the layering of lib/ holds in the tree at TOP.
#
# lib/ has one folder per layer; this is the order, bottom first, and the
# headers each layer offers to the layers above (its interface). Everything
# else in a folder is private to it.
#   rank layer   interface
#   0    util    log.h util.h
#   1    dev     dev.h
#   2    core    pgmap.h alloc.h
#   3    vol     vol.h format.h mkfs.h
#   4    pin     pin.h pgdax_ioctl.h
#   4    fsck    fsck.h
#   5    client  pgdax.h
# Rules, for every #include "..." line:
#   - in lib/L/: a bare name must be a header of L itself; "M/x.h" needs M
#     of a lower rank than L and x.h in M's interface (dependencies point
#     down only; what a layer's files share stays in its folder);
#   - in fs/ and tools/ (the top): "M/x.h" must be in M's interface;
#   - tests/, bench/ and fuzz/ may include anything (they test internals).
# Prints each violation as FILE:LINE: reason, and exits 1 if there is any.
set -uo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
declare -A rank=([util]=0 [dev]=1 [core]=2 [vol]=3 [pin]=4 [fsck]=4 [client]=5)
declare -A iface=(
	[util]="log.h util.h" [dev]="dev.h" [core]="pgmap.h alloc.h"
	[vol]="vol.h format.h mkfs.h" [pin]="pin.h pgdax_ioctl.h"
	[fsck]="fsck.h" [client]="pgdax.h")
bad=0
fail() { echo "$1: $2"; bad=1; }
in_iface() { [[ " ${iface[$1]} " == *" $2 "* ]]; }

# Every folder of lib/ must be a known layer, so a new one gets a rank.
for d in "$top"/lib/*/; do
	l=$(basename "$d")
	[ -n "${rank[$l]+x}" ] || fail "lib/$l" "a folder that is not a known layer (add it to tools/check-layers.sh)"
done
# No source file left at the top of lib/.
for f in "$top"/lib/*.[ch]; do
	[ -e "$f" ] && fail "${f#$top/}" "a source file outside every layer folder"
done

check_file() { # file, own layer ("" for the top)
	local f=$1 own=$2 n=0 line inc m h
	while IFS= read -r line; do
		n=$((n + 1))
		[[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
		inc=${BASH_REMATCH[1]}
		[ "$inc" = config.h ] && continue
		if [[ $inc != */* ]]; then
			if [ -n "$own" ] && [ ! -e "$top/lib/$own/$inc" ]; then
				fail "${f#$top/}:$n" "\"$inc\" is not a header of lib/$own (name another layer's header by its folder)"
			fi
			continue
		fi
		m=${inc%%/*}; h=${inc#*/}
		[ -n "${rank[$m]+x}" ] || continue	# not a lib layer (e.g. linux/fuse.h)
		if [ -n "$own" ]; then
			if [ "$m" = "$own" ]; then
				fail "${f#$top/}:$n" "\"$inc\": include a header of the same folder by its bare name"
				continue
			fi
			if [ "${rank[$m]}" -ge "${rank[$own]}" ]; then
				fail "${f#$top/}:$n" "\"$inc\": lib/$own (rank ${rank[$own]}) must not depend on lib/$m (rank ${rank[$m]}): dependencies point down"
				continue
			fi
		fi
		in_iface "$m" "$h" ||
			fail "${f#$top/}:$n" "\"$inc\" is private to lib/$m (its interface: ${iface[$m]})"
	done <"$f"
}

for d in "$top"/lib/*/; do
	l=$(basename "$d")
	for f in "$d"*.[ch]; do
		[ -e "$f" ] && check_file "$f" "$l"
	done
done
for f in "$top"/fs/*.[ch] "$top"/tools/*.[ch]; do
	[ -e "$f" ] && check_file "$f" ""
done
exit $bad
