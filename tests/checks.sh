# checks.sh - the counting of a shell test's checks, sourced by every tests/test_*.sh
# (SS_TEST_DIR is the tests directory; ctest sets it):
#
#   check DESCRIPTION 'SHELL CONDITION'   counts a pass, or a failure printed as FAIL: DESCRIPTION
#   checks_done                           prints the counts; its status is 0 when nothing failed
fails=0; passes=0
check() { if eval "$2"; then passes=$((passes+1)); else fails=$((fails+1)); echo "FAIL: $1"; fi; }
checks_done() {
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
}
