#!/bin/bash
# check-layers.sh [TOP]: the layering of lib/ holds in the tree at TOP.
#
# lib/ has one folder per layer; this is the order, bottom first, and the
# headers each layer offers to the layers above (its interface). Everything
# else in a folder (and everything in its subfolders) is private to it.
#   rank layer   interface
#   0    util    log.h util.h
#   1    dev     dev.h
#   2    core    pgmap.h alloc.h
#   3    vol     vol.h format.h mkfs.h
#   4    pin     pin.h pgdax_ioctl.h
#   4    fsck    fsck.h
#   5    client  pgdax.h
#   6    preload (none: libpgdax-preload.so, loaded with LD_PRELOAD, offers
#                 no header; it uses the client's public API only)
# Rules, for every header a file includes directly (not what those headers
# include in turn: each of them is checked as a file of its own):
#   - in lib/L/ (or a subfolder of it): a header of L itself is named
#     relative to the file ("x.h", "../x.h"), not through the include path
#     ("L/x.h"); a header of another layer M needs M of a lower rank than L
#     and the header in M's interface (dependencies point down only; what a
#     layer's files share stays in its folder); nothing outside lib/;
#   - in fs/ and tools/ (the top): a header of lib/M must be in M's
#     interface;
#   - in lib/, fs/ and tools/: a header of lib/ is named through
#     -I$(top_srcdir)/lib ("M/x.h"), never through -I$(top_builddir)
#     ("lib/M/x.h" resolves only in in-tree builds);
#   - tests/, bench/ and fuzz/ may include anything (they test internals):
#     they are not checked.
# Also: every folder of lib/ is a known layer, no source file sits at the
# top of lib/, and the library's sources (lib_libpgdax_core_la_SOURCES and
# lib_libpgdax_la_SOURCES, in any *.am) all lie in a layer folder.
#
# The compiler, not a pattern, finds the includes: every .c and .h under
# lib/, fs/ and tools/ (subfolders too) is run through `$CC -E` (CC from the
# environment, else cc) with the build's include path (-I lib, -I top: an
# in-tree build) and the line markers of its output say which file each
# direct include opened and on which line it ended. So angle brackets,
# "../x/y.h", comments before the #, backslash-newlines and macros resolve
# exactly as in the build. It runs on a scratch copy of the tree in which
# every file ends with a token outside its include guard, so that a guard
# (or the compiler's multiple-include optimisation) cannot hide a second
# include of a header; config.h is $top_builddir/config.h if there is one,
# else empty. A header the compiler cannot find is reported when it names
# a file of the tree ("dev.h" from lib/core/); otherwise it is a system
# header missing here (e.g. fuse3's, found by the build through
# FUSE_CFLAGS) and an empty stand-in is used. Any other preprocessor error
# in a file of the tree (#include of an undefined macro, say) is reported:
# what cannot be preprocessed cannot be checked. KEEP=1 keeps the scratch
# directory (its path: check-layers.* under $TMPDIR or /tmp).
# What it cannot see: includes under a condition false in this
# configuration (#if on a macro of a missing system header, for one).
#
# Prints each violation as FILE:LINE: reason (FILE: reason when there is no
# line), and exits 1 if there is any, 2 if it could not run.
set -uo pipefail
top=$(cd "${1:-$(dirname "$0")/..}" && pwd -P) || exit 2
declare -A rank=([util]=0 [dev]=1 [core]=2 [vol]=3 [pin]=4 [fsck]=4 [client]=5 [preload]=6)
declare -A iface=(
	[util]="log.h util.h" [dev]="dev.h" [core]="pgmap.h alloc.h"
	[vol]="vol.h format.h mkfs.h" [pin]="pin.h pgdax_ioctl.h"
	[fsck]="fsck.h" [client]="pgdax.h" [preload]="")
in_iface() { [[ " ${iface[$1]} " == *" $2 "* ]]; }

