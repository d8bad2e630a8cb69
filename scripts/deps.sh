#!/usr/bin/env bash
# deps.sh: the one place that lists sealpost's Debian 12 packages and installs
# whichever are missing. Used by the README's commands and by .ci/run.
#
#   scripts/deps.sh            install what is missing (needs root)
#   scripts/deps.sh --list     print the package list and exit
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries sealpost links against
  libsignal-protocol-c-dev libssl-dev libmicrohttpd-dev libsqlite3-dev
  libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libinih-dev
  # tests
  check libsubunit-dev
  # development certificate, CA bundle, command-line tools used by scripts
  openssl ca-certificates sqlite3 procps
)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root (or: sudo $0) to install them" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
