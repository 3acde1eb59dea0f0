# timeit_cache.sh: the cache of compiled snippets — miss then hit, a warm run runs no compiler
# (not even one that has become `false`), the key follows source, flags and compiler, two runs at
# once, a corrupt entry is rebuilt, mode 0700, --no-cache.
. "$(dirname "$0")/lib.sh"
real_cc=$(command -v "${CC:-cc}")
entries() { ls "$XDG_CACHE_HOME/hone/timeit" 2>/dev/null | grep -Ec '^[0-9a-f]{64}$'; }
leftovers() { ls -A "$XDG_CACHE_HOME/hone/timeit" 2>/dev/null | grep -c '^\.'; }

# A compiler wrapper that logs every time it is run.
mkdir -p "$T/bin"
printf '#!/bin/sh\necho run >>"%s/cc.log"\nexec "%s" "$@"\n' "$T" "$real_cc" >"$T/bin/mycc"
chmod +x "$T/bin/mycc"
runs() { if [ -f "$T/cc.log" ]; then wc -l <"$T/cc.log"; else echo 0; fi; }
stmt='x = x * 3 + 1; keep(x);'

# Miss: compiled (and its version asked once), cached in a 0700 directory.
run env CC="$T/bin/mycc" "$HONE" timeit -v -n 10 -r 1 -s 'unsigned x = 1;' "$stmt"
expect_status 0; expect_err 'compiled and cached'; expect_err "^hone timeit: $T/bin/mycc -O2 .*-shared"
check "compiler ran on a miss" test "$(runs)" -ge 1
first_runs=$(runs)
check "one entry" test "$(entries)" -eq 1
check "cache dir is 0700" test "$(stat -c %a "$XDG_CACHE_HOME/hone")" = 700
check "timeit dir is 0700" test "$(stat -c %a "$XDG_CACHE_HOME/hone/timeit")" = 700
check "no temporary left" test "$(leftovers)" -eq 0

# Hit: the compiler is not run at all.
run env CC="$T/bin/mycc" "$HONE" timeit -v -n 10 -r 1 -s 'unsigned x = 1;' "$stmt"
expect_status 0; expect_err 'cache hit'
check "compiler not run on a hit" test "$(runs)" -eq "$first_runs"
# The --json of a hit still names the compiler's version, recorded when it was built.
run env CC="$T/bin/mycc" "$HONE" timeit -n 10 -r 1 --json - -s 'unsigned x = 1;' "$stmt"
expect_status 0
check "json: cache_hit and version" test "$(printf '%s' "$out" | jq -r '.results[0].cache_hit, (.results[0].compiler.version | length > 0)' | tr '\n' ' ')" = "true true "

# The compiler has become `false` (same file, size and mtime, so the same identity): a warm run
# still succeeds, because it never runs the compiler.
cp -p "$T/bin/mycc" "$T/mycc.orig"
size=$(stat -c %s "$T/bin/mycc")
if [ -n "$size" ] && [ "$size" -gt 20 ]; then
  { printf '#!/bin/sh\nexit 1\n'; head -c $((size - 18)) /dev/zero | tr '\0' '#'; printf '\n'; } >"$T/false.tmp"
  cat "$T/false.tmp" >"$T/bin/mycc" # same inode
  touch -r "$T/mycc.orig" "$T/bin/mycc"
fi
check "the wrapper now fails" bash -c "! '$T/bin/mycc' --version"
check "same size" test "$(stat -c %s "$T/bin/mycc")" -eq "$size"
run env CC="$T/bin/mycc" "$HONE" timeit -n 10 -r 1 -s 'unsigned x = 1;' "$stmt"
expect_status 0; expect_out '^10 loops, best of 1: '
# ...and CC=false in the environment does not matter when --cc names the compiler.
run env CC=false "$HONE" timeit -n 10 -r 1 --cc "$T/bin/mycc" -s 'unsigned x = 1;' "$stmt"
expect_status 0
# A cache miss with it fails as a failing compiler should.
run env CC="$T/bin/mycc" "$HONE" timeit -n 10 -r 1 -s 'unsigned x = 2;' "$stmt"
expect_status 2; expect_err 'failed'
cp -p "$T/mycc.orig" "$T/bin/mycc"

# The key follows the flags, the source and the compiler's identity.
n0=$(entries)
run env CC="$T/bin/mycc" "$HONE" timeit -v -n 10 -r 1 --cflags -O1 -s 'unsigned x = 1;' "$stmt"
expect_status 0; expect_err 'compiled and cached'
run env CC="$T/bin/mycc" "$HONE" timeit -v -n 10 -r 1 -s 'unsigned x = 3;' "$stmt"
expect_status 0; expect_err 'compiled and cached'
touch -d '2001-01-01' "$T/bin/mycc" # a changed compiler: rebuilt
run env CC="$T/bin/mycc" "$HONE" timeit -v -n 10 -r 1 -s 'unsigned x = 1;' "$stmt"
expect_status 0; expect_err 'compiled and cached'
check "three more entries" test "$(entries)" -eq $((n0 + 3))

