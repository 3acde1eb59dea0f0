# timeit_errors.sh: what hone timeit says when the snippet is wrong — compile errors shown
# against setup:/stmt:, no compiler, a bad flag, a missing library or symbol (all exit 2), and a
# snippet that crashes or never ends (exit 1), which hone survives without a broken cache entry.
. "$(dirname "$0")/lib.sh"

# A statement that does not compile: the message points at stmt:LINE:COL and shows the user's line.
run "$HONE" timeit -n 10 -r 1 -s 'int x = 0;' 'x += y;'
expect_status 2
expect_err '^stmt:1:6: error: .*y'; expect_err '^    1 \| x \+= y;$'; expect_err '^      \|      \^$'
expect_err 'the snippet does not compile'
expect_no_err 'snippet\.c|<hone>|hone__timeit_main'
check "nothing on stdout" test -z "$out"
# In the setup, on its second line.
run "$HONE" timeit -n 10 -r 1 -s 'int x = 0;' -s 'int y = ;' 'x++;'
expect_status 2; expect_err '^setup:2:[0-9]+: error: '; expect_err '^    2 \| int y = ;$'
expect_no_err '<hone>|snippet\.c'
# With clang too, when there is one.
if command -v clang >/dev/null; then
  run "$HONE" timeit --cc clang -n 10 -r 1 'int a = 1 keep(a);'
  expect_status 2; expect_err '^stmt:1:10: error: '; expect_no_err '<hone>|snippet\.c'
fi
# An error inside the user's own header (-i with -I) is shown where it is, with its line.
mkdir -p "$T/inc"
printf '#define ONE 1\nstatic inline int twice(int v) { return v +; }\n' >"$T/inc/broken.h"
for cc in "${CC:-cc}" clang; do
  command -v "$cc" >/dev/null || continue
  run "$HONE" timeit --cc "$cc" -n 10 -r 1 -I "$T/inc" -i broken.h 'keep(twice(ONE));'
  expect_status 2
  expect_err "^([^ ]*/)?broken\.h:2:[0-9]+: error: "; expect_err 'return v \+;'
  expect_err 'the snippet does not compile'; expect_no_err '<hone>|snippet\.c|generated'
done
# A header that does not exist.
run "$HONE" timeit -n 10 -r 1 -i no_such_header.h '1;'
expect_status 2; expect_err 'no_such_header\.h'
# Nothing is cached for a snippet that does not compile.
check "no entry for broken snippets" test -z "$(ls "$XDG_CACHE_HOME/hone/timeit" 2>/dev/null | grep -v '^\.')"

# No compiler, a bad flag, a missing library, an undefined function: one line each, exit 2.
run "$HONE" timeit --cc no-such-compiler-xyz '1;'
expect_status 2; expect_err "^hone timeit: compiler not found: 'no-such-compiler-xyz'"
check "one line" test "$(printf '%s\n' "$err" | wc -l)" -eq 1
run env CC=no-such-compiler-xyz "$HONE" timeit '1;'
expect_status 2; expect_err 'compiler not found'
run "$HONE" timeit --cflags '-fno-such-flag-xyz' 'keep(1);'
expect_status 2; expect_err '^hone timeit: .*-fno-such-flag-xyz'
check "one line" test "$(printf '%s\n' "$err" | wc -l)" -eq 1
run "$HONE" timeit -l no_such_library_xyz 'keep(1);'
expect_status 2; expect_err '^hone timeit: library not found: -lno_such_library_xyz$'
check "one line" test "$(printf '%s\n' "$err" | wc -l)" -eq 1
run "$HONE" timeit -n 10 -r 1 'int no_such_function_xyz(int); keep(no_such_function_xyz(1));'
expect_status 2; expect_err "undefined reference to .no_such_function_xyz"
run env CC=false "$HONE" timeit --no-cache '1;'
expect_status 2; expect_err "compiler 'false' failed"

# A crash in the statement, in the setup: reported with the signal, exit 1; hone survives.
run "$HONE" timeit -n 10 -r 1 -s 'int *volatile p = 0;' '*p = 1;'
expect_status 1; expect_err '^hone timeit: stmt crashed: SIGSEGV$'
run "$HONE" timeit -n 10 -r 1 -s 'int *volatile p = 0; *p = 1;' '1;'
expect_status 1; expect_err '^hone timeit: setup crashed: SIGSEGV$'
run "$HONE" timeit -n 10 -r 1 'abort();'
expect_status 1; expect_err 'stmt crashed: SIGABRT'
# Compared, a crash in a later round (here the first statement's second child) fails that
# variant as a crash in the first would; the other is still measured.
run "$HONE" timeit --compare -n 1 -r 5 --json - \
  "FILE *m = fopen(\"$T/ran\", \"r\"); if (m) abort(); fclose(fopen(\"$T/ran\", \"w\"));" 'keep(2);'
