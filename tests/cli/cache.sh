# cache.sh: hone cache info|clean — directory, size, entries, --json, usage errors.
# (The cache as hone timeit fills and uses it is tested in timeit_cache.sh.)
. "$(dirname "$0")/lib.sh"

run "$HONE" cache info
expect_status 0; expect_out "^directory: $XDG_CACHE_HOME/hone"; expect_out '^entries: +0 compiled snippets'

# Two entries (directories named by a 64-hex key) and a leftover temporary build.
k1=$(printf 'a%.0s' $(seq 64)); k2=$(printf 'b%.0s' $(seq 64))
mkdir -p "$XDG_CACHE_HOME/hone/timeit/$k1" "$XDG_CACHE_HOME/hone/timeit/$k2" "$XDG_CACHE_HOME/hone/timeit/.tmp-xyz"
head -c 1000 /dev/zero >"$XDG_CACHE_HOME/hone/timeit/$k1/snippet.so"
run "$HONE" cache info
expect_status 0; expect_out '^entries: +2 compiled snippets'; expect_out '^size: +1000 bytes'
expect_out '^partial: +1 unfinished build'

run "$HONE" cache info --json
expect_status 0
check "--json is valid JSON with the counts" \
  test "$(printf '%s' "$out" | jq -r '[.version, .entries, .size_bytes, .partial, .exists] | @tsv')" = "$(printf '1\t2\t1000\t1\ttrue')"
check "--json names the directory" test "$(printf '%s' "$out" | jq -r .directory)" = "$XDG_CACHE_HOME/hone"

# A build in progress (a fresh temporary directory) is left alone; one left by a killed run
# (over an hour old) is removed with the entries.
touch -d '2 hours ago' "$XDG_CACHE_HOME/hone/timeit/.tmp-xyz"
mkdir -p "$XDG_CACHE_HOME/hone/timeit/.tmp-busy"
run "$HONE" cache clean
expect_status 0; expect_out 'removed 2 compiled snippets'
check "clean removed the entries and the stale build" test "$(ls -A "$XDG_CACHE_HOME/hone/timeit")" = .tmp-busy
rmdir "$XDG_CACHE_HOME/hone/timeit/.tmp-busy"
run "$HONE" cache clean
expect_status 0
check "clean removed the emptied directory" test ! -e "$XDG_CACHE_HOME/hone/timeit"
run "$HONE" cache info
expect_status 0; expect_out '^entries: +0 compiled snippets'

# Without XDG_CACHE_HOME the cache is under HOME.
run env -u XDG_CACHE_HOME HOME="$T/home" "$HONE" cache info
expect_status 0; expect_out "^directory: $T/home/.cache/hone"
# A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
run env XDG_CACHE_HOME=relative HOME="$T/home" "$HONE" cache info --json
expect_status 0; check "relative XDG_CACHE_HOME ignored" test "$(printf '%s' "$out" | jq -r .directory)" = "$T/home/.cache/hone"

run "$HONE" cache
expect_status 2; expect_err 'say info or clean'
run "$HONE" cache frob
expect_status 2; expect_err "unknown subcommand 'frob'"
run "$HONE" cache info extra
expect_status 2; expect_err 'too many arguments'
run "$HONE" cache --bogus info
expect_status 2; expect_err "unknown option '--bogus'"
run "$HONE" cache clean --json
expect_status 2
done_testing
