#!/bin/bash
# The layers of lib/ stay layered: tools/check-layers.sh passes on this
# tree; on a copy with a violation in each of several files it names every
# one, at its file and line, and nothing else, however the include is
# written (angle brackets, a path through "..", through
# -I$(top_builddir), after a comment, split by a backslash-newline, in a
# subfolder of a layer, after an include guard made it a no-op), and a
# library source outside lib/'s layer folders; and it passes a copy whose
# only changes are allowed (a private header reached through an interface
# header, a subfolder naming its layer's header relatively). So the check
# cannot rot into one that passes everything, nor be fooled by how an
# include is spelled. It preprocesses with $CC (make check passes the
# build's).
set -uo pipefail
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
check=$top/tools/check-layers.sh
work=$(mktemp -d /tmp/pgdax-layers.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok: $*"; }
ko() { echo "FAIL: $*"; fails=$((fails + 1)); }
echo "# preprocessing with CC=${CC:-cc}"

if out=$(bash "$check" "$top"); then
	ok "this tree is layered"
else
	ko "this tree breaks the layering:"; echo "$out"
fi

# copy NAME FILE TEXT [FILE TEXT]...: a copy of the tree with TEXT added at
# the end of each FILE (created if new); prints its path.
copy() {
	local t=$work/$1
	shift
	mkdir -p "$t"
	cp -r "$top/lib" "$top/fs" "$top/tools" "$t/"
	while [ $# -ge 2 ]; do
		mkdir -p "$(dirname "$t/$1")"
		printf '%s\n' "$2" >>"$t/$1"
		shift 2
	done
	echo "$t"
}

# The violations, each in a file of its own so that none hides another, all
# in one copy (one run of the check, not one per case: it preprocesses the
# whole tree each time). Each must be reported at the line where its text
# ends: NAME FILE TEXT REASON (an extended regex).
cases=(
	# what the line-by-line check of before already caught
	volume_calls_up lib/vol/extmap.c '#include "pin/pin.h"'
	'includes lib/pin/pin.h \("pin/pin.h"\): lib/vol \(rank 3\) must not depend on lib/pin \(rank 4\)'
	pins_reach_volume_internals lib/pin/pin.h '#include "vol/vol_internal.h"'
	'includes lib/vol/vol_internal.h \("vol/vol_internal.h"\), which is private to lib/vol'
	daemon_reaches_core_internals fs/handles.c '#include "core/pgmap_internal.h"'
	'includes lib/core/pgmap_internal.h \("core/pgmap_internal.h"\), which is private to lib/core'
	bare_name_of_another_layer lib/core/folio.c '#include "dev.h"'
	'"dev.h" is not a header of lib/core'
	same_rank_sideways lib/fsck/fsck.c '#include "pin/pin.h"'
	'includes lib/pin/pin.h \("pin/pin.h"\): lib/fsck \(rank 4\) must not depend on lib/pin \(rank 4\)'
	file_outside_the_layers lib/stray.c '#include "vol/vol.h"'
	'^lib/stray.c: a source file outside every layer folder$'
	own_layer_through_the_include_path lib/vol/dir.c '#include "vol/vol_internal.h"'
	'includes lib/vol/vol_internal.h \("vol/vol_internal.h"\) through the include path'
	# what it let through, though each of these compiles
	angle_brackets lib/vol/data.c '#include <pin/pin.h>'
	'includes lib/pin/pin.h \(<pin/pin.h>\): lib/vol \(rank 3\) must not depend on lib/pin'
	up_and_across_with_dotdot lib/pin/pin.c '#include "../vol/vol_internal.h"'
	'includes lib/vol/vol_internal.h \("../vol/vol_internal.h"\), which is private to lib/vol'
	through_the_build_dir fs/ops.c '#include "lib/core/pgmap_internal.h"'
	'includes lib/core/pgmap_internal.h \("lib/core/pgmap_internal.h"\), which is private to lib/core'
	after_a_comment lib/vol/namei.c '/* x */ #include "pin/pin.h"'
	'includes lib/pin/pin.h \("pin/pin.h"\): lib/vol \(rank 3\) must not depend on lib/pin'
	split_by_backslash_newline lib/vol/attr.c $'#inc\\\nlude "pin/pin.h"'
	'includes lib/pin/pin.h: lib/vol \(rank 3\) must not depend on lib/pin'
	in_a_subfolder_of_a_layer lib/vol/sub/x.c '#include "pin/pin.h"'
	'includes lib/pin/pin.h \("pin/pin.h"\): lib/vol \(rank 3\) must not depend on lib/pin'
	library_source_outside_lib lib/vol/vol.am 'lib_libpgdax_core_la_SOURCES += fs/ops.c'
	'fs/ops.c in lib_libpgdax_core_la_SOURCES is not a file of a layer folder of lib/'
	# a header seen before through a file nobody checks (tests/helper.h
	# below): its include guard must not make the direct include invisible
	behind_an_include_guard fs/daemon.c $'#include "../tests/helper.h"\n#include "core/pgmap_internal.h"'
	'includes lib/core/pgmap_internal.h \("core/pgmap_internal.h"\), which is private to lib/core'
	# and what the compiler makes checkable now
	tool_reaches_dev_internals tools/pgdaxctl.c '#include <dev/dev_internal.h>'
	'includes lib/dev/dev_internal.h \(<dev/dev_internal.h>\), which is private to lib/dev'
	interface_only_in_tree_builds tools/mkfs_pgdaxfs.c '#include "lib/vol/vol.h"'
	'includes lib/vol/vol.h \("lib/vol/vol.h"\) through -I\$\(top_builddir\), which only in-tree builds have'
	library_reaches_the_daemon lib/util/util.c '#include "../../fs/fs.h"'
	'includes fs/fs.h \("../../fs/fs.h"\): lib/ must not depend on anything outside it'
)
args=(tests/helper.h '#include "core/pgmap_internal.h"')
for ((i = 0; i < ${#cases[@]}; i += 4)); do
	args+=("${cases[i + 1]}" "${cases[i + 2]}")
done
t=$(copy mutants "${args[@]}")
out=$(bash "$check" "$t")
rc=$?
[ "$rc" -eq 1 ] || ko "the check exits $rc on the mutants, not 1"
for ((i = 0; i < ${#cases[@]}; i += 4)); do
	name=${cases[i]} file=${cases[i + 1]} text=${cases[i + 2]} why=${cases[i + 3]}
	if [[ $why != ^* ]]; then
		n=$(wc -l <"$t/$file")	# the added text ends the file
		why="^$file:$n: $why"
	fi
	if line=$(grep -E -- "$why" <<<"$out"); then
		ok "$name: detected ($line)"
	else
		ko "$name: not detected as /$why/"
	fi
done
# ...and nothing else was: every message is one of the cases.
if [ "$(grep -c . <<<"$out")" -ne $((${#cases[@]} / 4)) ]; then
	ko "the check says more than the $((${#cases[@]} / 4)) violations:"
	echo "$out"
fi

# Allowed changes pass: only direct includes count (an interface header may
# include its folder's private header), and a subfolder is part of its layer.
t=$(copy allowed lib/core/pgmap.h '#include "pgmap_internal.h"' \
	lib/vol/sub/x.c $'#include "../vol_internal.h"\n#include "core/pgmap.h"' \
	fs/ops.c '#include <vol/vol.h>')
if out=$(bash "$check" "$t"); then
	ok "allowed changes: accepted"
else
	ko "allowed changes: refused:"; echo "$out"
fi

[ "$fails" -eq 0 ] || exit 1
