#!/usr/bin/env bash
# The sanitizer and fuzzing stage of the tests (tests/fuzz/README.md): one clang build in
# build-san/ with AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer coverage;
# the unit and command-line tests run under the sanitizers, then every fuzz target runs
# for FUZZ_SECONDS (default 20) over its seed corpus. Any finding fails the stage.
# Needs the packages of scripts/setup.sh (clang, libclang-rt-14-dev).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${FUZZ_SECONDS:-20}"
CC=clang cmake -S "$root" -B "$root/build-san" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSPECSWEEP_FUZZ=ON -DSPECSWEEP_BENCH=OFF -DSPECSWEEP_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$root/build-san" -j"$(nproc)"
cd "$root/build-san"
ctest --output-on-failure --timeout 900 \
      -R '^(test_util|test_config|test_grid|test_data|test_synth|test_net|test_log|test_snapshot|test_cli|fuzz_.*)$'
