#!/usr/bin/env bash
# Installs the Debian packages MHR chain needs, only those missing.
# Idempotent: a machine that has everything is left untouched (no apt-get update).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang-format
  libzmq3-dev cppzmq-dev        # ZeroMQ runtime: sockets, CURVE
  liblmdb-dev lmdb-utils        # durable store
  libcrypto++-dev               # SHA-256, Ed25519, AES-GCM, X25519, HKDF
  libyaml-cpp-dev               # scenario and node configuration
  doctest-dev                   # unit tests
  nlohmann-json3-dev            # summary.json, reports, FHIR
  libcpp-httplib-dev            # the FHIR gateway's HTTP(S) server in edge_node
  curl openssl                  # FHIR process tests: requests, a self-signed TLS certificate
  libcli11-dev                  # the mhr command line
  libabsl-dev                   # B-tree maps for the simulator's in-memory stores
  iproute2                      # mhr launch --netns
  clang-14 libclang-rt-14-dev   # libFuzzer targets (tests/fuzz/run.sh)
  ccache                        # rebuilds of sanitizer, fuzz and clean trees reuse objects
)
[ -n "${MHR_EXTRA_PACKAGES:-}" ] && read -r -a extra <<<"$MHR_EXTRA_PACKAGES" && PACKAGES+=("${extra[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: missing packages and no root or sudo; please install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
