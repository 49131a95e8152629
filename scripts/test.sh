#!/usr/bin/env bash
# The test command: install dependencies, build, run every test (ctest).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" -DSPECSWEEP_WERROR=ON
cd "$root/build"
ctest --output-on-failure --timeout 900 "$@"
