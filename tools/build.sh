#!/bin/bash
# Configure (once) and build the tree in place with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	./autogen.sh >/dev/null 2>&1 || ./autogen.sh
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
	./configure --enable-werror -q
fi
make -j"$(nproc)" -s