# Three runs at once on a new snippet: all succeed, one entry, nothing half-written left.
n0=$(entries)
pids=""
for i in 1 2 3; do
  "$HONE" timeit -n 10 -r 1 -s 'unsigned x = 5;' "$stmt" >"$T/par$i.out" 2>"$T/par$i.err" &
  pids="$pids $!"
done
ok_all=1
for p in $pids; do wait "$p" || ok_all=0; done
check "parallel runs all succeeded" test $ok_all -eq 1
check "parallel runs all printed" bash -c "grep -q '^10 loops' '$T/par1.out' && grep -q '^10 loops' '$T/par2.out' && grep -q '^10 loops' '$T/par3.out'"
check "one entry for them" test "$(entries)" -eq $((n0 + 1))
check "no temporary left" test "$(leftovers)" -eq 0

# A corrupt entry (truncated object) is noticed and rebuilt.
run "$HONE" timeit -v -n 10 -r 1 --json "$T/j.json" -s 'unsigned x = 9;' "$stmt"
expect_status 0
key=$(jq -r '.results[0].cache_key' "$T/j.json")
entry="$XDG_CACHE_HOME/hone/timeit/$key"
so="$entry/snippet.so"
check "entry exists" test -n "$key" -a -f "$so"
if [ -n "$key" ] && [ -f "$so" ]; then
  good_size=$(stat -c %s "$so")
  truncate -s 100 "$so"
  run "$HONE" timeit -v -n 10 -r 1 -s 'unsigned x = 9;' "$stmt"
  expect_status 0; expect_err 'compiled and cached'; expect_out '^10 loops'
  check "entry rebuilt whole" test "$(stat -c %s "$so")" -eq "$good_size"
  # An object that matches its recorded checksum but does not load is rebuilt too.
  printf 'not an ELF file' >"$so"
  sum=$(sha256sum "$so" | cut -d' ' -f1)
  sed -i "s/^so_sha256 .*/so_sha256 $sum/" "$entry/meta"
  run "$HONE" timeit -n 10 -r 1 -s 'unsigned x = 9;' "$stmt"
  expect_status 0; expect_err 'rebuilding a corrupt cache entry'; expect_out '^10 loops'
  check "entry rebuilt whole" test "$(stat -c %s "$so")" -eq "$good_size"
  # A missing meta file: rebuilt.
  rm -f "$entry/meta"
  run "$HONE" timeit -v -n 10 -r 1 -s 'unsigned x = 9;' "$stmt"
  expect_status 0; expect_err 'compiled and cached'
fi

# A header the snippet includes is part of what decides the object: editing it rebuilds, and
# `-I .` in another directory (another header of the same name) is another object.
mkdir -p "$T/hdr1" "$T/hdr2"
printf 'static inline unsigned step(unsigned v) { return v * 3 + 1; }\n' >"$T/hdr1/step.h"
run env -C "$T/hdr1" "$HONE" timeit -v -n 10 -r 1 -I . -i step.h -s 'unsigned x = 1;' 'x = step(x); keep(x);'
expect_status 0; expect_err 'compiled and cached'
run env -C "$T/hdr1" "$HONE" timeit -v -n 10 -r 1 -I . -i step.h -s 'unsigned x = 1;' 'x = step(x); keep(x);'
expect_status 0; expect_err 'cache hit'
printf 'static inline unsigned step(unsigned v) { return v * 5 + 1; }\n' >"$T/hdr2/step.h"
run env -C "$T/hdr2" "$HONE" timeit -v -n 10 -r 1 -I . -i step.h -s 'unsigned x = 1;' 'x = step(x); keep(x);'
expect_status 0; expect_err 'compiled and cached'
printf 'static inline unsigned step(unsigned v) { return v * 7 + 1; }\n' >"$T/hdr1/step.h"
run env -C "$T/hdr1" "$HONE" timeit -v -n 10 -r 1 -I . -i step.h -s 'unsigned x = 1;' 'x = step(x); keep(x);'
expect_status 0; expect_err 'compiled and cached'
# A header that no longer exists: rebuilt (and refused by the compiler), not served from the cache.
rm "$T/hdr1/step.h"
run env -C "$T/hdr1" "$HONE" timeit -n 10 -r 1 -I . -i step.h -s 'unsigned x = 1;' 'x = step(x); keep(x);'
expect_status 2; expect_err 'step\.h'

# --no-cache: nothing added to the cache, nothing left in TMPDIR.
n0=$(entries)
run "$HONE" timeit -n 10 -r 1 --no-cache -s 'unsigned x = 11;' "$stmt"
expect_status 0
check "no entry added" test "$(entries)" -eq "$n0"
check "no temporary directory left" test -z "$(ls "$T" | grep hone-timeit)"

# hone cache info sees them; clean empties it; the next run compiles again.
run "$HONE" cache info
expect_status 0; expect_out "^entries: +$(entries) compiled snippets"
run "$HONE" cache clean
expect_status 0
check "cache emptied" test "$(entries)" -eq 0
run "$HONE" timeit -v -n 10 -r 1 -s 'unsigned x = 9;' "$stmt"
expect_status 0; expect_err 'compiled and cached'

