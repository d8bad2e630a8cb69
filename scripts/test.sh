#!/usr/bin/env bash
# test.sh: the README's second command. Installs what is missing, builds
# sealpost twice (release with warnings as errors, then ASan+UBSan) and runs
# every test through ctest in both builds.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

run_build() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DSEALPOST_WERROR=ON "$@"
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 300)
}

echo "== release build (-Werror) =="
run_build build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "== sanitizer build (ASan + UBSan) =="
run_build build/asan -DCMAKE_BUILD_TYPE=Debug -DSEALPOST_SANITIZE=ON
