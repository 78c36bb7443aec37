#!/bin/bash
# make install puts a manual page in place for every program and for the
# library and each of its call groups (every public function has a page by
# its name, a link where one page documents several); every page is clean
# under `mandoc -T lint -W warning` (and groff's warnings through man(1)),
# and every option a program's --help lists appears in its page, so the
# two cannot drift apart: pgdaxfs's -o options, each pgdaxctl command's
# options, the mount helpers' flags.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/install_lib.sh"
pgdax_init
command -v mandoc >/dev/null || fail "mandoc not installed (tools/install-deps.sh)"
pgdax_install

man8=(mkfs.pgdaxfs fsck.pgdaxfs pgdaxfs mount.pgdaxfs mount.fuse.pgdaxfs umount.fuse.pgdaxfs
      pgdaxctl)
# every function of the library's version script
man3=(libpgdax $(sed -n 's/^[[:space:]]*\(pgdax_[a-z_]*\);$/\1/p' "$top_srcdir/lib/client/libpgdax.sym"))
[ ${#man3[@]} -gt 10 ] || fail "no functions read from libpgdax.sym"

lint() { # PAGE-FILE
	local out
	out=$(mandoc -T lint -W warning "$1" 2>&1) || fail "mandoc -T lint $1: $out"
	[ -z "$out" ] || fail "mandoc -T lint $1: $out"
	if command -v man >/dev/null; then
		out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null)
		[ -z "$out" ] || fail "man --warnings $1: $out"
	fi
}
render() { # PAGE-FILE: its text (each page rendered once)
	local r
	r=$PGDAX_WORK/render.$(realpath "$1" | tr / _)
	[ -f "$r" ] || mandoc -T utf8 "$1" | col -b >"$r"
	cat "$r"
}

declare -A pages=()	# each page file once (links lead to the same one)
for p in "${man8[@]}"; do
	f=$(pgdax_installed "$p.8")
	[[ $f == */man8/$p.8 ]] || fail "$p.8 installed as $f"
	[ -e "$f" ] || fail "$f is a dangling link"
	pages[$(realpath "$f")]=1
done
for p in "${man3[@]}"; do
	f=$(pgdax_installed "$p.3")
	[[ $f == */man3/$p.3 ]] || fail "$p.3 installed as $f"
	[ -e "$f" ] || fail "$f is a dangling link"
	pages[$(realpath "$f")]=1
	# the page (or the page the link leads to) names the function
	[ "$p" = libpgdax ] || render "$f" | grep -q "\b$p\b" || fail "$f does not document $p"
done
f=$(pgdax_installed pgdax-exec.1)
[[ $f == */man1/pgdax-exec.1 ]] || fail "pgdax-exec.1 installed as $f"
pages[$(realpath "$f")]=1
for f in "${!pages[@]}"; do lint "$f"; done
log "pages installed and lint clean: ${man8[*]} (8), ${#man3[@]} in section 3"

# Options of a --help text: every -x / --long-name it mentions.
help_opts() { grep -oE '(^|[^[:alnum:]_-])--?[[:alpha:]][[:alnum:]-]*' | sed 's/^[^-]*//' | sort -u; }
covers() { # PAGE-NAME WHAT: options on stdin all appear in the rendered page
	local page=$1 what=$2 text o missing=
	text=$(render "$(pgdax_installed "$page")")
	while read -r o; do
		[ -n "$o" ] || continue
		grep -qF -- "$o" <<<"$text" || missing="$missing $o"
	done
	[ -z "$missing" ] || fail "$page does not document$missing (from $what)"
}
prog() { pgdax_installed "$1"; }
for p in mkfs.pgdaxfs fsck.pgdaxfs pgdaxfs mount.pgdaxfs umount.fuse.pgdaxfs pgdaxctl; do
	"$(prog "$p")" --help 2>&1 | help_opts | covers "$p.8" "$p --help"
done
"$(prog pgdax-exec)" --help 2>&1 | help_opts | covers pgdax-exec.1 "pgdax-exec --help"
ctl=$(prog pgdaxctl)
for c in $("$ctl" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	"$ctl" "$c" --help | help_opts | covers pgdaxctl.8 "pgdaxctl $c --help"
	render "$(pgdax_installed pgdaxctl.8)" | grep -q "^ *$c\b" || fail "pgdaxctl.8 has no entry for $c"
done
# pgdaxfs -o options: every name in the option column (up to the first gap
# of two spaces) of each entry after "Options (-o):"
"$(prog pgdaxfs)" --help | awk '/^Options \(-o\):/ { on = 1; next } on' |
	sed -n 's/^  \([a-z][^ ]*\( [^ ][^ ]*\)*\).*/\1/p' | grep -oE '[a-z_]+' | sort -u |
	covers pgdaxfs.8 "pgdaxfs --help (-o)"
log "every --help option appears in its page"