# The issue's own check: a second identical run with CC=false in the environment succeeds. The
# compiler named is not the one that built the entry, so this is not a hit by key: `false` fails
# without a word, and hone times the build of the same snippet and flags cached by the other
# compiler, saying so. A snippet never built before is refused.
run "$HONE" timeit -n 10 -r 1 -s 'unsigned x = 21;' "$stmt"
expect_status 0
run env CC=false "$HONE" timeit -n 10 -r 1 -s 'unsigned x = 21;' "$stmt"
expect_status 0; expect_out '^10 loops, best of 1: '
expect_err "note: the compiler 'false' failed without a word; timing the build of this snippet cached"
# Its record names the compiler that built what was timed, and the entry it came from.
run env CC=false "$HONE" timeit -n 10 -r 1 --json - -s 'unsigned x = 21;' "$stmt"
expect_status 0
check "fallback json: the builder's path, a real entry, no compile time" test "$(printf '%s' "$out" | jq -r '.results[0] | [.compiler.command, .compiler.path, .cache_hit, .compile_s] | @tsv')" = "$(printf 'false\t%s\ttrue\t0' "$real_cc")"
check "fallback json: the cache key is the entry's" test -d "$XDG_CACHE_HOME/hone/timeit/$(printf '%s' "$out" | jq -r '.results[0].cache_key')"
# Not when compilers are being compared: a row named `false` must not show another's build.
run "$HONE" timeit -n 10 -r 1 --cc "$real_cc" --cc false -s 'unsigned x = 21;' "$stmt"
expect_status 2; expect_err "the compiler 'false' failed without a word"; expect_no_err 'note:'
run env CC=false "$HONE" timeit -n 10 -r 1 --cflags -O1 -s 'unsigned x = 21;' "$stmt"
expect_status 2; expect_err "the compiler 'false' failed without a word"
run env CC=false "$HONE" timeit -n 10 -r 1 -s 'unsigned x = 22;' "$stmt"
expect_status 2; expect_err "the compiler 'false' failed without a word"
run env CC=false "$HONE" timeit --no-cache -n 10 -r 1 -s 'unsigned x = 21;' "$stmt"
expect_status 2

# An unusable cache directory is an error, not a crash.
run env XDG_CACHE_HOME=/dev/null/nope "$HONE" timeit -n 10 -r 1 '1;'
expect_status 1; expect_err 'cannot create the cache directory'
# A static archive named by -l is part of the object: rebuilt, it rebuilds the entry (it was a
# stale hit that still ran the old code).
mkdir -p "$T/arlib"
build_foo() {
  printf 'int foo(void) { return %s; }\n' "$1" >"$T/arlib/foo.c"
  "${CC:-cc}" -O2 -fPIC -c "$T/arlib/foo.c" -o "$T/arlib/foo.o" && rm -f "$T/arlib/libfoo.a" &&
    ar rcs "$T/arlib/libfoo.a" "$T/arlib/foo.o"
}
build_foo 1
run "$HONE" timeit -n 1 -r 1 -L "$T/arlib" -l foo -s 'int foo(void); printf("foo=%d\n", foo());' 'keep(1);'
expect_status 0; expect_out '^foo=1$'
build_foo 2
run "$HONE" timeit -v -n 1 -r 1 -L "$T/arlib" -l foo -s 'int foo(void); printf("foo=%d\n", foo());' 'keep(1);'
expect_status 0; expect_out '^foo=2$'; expect_err 'compiled and cached'
run "$HONE" timeit -v -n 1 -r 1 -L "$T/arlib" -l foo -s 'int foo(void); printf("foo=%d\n", foo());' 'keep(1);'
expect_status 0; expect_out '^foo=2$'; expect_err 'cache hit'
# Also found through LIBRARY_PATH (no -L).
build_foo 3
run env LIBRARY_PATH="$T/arlib" "$HONE" timeit -n 1 -r 1 -l foo -s 'int foo(void); printf("foo=%d\n", foo());' 'keep(1);'
expect_status 0; expect_out '^foo=3$'
build_foo 4
run env LIBRARY_PATH="$T/arlib" "$HONE" timeit -n 1 -r 1 -l foo -s 'int foo(void); printf("foo=%d\n", foo());' 'keep(1);'
expect_status 0; expect_out '^foo=4$'
# CPATH and C_INCLUDE_PATH decide which header is found: another value is another entry.
mkdir -p "$T/cp1" "$T/cp2"
echo '#define CP_VALUE 1' >"$T/cp1/cpval.h"; echo '#define CP_VALUE 2' >"$T/cp2/cpval.h"
for var in CPATH C_INCLUDE_PATH; do
  for k in 1 2; do
    run env "$var=$T/cp$k" "$HONE" timeit -n 1 -r 1 -i cpval.h -s 'printf("cp=%d\n", CP_VALUE);' 'keep(1);'
    expect_status 0; expect_out "^cp=$k\$"
  done
done
done_testing
