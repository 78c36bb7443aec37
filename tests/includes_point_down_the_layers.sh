#!/bin/bash
# The layers of lib/ stay layered: tools/check-layers.sh passes on this
# tree, and fails, naming the line, on copies of it with one violation each
# (a file including a header of a layer above its own, a private header of
# another layer, a private header from the daemon, a file at the top of
# lib/), so the check itself cannot rot into one that passes everything.
set -uo pipefail
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
check=$top/tools/check-layers.sh
work=$(mktemp -d /tmp/pgdax-layers.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok: $*"; }
ko() { echo "FAIL: $*"; fails=$((fails + 1)); }

if out=$(bash "$check" "$top"); then
	ok "this tree is layered"
else
	ko "this tree breaks the layering:"; echo "$out"
fi

# mutant NAME FILE LINE-TO-ADD EXPECTED-REASON-PATTERN
mutant() {
	local name=$1 file=$2 add=$3 want=$4 t=$work/$1 out
	mkdir -p "$t"
	cp -r "$top/lib" "$top/fs" "$top/tools" "$t/"
	if [ -n "$file" ]; then
		printf '%s\n' "$add" >>"$t/$file"
	else
		printf '#include "vol/vol.h"\n' >"$t/lib/stray.c"
	fi
	if out=$(bash "$check" "$t"); then
		ko "$name: not detected"
	elif grep -qE "$want" <<<"$out"; then
		ok "$name: detected ($(head -1 <<<"$out"))"
	else
		ko "$name: detected for another reason: $out"
	fi
}
mutant volume_calls_up lib/vol/data.c '#include "pin/pin.h"' \
	'lib/vol/data.c:[0-9]+: "pin/pin.h": lib/vol .* must not depend on lib/pin'
mutant pins_reach_volume_internals lib/pin/pin.c '#include "vol/vol_internal.h"' \
	'lib/pin/pin.c:[0-9]+: "vol/vol_internal.h" is private to lib/vol'
mutant daemon_reaches_core_internals fs/ops.c '#include "core/pgmap_internal.h"' \
	'fs/ops.c:[0-9]+: "core/pgmap_internal.h" is private to lib/core'
mutant bare_name_of_another_layer lib/core/folio.c '#include "dev.h"' \
	'lib/core/folio.c:[0-9]+: "dev.h" is not a header of lib/core'
mutant same_rank_sideways lib/fsck/fsck.c '#include "pin/pin.h"' \
	'lib/fsck/fsck.c:[0-9]+: "pin/pin.h": lib/fsck .* must not depend on lib/pin'
mutant file_outside_the_layers "" "" 'lib/stray.c: a source file outside every layer folder'

[ "$fails" -eq 0 ] || exit 1
