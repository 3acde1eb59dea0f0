# lib.sh: assertions for the end-to-end tests; sourced by every tests/cli/*.sh.
# Each test gets a private scratch directory ($T) that doubles as XDG_CACHE_HOME and TMPDIR.
# Helpers: run CMD... (captures $out, $err, $status), expect_status N, expect_out REGEX,
# expect_err REGEX, expect_no_out REGEX, fail MSG. Finish with `done_testing`.
set -u
: "${HONE:?HONE must name the hone binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/hone-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME="$T/cache" TMPDIR="$T" HONE_NO_PROGRESS=1
mkdir -p "$XDG_CACHE_HOME"
_passed=0
_failed=0
_what=""

fail() {
  echo "FAIL: ${_what}: $*" >&2
  echo "--- stdout:" >&2; printf '%s\n' "$out" | head -40 >&2
  echo "--- stderr:" >&2; printf '%s\n' "$err" | head -40 >&2
  _failed=$((_failed + 1))
}
ok() { _passed=$((_passed + 1)); }

# run CMD ARGS...: runs it, storing stdout in $out, stderr in $err, exit status in $status.
run() {
  _what="$*"
  out=$("$@" 2>"$T/.stderr") && status=0 || status=$?
  err=$(cat "$T/.stderr")
}
expect_status() { if [ "$status" -eq "$1" ]; then ok; else fail "exit status $status, expected $1"; fi; }
expect_out() { if printf '%s\n' "$out" | grep -Eq -- "$1"; then ok; else fail "stdout lacks /$1/"; fi; }
expect_no_out() { if printf '%s\n' "$out" | grep -Eq -- "$1"; then fail "stdout has /$1/"; else ok; fi; }
expect_err() { if printf '%s\n' "$err" | grep -Eq -- "$1"; then ok; else fail "stderr lacks /$1/"; fi; }
expect_no_err() { if printf '%s\n' "$err" | grep -Eq -- "$1"; then fail "stderr has /$1/"; else ok; fi; }
expect_empty_err() { if [ -z "$err" ]; then ok; else fail "stderr not empty"; fi; }
# check DESCRIPTION COMMAND...: a shell condition as an assertion.
check() { _what="$1"; shift; if "$@"; then ok; else fail "condition failed"; fi; }

done_testing() {
  echo "${HONE_TEST_NAME:-test}: $_passed passed, $_failed failed"
  [ "$_failed" -eq 0 ]
  exit $?
}
