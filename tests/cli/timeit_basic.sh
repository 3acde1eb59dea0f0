# timeit_basic.sh: hone timeit's Python parity — the first line, -n, -r, -s, STMT lines, -u, -v,
# -p, the optimised-away warning, keep(), --setup-file, -i, -l/-L/-I, --help and option errors.
. "$(dirname "$0")/lib.sh"
py_line='^[0-9]+ loops?, best of [0-9]+: [0-9.e+-]+ (sec|msec|usec|nsec) per loop$'
chain='x = (x ^ (x >> 13)) * 2654435761u; keep(x);'

run "$HONE" timeit --help
expect_status 0; expect_out '^usage: hone timeit'; expect_out 'default 25'; expect_out 'default 0.001'

# The first line is Python's, then hone's richer lines.
run "$HONE" timeit -n 1000 -r 3 -s 'unsigned x = 1;' "$chain"
# Nothing on stderr but, when a trial was held up on a busy machine, Python's warning.
expect_status 0
check "stderr empty" test -z "$(printf '%s\n' "$err" | grep -v 'likely unreliable')"
check "first line is Python's" bash -c "printf '%s\n' \"\$1\" | head -1 | grep -Eq '$py_line'" _ "$out"
expect_out '^1000 loops, best of 3: '
expect_out '^  median ± MAD: '; expect_out '^  min \.\.\. max: '
# Counters: cycles where the machine has them, else one line saying why plus software events.
expect_out '^  (per loop: .*cycles|counters: +.*(hardware|counters))'

# -n 1: "loop", not "loops", as Python.
run "$HONE" timeit -n 1 -r 1 'int y = 3; keep(y);'
expect_status 0; expect_out '^1 loop, best of 1: '
# -r 0 means 1, as in Python.
run "$HONE" timeit -n 10 -r 0 'int y = 3; keep(y);'
expect_status 0; expect_out '^10 loops, best of 1: '

# Without -n, autorange picks 1, 2, 5 x 10^k loops.
run "$HONE" timeit -r 2 -s 'unsigned x = 1;' "$chain"
expect_status 0; expect_out '^(1|2|5)0*0 loops, best of 2: '

# -u forces the unit; a bad one is refused.
for u in nsec usec msec sec; do
  run "$HONE" timeit -n 100 -r 1 -u $u -s 'unsigned x = 1;' "$chain"
  expect_status 0; expect_out "^100 loops, best of 1: [0-9.e+-]+ $u per loop$"
done
run "$HONE" timeit -u parsec '1;'
expect_status 2; expect_err 'Please select nsec, usec, msec, or sec'

# -v: every autorange step and the raw times, as Python prints them.
run "$HONE" timeit -v -r 2 --target 0.002 -s 'unsigned x = 1;' "$chain"
expect_status 0
expect_out '^1 loop -> [0-9.e+-]+ secs$'; expect_out '^2 loops -> [0-9.e+-]+ secs$'
expect_out '^raw times: [0-9.e+-]+ [a-z]+, [0-9.e+-]+ [a-z]+$'
expect_err 'compiled and cached|cache hit'
# -n with -v: no autorange lines, but the raw times.
run "$HONE" timeit -v -n 50 -r 3 -s 'unsigned x = 1;' "$chain"
expect_status 0; expect_no_out 'loops? ->'; expect_out '^raw times: ([^,]+, ){2}[^,]+$'
# -vv: one more digit.
run "$HONE" timeit -vv -n 1000 -r 1 -u nsec -s 'volatile double d = 1.5;' 'd = d * 1.000001;'
expect_status 0; expect_out '^1000 loops, best of 1: [0-9.]+ nsec per loop$'
# keep() takes any expression: a const, an rvalue, an array, a struct.
run "$HONE" timeit -n 10 -r 1 -s 'const int c = 2; char buf[64] = "abc"; struct { int a[4]; } s = {{1}};' \
  'keep(c); keep(c * 3); keep(buf); keep(s); keep(strlen(buf)); memset(buf, 0, 8); clobber();'
expect_status 0

# Several -s join as lines; several STMT are lines of one statement; setup declares variables.
run "$HONE" timeit -n 10 -r 1 -s 'int a[100];' -s 'for (int i = 0; i < 100; i++) a[i] = i;' \
  'int s = 0;' 'for (int i = 0; i < 100; i++) s += a[i];' 'keep(s);'
expect_status 0; expect_out '^10 loops, best of 1: '
# No semicolon needed at the end, as in Python.
run "$HONE" timeit -n 10 -r 1 -s 'int x = 0' 'x++; keep(x)'
expect_status 0

