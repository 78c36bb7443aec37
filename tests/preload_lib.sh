# SPDX-License-Identifier: MIT
# Helpers for the transparent DAX scripts (on top of tests/lib.sh).
#   pdx PROGRAM [ARGS...]   run PROGRAM under the build tree's pgdax-exec
PROBE=${PROBE:-$top_builddir/tests/preload_probe}
PGDAX_EXEC=${PGDAX_EXEC:-$top_builddir/tools/pgdax-exec}
PGDAX_PRELOAD_LIB=${PGDAX_PRELOAD_LIB:-$top_builddir/lib/.libs/libpgdax-preload.so}
export PGDAX_PRELOAD_LIB

pdx() {
	LD_LIBRARY_PATH="$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
		"$PGDAX_EXEC" "$@"
}

# MNT -> the pins the mount holds now (pgdaxctl status --json)
pin_count() {
	"$PGDAXCTL" status "$1" --json | sed -n 's/^ *"pins": \([0-9]*\),$/\1/p'
}
