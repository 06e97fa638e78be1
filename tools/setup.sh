#!/usr/bin/env bash
# Installs every Debian package that layersift's build, tests and benchmarks need.
# Idempotent: packages already present are left alone, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libre2-dev libzstd-dev zlib1g-dev libisal-dev libarchive-dev libtbb-dev
  libvectorscan-dev libcurl4-openssl-dev libssl-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # tools used by the tests, the corpus generator and the benchmark
  isal zstd gzip tar python3 time
  # the report-format tests validate SARIF output against the shipped schema
  python3-jsonschema
  # the registry tests: a real registry, skopeo to push to it, htpasswd for Basic auth, openssl
  # to sign the test token server's tokens, curl for the fixtures' self-test
  docker-registry skopeo apache2-utils openssl curl
)

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
