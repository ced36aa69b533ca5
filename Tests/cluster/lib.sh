# Shared helpers for cluster tests: assertions with a running tally, bounded waits.
# Each test script sources this, calls `check`/`wait_until`, and ends with `finish NAME`.
PASSED=0
FAILED=0

ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }

# check DESCRIPTION CMD...: passes when CMD succeeds.
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 100 ms; passes when it succeeds in time.
wait_until() {
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(date +%s%N) + seconds * 1000000000 ))
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(date +%s%N)" -ge $deadline ]; then not_ok "$what (not within ${seconds}s)"; return 1; fi
    sleep 0.1
  done
  ok "$what"
}

# expect_fail DESCRIPTION PATTERN CMD...: passes when CMD exits non-zero and its stderr matches PATTERN.
expect_fail() {
  local what=$1 pattern=$2; shift 2
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  if [ $rc -ne 0 ] && grep -q -- "$pattern" <<<"$err"; then ok "$what"; else not_ok "$what (exit $rc, stderr: $err)"; fi
}

# The dev cluster's transport comes from `eval "$(scripts/dev-cluster env)"`: TLS by default,
# plain with FLEET_TLS=0. mcurl K ARGS...: curl from inside machine K, with the admin
# certificate when TLS is on ($FLEET_CURL_TLS); exported, so `bash -c` checks can use it too.
LIB_RIG=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/rig
export LIB_RIG
mcurl() {
  local k=$1; shift
  # shellcheck disable=SC2086 # FLEET_CURL_TLS is several arguments
  "$LIB_RIG" exec "$k" curl ${FLEET_CURL_TLS:-} "$@"
}
export -f mcurl

finish() {
  echo "$1: $PASSED passed, $FAILED failed"
  [ $FAILED -eq 0 ]
}
