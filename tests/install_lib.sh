# SPDX-License-Identifier: MIT
# For scripts that check what `make install` puts in place: source after
# tests/lib.sh and pgdax_init, then
#   pgdax_install                   # make install DESTDIR=$PGDAX_WORK/destdir
#   p=$(pgdax_installed mkfs.pgdaxfs)   # path of an installed file, by name
# The install is of this build tree, into the script's work directory (the
# EXIT trap removes it); nothing is installed on the machine.

pgdax_install() {
	INST=$PGDAX_WORK/destdir
	make -s -C "$top_builddir" install DESTDIR="$INST" >"$PGDAX_WORK/install.log" 2>&1 || {
		cat "$PGDAX_WORK/install.log" >&2
		fail "make install DESTDIR=$INST failed"
	}
}

# NAME -> the installed file or link of that name (fails when there is none)
pgdax_installed() {
	local f
	f=$(find "$INST" -name "$1" \( -type f -o -type l \) | head -n1)
	[ -n "$f" ] || fail "make install did not install $1"
	echo "$f"
}

# The package version (configure's AC_INIT), as the programs must print it.
pgdax_package_version() {
	sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h"
}