# No statement: the empty statement, which is optimised away and said so (enough loops that the
# two clock reads of a trial, slower under sanitizers, stay under 0.25 ns per loop).
run "$HONE" timeit -n 1000000 -r 2
expect_status 0; expect_out '^1000000 loops, best of 2: '; expect_err 'probably optimised away.*keep\('
# The same warning for a statement whose result nobody uses...
run "$HONE" timeit -n 100000 -r 2 -s 'int x = 0;' 'x = x * 3 + 1;'
expect_status 0; expect_err 'optimised away'
# ...and none once keep() holds on to it.
run "$HONE" timeit -n 100000 -r 2 -s 'unsigned x = 1;' "$chain"
expect_status 0; expect_no_err 'optimised away'

# Python's warning when the worst trial is at least 4 times the best (here the first trial sleeps;
# static, since the setup runs again before every trial).
run "$HONE" timeit -n 1 -r 3 -s 'static int first = 1; struct timespec ts = {0, 20000000};' \
  'if (first) { first = 0; nanosleep(&ts, NULL); }'
expect_status 0; expect_out '^1 loop, best of 3: '
expect_err '^hone timeit: warning: The test results are likely unreliable\. The worst time \([0-9.]+ msec\) was more than four times slower than the best time \([0-9.]+ [nu]sec\)\.$'

# -p: process CPU time.
run "$HONE" timeit -p -n 100000 -r 2 -s 'unsigned x = 1;' "$chain"
expect_status 0; expect_out '^100000 loops, best of 2: '

# --setup-file, -i, -l, -L, -I.
printf 'unsigned x = 7;\nunsigned y = 3;\n' >"$T/setup.c"
run "$HONE" timeit -n 10 -r 1 --setup-file "$T/setup.c" -s 'x += y;' "$chain"
expect_status 0
run "$HONE" timeit -n 10 -r 1 --setup-file "$T/nope.c" '1;'
expect_status 2; expect_err 'cannot read'
# The -s lines follow the file's lines: an error in the first -s is on setup line 3.
run "$HONE" timeit -n 10 -r 1 --setup-file "$T/setup.c" -s 'int z = ;' "$chain"
expect_status 2; expect_err '^setup:3:[0-9]+: error: '; expect_err '^    3 \| int z = ;$'
mkdir -p "$T/inc" "$T/lib"
printf 'int twice(int v);\n#define THREE 3\n' >"$T/inc/mylib.h"
printf 'int twice(int v) { return 2 * v; }\n' >"$T/lib/mylib.c"
"${CC:-cc}" -shared -fPIC -o "$T/lib/libmylib.so" "$T/lib/mylib.c"
run "$HONE" timeit -n 10 -r 1 -I "$T/inc" -i mylib.h -L "$T/lib" -l mylib -s 'int v = THREE;' 'v = twice(v); keep(v);'
expect_status 0; expect_out '^10 loops, best of 1: '
run "$HONE" timeit -n 10 -r 1 -I "$T/inc" -i '"mylib.h"' -s 'int v = THREE;' 'keep(v);'
expect_status 0
run "$HONE" timeit -n 10 -r 1 -i pthread.h 'pthread_t t = pthread_self(); keep(t);'
# A quoted header is also looked for in the current directory, as Python's timeit imports from it
# (and as a compiler finds it next to a source file there).
run env -C "$T/inc" "$HONE" timeit -n 10 -r 1 -i '"mylib.h"' -s 'int v = THREE;' 'keep(v);'
expect_status 0; expect_out '^10 loops, best of 1: '
expect_status 0

# Usage errors.
run "$HONE" timeit -n abc '1;'
expect_status 2; expect_err '\-n needs a number'
run "$HONE" timeit -r -3 '1;'
expect_status 2
run "$HONE" timeit --timeout 0 '1;'
expect_status 2; expect_err 'timeout'
run "$HONE" timeit --bogus '1;'
expect_status 2; expect_err "unknown option '--bogus'"; expect_err "Try 'hone timeit --help'"
run "$HONE" timeit -n
expect_status 2; expect_err 'needs an argument'
# Setup runs before every trial, as Python's (CPython's test_timeit, test_main_setup: -n35 -r5
# with a printing setup prints it 5 times; test_main_multiple_setups: two -s lines, each 5 times).
run "$HONE" timeit -n35 -r5 -s 'printf("CustomSetup\n");' 'keep(1);'
expect_status 0; expect_out '^35 loops, best of 5: '
check "setup printed once per trial" test "$(printf '%s\n' "$out" | grep -c '^CustomSetup$')" -eq 5
run "$HONE" timeit -n35 -r5 -s 'printf("CustomSetup\n");' -s 'printf("CustomSetup2\n");' 'keep(1);'
check "both setups, in order, per trial" test "$(printf '%s\n' "$out" | grep '^CustomSetup' | tr '\n' ' ')" = "$(for i in 1 2 3 4 5; do printf 'CustomSetup CustomSetup2 '; done)"
# With autorange, as Python's autorange calls timeit() per step: once per step and per trial.
run "$HONE" timeit -r 3 --json - -s 'fprintf(stderr, "S\n");' 'clobber();'
expect_status 0
check "setup per autorange step and trial" test "$(printf '%s\n' "$err" | grep -c '^S$')" -eq "$(printf '%s' "$out" | jq '(.results[0].autorange | length) + 3')"
check "json says so" test "$(printf '%s' "$out" | jq -r '.setup_runs + " " + (.results[0].setup_runs | tostring)')" = "per_trial $(printf '%s\n' "$err" | grep -c '^S$')"
# A statement that changes its data starts each trial from a fresh setup: here every trial sees
# the array unsorted (a once-only setup would leave trials 2 and 3 sorting sorted data).
run "$HONE" timeit -n1 -r3 -s 'int v[3] = {3, 2, 1}; int was_sorted = v[0] < v[1];' \
  --teardown 'printf("sorted before: %d\n", was_sorted);' \
  'int t = v[0]; v[0] = v[2]; v[2] = t;'
