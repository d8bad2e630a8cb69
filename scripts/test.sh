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

# libFuzzer smoke run: every harness in tests/fuzz/ for 15 s from the seeds
# its replay tool writes (the corpus under build/fuzz/corpus grows across
# runs). Any crash, leak, timeout or failed property fails the script; the
# reproducer lands in build/fuzz/artifacts/ (replay it with
# build/release/tests/fuzz/fuzz_<name>_replay FILE).
echo "== libFuzzer smoke run =="
fuzzers=(wire encoding seal config api)
CC=clang cmake -S . -B build/fuzz -DSEALPOST_FUZZ=ON -DSEALPOST_TESTS=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build/fuzz -j "$jobs" --target "${fuzzers[@]/#/fuzz_}"
mkdir -p build/fuzz/artifacts
for f in "${fuzzers[@]}"; do
  corpus=build/fuzz/corpus/$f
  mkdir -p "$corpus"
  build/release/tests/fuzz/fuzz_${f}_replay --write-seeds "$corpus" >/dev/null 2>&1
  extra=()
  # config_load_file reports each rejected file on stderr: keep libFuzzer's
  # own output and sanitizer reports, drop the target's.
  [[ $f == config ]] && extra=(-close_fd_mask=2)
  log=build/fuzz/artifacts/$f.log
  if ! build/fuzz/tests/fuzz/fuzz_$f -max_total_time=15 -rss_limit_mb=2048 -timeout=30 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$f-" "${extra[@]}" \
      "$corpus" >"$log" 2>&1; then
    grep -v '^sealpost\[' "$log" | tail -n 80
    echo "fuzz_$f FAILED (log: $log)"
    exit 1
  fi
  echo "fuzz_$f: $(grep -E '^#[0-9]+\s+DONE' "$log" | tail -n 1)"
done