read -ra cc <<<"${CC:-cc}"
command -v "${cc[0]}" >/dev/null || { echo "check-layers: no compiler ${cc[0]} (set CC)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/check-layers.XXXXXX") || exit 2
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
trap 'exit 2' INT TERM HUP PIPE	# through the EXIT trap
W=$(cd "$W" && pwd -P)
S=$W/src	# the scratch copy of the tree
mkdir -p "$S" "$W/stub" "$W/rec" "$W/err"
for d in lib fs tools tests bench fuzz; do
	[ -d "$top/$d" ] && cp -R "$top/$d" "$S/"
done
if [ -n "${top_builddir:-}" ] && [ -f "$top_builddir/config.h" ]; then
	cp "$top_builddir/config.h" "$S/config.h"
else
	: >"$S/config.h"
fi
# The build's -I$(top_srcdir)/lib and -I$(top_builddir), under names of
# their own so that the path of an opened header says how it was found.
ln -s "$S/lib" "$W/inc_lib"
ln -s "$S" "$W/inc_top"
(cd "$S" && find . -type f -o -type l) | sed 's|^\./||' >"$W/files"
# A token after the include guard: every #include enters its file again.
while IFS= read -r f; do
	[ -f "$S/$f" ] && [ ! -L "$S/$f" ] && printf '\n\npgdax_check_layers_entered\n' >>"$S/$f"
done <"$W/files"

