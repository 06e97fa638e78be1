#!/usr/bin/env bash
# Configures and builds layersift. Usage: tools/build.sh [BUILD_DIR] [extra cmake -D options...]
# Default BUILD_DIR is build/ (Release).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