expect_status 1; expect_err 'ran.*: stmt crashed: SIGABRT$'
check "a crash in a later round fails only that variant" test "$(printf '%s' "$out" | jq -c '[.results[].measured, (.results[1].per_loop_ns | length)]')" = '[false,true,5]'
# When every compared variant fails, each says why and no empty table or summary follows.
run "$HONE" timeit --compare -n 10 -r 2 'abort();' 'exit(4);'
expect_status 1; expect_err 'abort\(\);: stmt crashed: SIGABRT$'; expect_err 'exit\(4\);: stmt exited with status 4$'
check "no table when nothing was measured" test -z "$out"
run "$HONE" timeit -n 10 -r 1 -i signal.h 'raise(SIGBUS);'
expect_status 1; expect_err 'stmt crashed: SIGBUS'
run "$HONE" timeit -n 10 -r 1 'exit(3);'
expect_status 1; expect_err 'stmt exited with status 3'
# --json still records the failed variant.
run "$HONE" timeit -n 10 -r 1 --json "$T/crash.json" -s 'int *volatile p = 0;' '*p = 1;'
expect_status 1
check "json says not measured" test "$(jq -r '.results[0].measured' "$T/crash.json")" = false
# The crashing snippet's entry is intact: a second run crashes the same way, from the cache.
run "$HONE" timeit -v -n 10 -r 1 -s 'int *volatile p = 0;' '*p = 1;'
expect_status 1; expect_err 'cache hit'; expect_err 'stmt crashed: SIGSEGV'

# --timeout stops a snippet that never ends (in the statement or in the setup).
start=$(date +%s%N)
run "$HONE" timeit --timeout 0.3 -s 'volatile int go = 1;' 'while (go) {}'
expect_status 1; expect_err '^hone timeit: stmt timed out after 0\.3 s'
check "stopped promptly" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 5000
run "$HONE" timeit --timeout 0.2 -s 'for (;;) clobber();' '1;'
expect_status 1; expect_err 'setup timed out'
# A process the snippet forks (and that keeps the pipe open) does not hold hone up.
start=$(date +%s%N)
run "$HONE" timeit -n 10 -r 1 -i unistd.h -s 'if (fork() == 0) { close(1); close(2); sleep(8); _exit(0); }' 'clobber();'
expect_status 0; expect_out '^10 loops, best of 1: '
check "not held up by the snippet's own child" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 6000
# A snippet that forks and then crashes: reported at once, not when the forked child ends (it
# held the result pipe open), and that child is ended with the measuring child's group.
start=$(date +%s%N)
run "$HONE" timeit -i unistd.h -i signal.h "if (fork() == 0) { sleep(40); _exit(0); } raise(SIGSEGV);"
expect_status 1; expect_err '^hone timeit: stmt crashed: SIGSEGV$'
check "reported at once" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 10000
run "$HONE" timeit -n 1 -r 1 -i unistd.h -s "if (fork() == 0) { FILE *f = fopen(\"$T/orphan.pid\", \"w\"); fprintf(f, \"%d\\n\", (int)getpid()); fclose(f); sleep(40); _exit(0); }" 'usleep(200000);'
expect_status 0
sleep 0.2
# Ended: gone, or a zombie its new parent has not reaped yet (a container's init may never).
ended() { local p; p=$(cat "$T/orphan.pid" 2>/dev/null) || return 1; [ -n "$p" ] || return 1
  ! kill -0 "$p" 2>/dev/null || [ "$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)" = Z ]; }
check "the snippet's own child was ended" ended
# A statement that leaves the loop early is an error, not a hang or a wrong number.
run "$HONE" timeit -n 10 -r 1 'return 0;'
expect_status 1; expect_err 'left the timing loop'
# The snippet's own output goes through (as in Python), once.
run "$HONE" timeit -n 1 -r 1 -s 'printf("hello from setup\n");' '1;'
expect_status 0
check "setup output printed once" test "$(printf '%s\n' "$out" | grep -c 'hello from setup')" -eq 1
# Numbers: digits only. strtoull skips blanks and then negates, so ' -1' was 2^64-1 loops.
for bad in ' -1' '-1' '+5' ' 5' '5 ' '0x10' ''; do
  run "$HONE" timeit -n "$bad" -r 1 '1;'
  expect_status 2; expect_err "^hone timeit: -n needs a number of loops, not '"
  run "$HONE" timeit -n 1 -r "$bad" '1;'
  expect_status 2; expect_err "^hone timeit: -r needs a number of trials"
done
run "$HONE" timeit --timeout ' 1' '1;'
expect_status 2; expect_err 'timeout'
done_testing