# pp_file REL: preprocess one file of the copy; write one record per line
# to $W/rec: I FILE LINE OPENED (a direct include and the path the compiler
# opened), U FILE LINE NAME (a header of the tree it could not find),
# X FILE LINE MESSAGE (an error in a file of the tree).
pp_file() {
	local rel=$1 src=$S/$1 rec err try line where f l fatal name msg missing
	local -a cc
	read -ra cc <<<"$CCV"
	rec=$W/rec/${rel//\//__} err=$W/err/${rel//\//__}
	for ((try = 0; try < 50; try++)); do
		"${cc[@]}" -E -x c -std=gnu11 -I"$W/inc_lib" -I"$W/inc_top" \
			-idirafter "$W/stub" "$src" 2>"$err" |
			awk -v main="$src" -v rel="$rel" '
			/^# [0-9]+ "/ {
				n = $2; s = substr($0, index($0, "\"") + 1)
				match(s, /"[ 0-9]*$/)
				name = substr(s, 1, RSTART - 1)
				split(substr(s, RSTART + 1), fl, " ")
				if (fl[1] == "1") {
					if (d == 0) pend = (cur[0] == main && name !~ /^</) ? name : ""
					cur[++d] = name
				} else if (fl[1] == "2") {
					if (d > 0) d--
					cur[d] = name
					if (d == 0 && pend != "" && name == main) {
						printf "I\t%s\t%d\t%s\n", rel, n - 1, pend
						pend = ""
					}
				} else
					cur[d] = name
				if (name == main) seen = 1
			}
			END { if (!seen) printf "X\t%s\t0\tthe preprocessor produced nothing\n", rel }' >"$rec"
		missing=
		while IFS= read -r line; do
			[[ $line =~ ^(.+):([0-9]+):[0-9]+:\ (fatal\ )?error:\ (.*)$ ]] || continue
			where=${BASH_REMATCH[1]} l=${BASH_REMATCH[2]} fatal=${BASH_REMATCH[3]} msg=${BASH_REMATCH[4]}
			f=$(realpath -m -- "$where")
			case $f in "$S"/*) f=${f#"$S"/} ;; *) f= ;; esac	# "": not ours
			if [[ $msg =~ ^(.+):\ No\ such\ file\ or\ directory$ || $msg =~ ^\'(.+)\'\ file\ not\ found ]]; then
				name=${BASH_REMATCH[1]}
				if [ -n "$f" ] && is_tree_name "$name"; then
					printf 'U\t%s\t%s\t%s\n' "$f" "$l" "$name" >>"$rec"
				else
					missing=$name
				fi
			elif [ -n "$f" ]; then
				printf 'X\t%s\t%s\t%s\n' "$f" "$l" "$msg" >>"$rec"
			elif [ -n "$fatal" ]; then	# it stopped in a system header
				printf 'X\t%s\t0\tthe preprocessor stops in %s: %s\n' "$rel" "$where" "$msg" >>"$rec"
			fi
		done <"$err"
		[ -n "$missing" ] || return 0
		# A system header not installed here: an empty one stands in.
		if [[ $missing == /* || $missing == *..* ]]; then
			printf 'X\t%s\t0\t"%s" is missing\n' "$rel" "$missing" >>"$rec"
			return 0
		fi
		mkdir -p "$(dirname "$W/stub/$missing")" &&
			printf 'pgdax_check_layers_entered\n' >"$err.stub" &&
			mv -f "$err.stub" "$W/stub/$missing"
	done
	printf 'X\t%s\t0\tstill missing headers after 50 stand-ins\n' "$rel" >>"$rec"
}
# is_tree_name NAME: the missing NAME would be a file of this tree: it goes
# up (..), is absolute, starts with a layer's folder or ends like a file of
# the tree ("dev.h" is lib/dev/dev.h named from the wrong folder).
is_tree_name() {
	[[ $1 == /* || $1 == *..* || " $LAYERS " == *" ${1%%/*} "* ]] && return 0
	awk -v n="$1" '$0 == n || substr($0, length($0) - length(n)) == "/" n { f = 1; exit } END { exit !f }' "$W/files"
}
export -f pp_file is_tree_name
export S W CCV="${CC:-cc}" LAYERS="${!rank[*]}"

bad=0
fail() { echo "${1%:0}: $2"; bad=1; }	# FILE:0 is FILE: no line
# spelled FILE LINE: how the include on that line names its header, if it
# is written on one line.
spelled() {
	local s
	s=$(sed -n "${2}p" "$top/$1" 2>/dev/null)
	[[ $s =~ include[[:space:]]*([\"\<][^\"\>]*[\"\>]) ]] && printf ' (%s)' "${BASH_REMATCH[1]}"
}

# Every folder of lib/ must be a known layer, so a new one gets a rank.
for d in "$top"/lib/*/; do
	l=$(basename "$d")
	[ -n "${rank[$l]+x}" ] || fail "lib/$l" "a folder that is not a known layer (add it to tools/check-layers.sh)"
done
# No source file left at the top of lib/.
for f in "$top"/lib/*.[ch]; do
	[ -e "$f" ] && fail "${f#"$top"/}" "a source file outside every layer folder"
done
# The library is built from the layer folders only.
while IFS= read -r am; do
	awk -v file="${am#"$top"/}" -v layers="${!rank[*]}" '
	BEGIN { split(layers, a, " "); for (i in a) known[a[i]] = 1 }
	{
		if (!cont) { start = FNR; text = "" }
		line = $0; cont = sub(/\\$/, "", line)
		text = text " " line
		if (cont) next
		sub(/#.*/, "", text)
		if (text !~ /^[ \t]*(dist_|nodist_|EXTRA_)?lib_libpgdax(_core)?_la_SOURCES[ \t]*\+?=/) next
		var = text; sub(/^[ \t]*/, "", var); sub(/[ \t+]*=.*/, "", var)
		sub(/^[^=]*=/, "", text)
		n = split(text, w, /[ \t]+/)
		for (i = 1; i <= n; i++) {
			if (w[i] == "") continue
			split(w[i], p, "/")
			if (w[i] !~ /^lib\/[^\/]+\/[^$]+$/ || !(p[2] in known) || w[i] ~ /(^|\/)\.\.?(\/|$)/)
				printf "%s:%d: %s in %s is not a file of a layer folder of lib/\n", file, start, w[i], var
		}
	}' "$am"
