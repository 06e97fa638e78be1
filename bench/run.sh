#!/usr/bin/env bash
# layersift's benchmark suite, in one command: builds the corpus on first use (a debootstrap
# Debian image with build tools, a node application and planted secrets; a worst-case layer; a
# 2 GB layer), installs the peers (secretlint) into the cache, measures every row in one run and
# writes bench/results/DATE-HOST.md. See bench/README.md.
#
#   bash bench/run.sh [--runs N] [--build DIR] [--cache DIR] [--results DIR] [--no-perf]
#
# Needs root the first time (debootstrap), and the packages `bash tools/setup.sh --bench` installs.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec python3 "$repo_root/bench/suite.py" "$@"
