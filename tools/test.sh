#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds layersift and its tests, and runs the whole suite
# through ctest.
#   tools/test.sh           Release build in build/
#   tools/test.sh --asan    AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
#   tools/test.sh --tsan    ThreadSanitizer build in build-tsan/
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-release}
bash tools/setup.sh
case "$mode" in
  release|"") build_dir=build; options=() ;;
  --asan) build_dir=build-asan; options=(-DLAYERSIFT_ASAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  --tsan) build_dir=build-tsan; options=(-DLAYERSIFT_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  *) echo "usage: tools/test.sh [--asan|--tsan]" >&2; exit 2 ;;
esac
bash tools/build.sh "$build_dir" "${options[@]}"
cd "$build_dir"
ctest --output-on-failure -j "$(nproc)" --timeout 900
