#!/bin/bash
# Configure (once) and build out of tree, in build/ (or $PGDAX_BUILD_DIR),
# with warnings as errors. Out of tree so that `make check-asan` and
# `make check-tsan` can configure their own trees from the same sources.
# configure picks libfuse 3.18 from /opt/pgdaxfs/libfuse-3.18 when
# tools/install-libfuse318.sh put it there, else the system's 3.14; extra
# configure flags come from $PGDAX_CONFIGURE_FLAGS (CI builds the 3.14
# variant with --without-libfuse in build-fuse314/).
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
	# shellcheck disable=SC2086 # flags, split on purpose
	"$top/configure" --enable-werror -q ${PGDAX_CONFIGURE_FLAGS:-}
	sed -n 's/^configure:[0-9]*: \(libfuse .*\)/build.sh: \1/p' config.log
fi
make -j"$(nproc)" -s
