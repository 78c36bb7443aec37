#!/bin/bash
# Configure (once) and build out of tree, in build/ (or $PGDAX_BUILD_DIR),
# with warnings as errors. Out of tree so that `make check-asan` and
# `make check-tsan` can configure their own trees from the same sources.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PGDAX_BUILD_DIR:-$top/build}
cd "$top"
if [ -f config.status ]; then
	# an in-tree configuration blocks every out-of-tree one
	make -s distclean >/dev/null 2>&1 || rm -f config.status
fi
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	./autogen.sh >/dev/null 2>&1 || ./autogen.sh
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
	"$top/configure" --enable-werror -q
fi
make -j"$(nproc)" -s
