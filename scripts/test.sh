#!/usr/bin/env bash
# The test command: install dependencies, build, run every test (ctest); then the same
# unit and command-line tests under ASan and UBSan and a short run of every fuzz target
# (scripts/test-sanitize.sh). Arguments go to ctest and run the first stage only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" -DSPECSWEEP_WERROR=ON
cd "$root/build"
ctest --output-on-failure --timeout 900 "$@"
if [ $# -eq 0 ]; then
  "$root/scripts/test-sanitize.sh"
fi
