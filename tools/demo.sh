#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds layersift, generates the demo image (an OCI layout
# with planted, freshly generated fake secrets) and scans it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh build
python3 corpus/generate.py build/corpus >/dev/null
echo
echo "== layersift scan oci:build/corpus/oci-demo:demo oci:build/corpus/oci-semantics:semantics"
set +e
# The second image shows the image semantics: secrets in the config and history, files removed
# by later layers, archives inside layers, and a zip bomb that is skipped.
./build/layersift scan --stats oci:build/corpus/oci-demo:demo oci:build/corpus/oci-semantics:semantics
code=$?
set -e
# Exit code 1 means "findings", which is what the demo is for.
if [ "$code" -eq 1 ]; then exit 0; fi
exit "$code"