expect_status 0
check "fresh data every trial" test "$(printf '%s\n' "$out" | grep -c '^sorted before: 0$')" -eq 3
# --teardown runs after every trial, untimed, in the setup's scope.
run "$HONE" timeit -n 2 -r 4 -s 'char *p = malloc(64);' --teardown 'free(p); puts("freed");' 'p[0]++; keep(p[0]);'
expect_status 0; check "teardown per trial" test "$(printf '%s\n' "$out" | grep -c '^freed$')" -eq 4
run "$HONE" timeit -n 2 -r 1 --teardown 'int z = ;' '1;'
expect_status 2; expect_err '^teardown:1:[0-9]+: error: '; expect_err '^    1 \| int z = ;$'
run "$HONE" timeit -n 2 -r 1 -i signal.h --teardown 'raise(SIGSEGV);' '1;'
expect_status 1; expect_err '^hone timeit: teardown crashed: SIGSEGV$'
# -x: the user's own C file compiled into the snippet (Python's 'from __main__ import f'), its
# header found next to it with a plain -i, run from another directory.
mkdir -p "$T/mine" "$T/elsewhere"
printf 'int scale(int v);\n' >"$T/mine/mine.h"
printf '#include "mine.h"\nint scale(int v) { return v * 3; }\n' >"$T/mine/mine.c"
cd "$T/elsewhere"
run "$HONE" timeit -v -n 1 -r 2 -x ../mine/mine.c -i mine.h -s 'int r = scale(7);' --teardown 'printf("scale=%d\n", r);' 'keep(r);'
expect_status 0; expect_out '^scale=21$'; expect_err 'compiled and cached'
run "$HONE" timeit -v -n 1 -r 1 -x ../mine/mine.c -i mine.h -s 'int r = scale(7);' --teardown 'printf("scale=%d\n", r);' 'keep(r);'
expect_status 0; expect_err 'cache hit'
# Its contents are in the key, and the headers it reads are checked: editing either rebuilds.
printf '#include "mine.h"\nint scale(int v) { return v * 4; }\n' >"$T/mine/mine.c"
run "$HONE" timeit -n 1 -r 1 -x ../mine/mine.c -i mine.h -s 'int r = scale(7);' --teardown 'printf("scale=%d\n", r);' 'keep(r);'
expect_status 0; expect_out '^scale=28$'
printf '#define FACTOR 5\n' >"$T/mine/factor.h"
printf '#include "mine.h"\n#include "factor.h"\nint scale(int v) { return v * FACTOR; }\n' >"$T/mine/mine.c"
run "$HONE" timeit -n 1 -r 1 -x ../mine/mine.c -i mine.h -s 'int r = scale(7);' --teardown 'printf("scale=%d\n", r);' 'keep(r);'
expect_status 0; expect_out '^scale=35$'
sleep 0.01; printf '#define FACTOR 6\n' >"$T/mine/factor.h"
run "$HONE" timeit -n 1 -r 1 -x ../mine/mine.c -i mine.h -s 'int r = scale(7);' --teardown 'printf("scale=%d\n", r);' 'keep(r);'
expect_status 0; expect_out '^scale=42$'
# An error in the user's file is shown against that file and line, as the user named it.
printf 'int scale(int v) {\n  return v * ;\n}\n' >"$T/mine/bad.c"
run "$HONE" timeit -n 1 -r 1 -x ../mine/bad.c -i mine.h 'keep(scale(1));'
expect_status 2; expect_err '^\.\./mine/bad\.c:2:[0-9]+: error: '; expect_err 'return v \* ;'
expect_err '^hone timeit: \.\./mine/bad\.c does not compile$'; expect_no_err '<hone>|snippet\.c'
run "$HONE" timeit -x ../mine/none.c 'keep(1);'
expect_status 2; expect_err "^hone timeit: -x: cannot read \.\./mine/none\.c: "
cd "$T"
done_testing
