# timeit_faults.sh: fault injection into the real hone binary (SQLite's practice): with
# tests/cli/fault_shim.c preloaded, the Nth allocation hone makes fails, for N sampled over every
# allocation a cached run and a compiling run make (every point would take minutes: a stride,
# the same every run). hone must never die of a signal, a success must print a true result, and
# whatever failed, the cache must be left usable: the next ordinary run succeeds. The shim is not
# built with the sanitizers (a preloaded library would have to follow their runtime), so this
# runs in the release build only.
# Every failure must also print a "hone timeit: ..." error (HONE_FAULT_STRICT=0 only counts the
# silent ones).
. "$(dirname "$0")/lib.sh"
if [ -n "${HONE_SANITIZE:-}" ] || [ -z "${HONE_FAULT_SHIM:-}" ]; then
  echo "timeit_faults: skipped (sanitizer build, or no shim)"
  exit 0
fi
stmt='int y = 2; y = y * 3 + 1; (void)y;'
counts="$T/counts"

# How many allocations a run makes: the shim writes the counts at exit (the last line is hone's).
allocs() {
  rm -f "$counts"
  env LD_PRELOAD="$HONE_FAULT_SHIM" HONE_FAULT_COUNT="$counts" "$HONE" timeit -n 10 -r 1 "$stmt" \
    >/dev/null 2>&1
  tail -1 "$counts" | cut -d' ' -f1
}

silent=0
# probe N COLD: one faulted run (COLD=1: with an empty cache, so it compiles), then a plain one.
probe() {
  local n=$1 cold=$2
  [ "$cold" = 1 ] && rm -rf "$XDG_CACHE_HOME/hone"
  run env LD_PRELOAD="$HONE_FAULT_SHIM" HONE_FAULT_ALLOC="$n" "$HONE" timeit -n 10 -r 1 "$stmt"
  _what="allocation $n fails (cold=$cold)"
  if [ "$status" -ge 128 ]; then fail "killed by a signal (status $status)"; else ok; fi
  if [ "$status" -eq 0 ]; then
    expect_out 'loops, best of 1:'
  elif ! printf '%s\n' "$err" | grep -q '^hone timeit: '; then
    silent=$((silent + 1))
    [ "${HONE_FAULT_STRICT:-1}" = 1 ] && fail "failed without an error message"
  fi
  run "$HONE" timeit -n 10 -r 1 "$stmt"
  _what="an ordinary run after allocation $n failed (cold=$cold)"
  expect_status 0
  expect_out 'loops, best of 1:'
}

run "$HONE" timeit -n 10 -r 1 "$stmt" # warm the cache
expect_status 0
warm=$(allocs)
check "a cached run allocates" test "${warm:-0}" -gt 10
for n in $(seq 1 37 "$warm") "$warm"; do probe "$n" 0; done

rm -rf "$XDG_CACHE_HOME/hone"
cold=$(allocs)
check "a compiling run allocates more" test "${cold:-0}" -gt "$warm"
# and every one of the last 12: loading the object, reading the child's report, the output
for n in $(seq 3 53 "$cold") $(seq $((cold - 12)) "$cold"); do probe "$n" 1; done
# The very last allocation failing must still be survived; past it, nothing fails.
probe $((cold + 1)) 1
echo "timeit_faults: $warm allocations warm, $cold cold; $silent failures without a message"
done_testing