done < <(find "$top/Makefile.am" "$top/lib" "$top/fs" "$top/tools" "$top/tests" "$top/bench" \
	-name '*.am' -type f 2>/dev/null) >"$W/am"
if [ -s "$W/am" ]; then cat "$W/am"; bad=1; fi

# Preprocess every file, one at a time per core.
grep -E '^(lib/[^/]+/|fs/|tools/).*\.[ch]$' "$W/files" |
	xargs -d '\n' -r -n 12 -P "$(nproc 2>/dev/null || echo 1)" \
		bash -c 'for f; do pp_file "$f"; done' _
cat "$W"/rec/* 2>/dev/null | grep -a -v '^$' >"$W/all" || :

# The physical path of every opened header, in one call.
awk -F'\t' '$1 == "I" { print $4 }' "$W/all" | sort -u >"$W/opened"
mapfile -t o <"$W/opened"; : >"$W/real"
[ "${#o[@]}" -gt 0 ] && realpath -m -- "${o[@]}" >"$W/real"
mapfile -t r <"$W/real"
declare -A phys
for i in "${!o[@]}"; do phys[${o[$i]}]=${r[$i]:-}; done

# The rules, on every record (I: how the opened path was found: relative
# to the file, or through -I lib, or through -I top).
while IFS=$'\t' read -r kind f n what; do
	own=
	[[ $f =~ ^lib/([^/]+)/ ]] && own=${BASH_REMATCH[1]}
	[ -n "$own" ] && [ -z "${rank[$own]+x}" ] && continue	# an unknown folder: reported above
	case $kind in
	I) ;;
	X) fail "$f:$n" "the preprocessor fails here: $what"; continue ;;
	U)
		if [ -n "$own" ] && [[ $what != */* ]]; then
			fail "$f:$n" "\"$what\" is not a header of lib/$own (name another layer's header by its folder)"
		else
			fail "$f:$n" "\"$what\" is not found from ${f%/*}/ (with -I lib and -I top, as the build)"
		fi
		continue ;;
	*) continue ;;
	esac
	how=rel
	case $what in
	"$W"/inc_lib/*) how=lib ;;
	"$W"/inc_top/*) how=top ;;
	esac
	p=${phys[$what]:-}
	case $p in
	"$S"/*) r=${p#"$S"/} ;;
	"$top"/*) r=${p#"$top"/} ;;
	*) continue ;;	# a system header
	esac
	[ "$r" = config.h ] && continue
	why=
	if [[ $r =~ ^lib/([^/]+)/(.+)$ ]]; then
		m=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]}
		[ -n "${rank[$m]+x}" ] || continue	# an unknown folder: reported above
		if [ -n "$own" ] && [ "$m" = "$own" ]; then
			[ "$how" = rel ] ||
				why=" through the include path: name a header of the file's own layer relative to the file (by its bare name)"
		elif [ -n "$own" ] && [ "${rank[$m]}" -ge "${rank[$own]}" ]; then
			why=": lib/$own (rank ${rank[$own]}) must not depend on lib/$m (rank ${rank[$m]}): dependencies point down"
		elif ! in_iface "$m" "$h"; then
			why=", which is private to lib/$m (its interface: ${iface[$m]})"
		elif [ "$how" = top ]; then
			why=" through -I\$(top_builddir), which only in-tree builds have: name it \"$m/$h\""
		fi
	elif [[ $r == lib/* ]]; then
		why=", which lies outside every layer folder"
	elif [ -n "$own" ]; then
		why=": lib/ must not depend on anything outside it"
	fi
	[ -z "$why" ] || fail "$f:$n" "includes $r$(spelled "$f" "$n")$why"
done < <(sort -t$'\t' -k2,2 -k3,3n -k1,1 -k4,4 -u "$W/all") >"$W/out"
[ -s "$W/out" ] && { cat "$W/out"; bad=1; }
exit $bad
