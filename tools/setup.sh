#!/usr/bin/env bash
# Installs every Debian package that layersift's build and tests need; with --bench, also what
# the benchmark suite (bench/run.sh) needs. Idempotent: packages already present are left alone,
# so a second run costs one dpkg query.
#   bash tools/setup.sh           build and tests
#   bash tools/setup.sh --bench   build, tests and the benchmark suite
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libre2-dev libzstd-dev zlib1g-dev libisal-dev libarchive-dev libtbb-dev
  libvectorscan-dev libcurl4-openssl-dev libssl-dev libtinyxml2-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # tools used by the tests, the corpus generator and the benchmark
  isal zstd gzip tar python3 time
  # the report-format tests validate SARIF output against the shipped schema
  python3-jsonschema
  # the SigV4 tests compare with botocore's signer; the fake AWS self-test uses botocore as a client
  python3-botocore
  # the README examples test parses the Kubernetes manifests
  python3-yaml
  # the registry tests: a real registry, skopeo to push to it, htpasswd for Basic auth, openssl
  # to sign the test token server's tokens, curl for the fixtures' self-test
  docker-registry skopeo apache2-utils openssl curl
  # `rules export --format rg` is tested with ripgrep itself
  ripgrep
)
case "${1:-}" in
  "") ;;
  --bench)
    # The benchmark suite: debootstrap builds its Debian image, npm installs the node
    # application layer and secretlint, perf profiles the rows. A machine that already has a
    # Node.js with npm from elsewhere (NodeSource) keeps it: Debian's npm would conflict.
    packages+=(debootstrap linux-perf)
    if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi ;;
  *) echo "usage: bash tools/setup.sh [--bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
