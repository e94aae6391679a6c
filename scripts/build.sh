#!/bin/sh
# The one way the server is built: a static binary with no cgo, paths
# trimmed and symbols stripped. The Dockerfile and every test script call
# this, so what the scripts test is what the image ships.
#
#   scripts/build.sh OUTPUT
set -eu
cd "$(dirname "$0")/.."
CGO_ENABLED=0 exec go build -trimpath -ldflags='-s -w' -o "$1" .
