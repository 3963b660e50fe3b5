#!/bin/sh
# Install buf (the reference WIRE_JSON checker that tests/test_schema_buf.py compares
# gicmig with) into a cache folder outside the repository; print the binary's path.
#   usage: tools/install-buf.sh [CACHE_DIR]      (default: ${XDG_CACHE_HOME:-~/.cache}/gicmig-buf)
# The npm package @bufbuild/buf ships the prebuilt binary; the version is pinned so that
# every CI run compares against the same rules.
set -eu
VERSION=1.75.0
CACHE=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/gicmig-buf}
BIN="$CACHE/node_modules/.bin/buf"
if [ -x "$BIN" ] && [ "$("$BIN" --version 2>/dev/null)" = "$VERSION" ]; then
    echo "$BIN"
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "install-buf: npm is not installed" >&2; exit 2; }
mkdir -p "$CACHE"
npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "@bufbuild/buf@$VERSION" >&2
"$BIN" --version >/dev/null
echo "$BIN"
