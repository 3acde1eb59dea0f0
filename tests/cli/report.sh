# report.sh: `hone report` end to end — a program with a known call graph is built here with
# -finstrument-functions and recorded by the real runtime, then every option is checked against
# the counts the graph implies: pstats' header and rows (total/primitive under direct and mutual
# recursion), sort keys, --limit, --filter, --strip-dirs, --callers/--callees, --json, --csv,
# merged files, --threads, --raw, refused files, and a rebuilt or missing binary.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}

# The call graph (every function static: no -rdynamic, names come from DWARF):
#   main -> fib(10): 177 calls, 1 primitive; fib <- fib: 176/2 (the first level's two calls)
#   main -> even(7) -> odd(6) -> even(5) ...: even 4/1, odd 4/1; even -> odd 4/1
#   leaf: 2 calls from caller_a, 3 from caller_b, 4 from worker (another thread)
# Totals: 198 calls, 16 primitive, 8 functions; the worker thread has 5 calls.
cp "$HONE_SRC/tests/cli/fixtures/callgraph.c" "$T/prog.c"
cd "$T"
$CC -g -O0 -finstrument-functions -pthread prog.c -o prog || { echo "cannot build the fixture"; exit 1; }

# Records with `hone record` (the runtime preloaded).
record() {
  local outfile=$1
  shift
  "$HONE" record -o "$outfile" -- "$@" >/dev/null
}
# p.prof: the hooks timed as well (HONE_PROF_UNTIMED=0), as where sampling is refused; the default
# (hooks that read no clock where the thread is sampled) is unt.prof below.
HONE_PROF_UNTIMED=0 run record "$T/p.prof" ./prog
expect_status 0
check "the recording wrote p.prof" [ -s "$T/p.prof" ]

# ---- the table -----------------------------------------------------------------------------
run "$HONE" report p.prof
expect_status 0
expect_empty_err
expect_out '^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} [0-9]{4}    p\.prof$'
# Sampled where perf_event_open is allowed, else corrected by the calibrated cost (issue 10).
expect_out "^   Times (sampled: [0-9]+ samples of the CPU time, one per 100\.0 us|exclude the profiler's own cost, calibrated at .* per call)"
expect_out '^         198 function calls \(16 primitive calls\) in [0-9]+\.[0-9]{3} seconds$'
expect_out '^   Ordered by: cumulative time$'
expect_out '^   ncalls  tottime  percall  cumtime  percall filename:lineno\(function\)$'
expect_out '^    177/1 +[0-9]+\.[0-9]{3}\?? +[0-9]+\.[0-9]{3}\?? +[0-9]+\.[0-9]{3} +[0-9]+\.[0-9]{3} /.*/prog\.c:5\(fib\)$'
expect_out '^      4/1 .* /.*prog\.c:7\(even\)$'
expect_out '^      4/1 .* /.*prog\.c:8\(odd\)$'
expect_out '^        9 .* /.*prog\.c:9\(leaf\)$'
expect_out '^        1 .* /.*prog\.c:10\(caller_a\)$'
expect_out '^        1 .* /.*prog\.c:12\(worker\)$'
check "8 rows" [ "$(printf '%s\n' "$out" | grep -c 'prog\.c:[0-9]*(')" -eq 8 ]
# main waits for the worker and calls everything else: the largest cumulative time.
check "main first by cumulative time" \
  [ "$(printf '%s\n' "$out" | grep -m1 'prog\.c:' | sed 's/.*(//')" = "main)" ]

# Without sampling the times are corrected by the calibrated cost, and the header says so.
HONE_PROF_SAMPLE=off run record "$T/nos.prof" ./prog
expect_status 0
run "$HONE" report nos.prof
expect_status 0
expect_out "^   Times exclude the profiler's own cost, calibrated at .* per call"
expect_out '^   Not sampled \(perf_event_open refused, or an older file\)'
run "$HONE" report --json nos.prof
expect_status 0
expect_out '"estimate": ?"corrected"'
expect_out '"times": ?"instrumented"'
expect_out '"clock_why": ?"(cpuid|kernel|variable|no counter)"'

# Every cumtime >= its tottime, corrected and raw (from the CSV's exact figures).
for mode in "" --raw; do
  run "$HONE" report --csv $mode p.prof
  expect_status 0
  check "cumtime >= tottime in every row $mode" \
    awk -F, 'NR > 1 && $6 + 0 < $4 + 0 { bad = 1 } END { exit bad }' <<<"$out"
done

# ---- sorting ---------------------------------------------------------------------------------
first_fn() { printf '%s\n' "$out" | grep -m1 'prog\.c:[0-9]*(' | sed 's/.*(\(.*\))$/\1/'; }
sort_case() { # KEY "Ordered by" text, expected first function (or - for any)
  run "$HONE" report -s "$1" p.prof
  expect_status 0
  expect_out "^   Ordered by: $2\$"
  if [ "$3" != - ]; then check "-s $1: $3 first" [ "$(first_fn)" = "$3" ]; fi
}
sort_case calls "call count" fib
sort_case ncalls "call count" fib
sort_case pcalls "primitive call count" leaf
sort_case cumulative "cumulative time" main
sort_case cumtime "cumulative time" main
sort_case tottime "internal time" -
sort_case time "internal time" -
sort_case name "function name" caller_a
sort_case nfl "name/file/line" caller_a
sort_case line "line number" fib
sort_case stdname "standard name" caller_a
sort_case filename "file name" -
sort_case file "file name" -
sort_case module "file name" -
sort_case cum "cumulative time" main
# tottime order is descending in the CSV's exact figures.
run "$HONE" report --csv -s tottime p.prof
check "-s tottime descending" awk -F, 'NR > 2 && $4 + 0 > prev { bad = 1 } NR > 1 { prev = $4 + 0 } END { exit bad }' <<<"$out"
# Several keys, comma-separated or repeated: call count, then function name (leaf 9 ... then 1s by name).
run "$HONE" report -s calls,name p.prof
expect_out '^   Ordered by: call count, function name$'
check "ties broken by name" [ "$(printf '%s\n' "$out" | grep 'prog\.c:' | sed 's/.*(\(.*\))$/\1/' | tr '\n' ' ')" = "fib leaf even odd caller_a caller_b main worker " ]
run "$HONE" report --sort pcalls --sort line p.prof
expect_out '^   Ordered by: primitive call count, line number$'
check "pcalls then line" [ "$(printf '%s\n' "$out" | grep 'prog\.c:' | sed 's/.*(\(.*\))$/\1/' | tr '\n' ' ')" = "leaf fib even odd caller_a caller_b worker main " ]
run "$HONE" report -s c p.prof
expect_status 2; expect_err 'ambiguous sort key'
run "$HONE" report -s bogus p.prof
expect_status 2; expect_err "unknown or ambiguous sort key 'bogus'"

# ---- restrictions ---------------------------------------------------------------------------
run "$HONE" report --limit 3 p.prof
expect_status 0
expect_out '^   List reduced from 8 to 3 due to restriction <3>$'
check "3 rows" [ "$(printf '%s\n' "$out" | grep -c 'prog\.c:')" -eq 3 ]
run "$HONE" report -l 0.5 p.prof
expect_out '^   List reduced from 8 to 4 due to restriction <0\.5>$'
check "4 rows" [ "$(printf '%s\n' "$out" | grep -c 'prog\.c:')" -eq 4 ]
run "$HONE" report -l 20 p.prof
expect_no_out 'List reduced'
run "$HONE" report -l many p.prof
expect_status 2; expect_err 'limit'
# A sign or a blank is not a count (strtoull took ' -1' as 2^64-1: no limit at all).
for bad in ' -1' '-1' ' 3' '+3'; do
  run "$HONE" report --limit "$bad" p.prof
  expect_status 2; expect_err "limit: expected a count or a fraction, got '"
done
# --strip-dirs: the regex is matched against "file:line(name)", and the file's directory is this
# test's random scratch path, which could itself contain "fib" or "odd".
run "$HONE" report --strip-dirs --filter 'fib|odd' p.prof
expect_out "^   List reduced from 8 to 2 due to restriction <'fib\|odd'>$"
check "2 rows" [ "$(printf '%s\n' "$out" | grep -c 'prog\.c:')" -eq 2 ]
run "$HONE" report --strip-dirs --filter '(leaf|caller_)' -l 2 -s name p.prof
expect_out "^   List reduced from 8 to 3 due to restriction <'\(leaf\|caller_\)'>$"
expect_out '^   List reduced from 3 to 2 due to restriction <2>$'
check "filter then limit" [ "$(printf '%s\n' "$out" | grep 'prog\.c:' | sed 's/.*(\(.*\))$/\1/' | tr '\n' ' ')" = "caller_a caller_b " ]
run "$HONE" report --filter '(' p.prof
expect_status 2; expect_err 'invalid regular expression'
run "$HONE" report --strip-dirs p.prof
expect_out '^    177/1 .* prog\.c:5\(fib\)$'
expect_no_out ' /.*prog\.c:'

# ---- callers and callees (pstats' print_callers / print_callees layout) ---------------------
run "$HONE" report --strip-dirs --callers 'leaf|fib' p.prof
expect_status 0
expect_out "^   List reduced from 8 to 2 due to restriction <'leaf\|fib'>$"
expect_out '^Function +was called by\.\.\.$'
expect_out '^ +ncalls  tottime  cumtime$'
# Width: the longest listed name + 2; callers sorted by (file, line, name) as pstats sorts them.
expect_out '^prog\.c:5\(fib\)   <-   176/2 +[0-9.]+ +[0-9.]+  prog\.c:5\(fib\)$'
expect_out '^ {25}1 +[0-9.]+ +[0-9.]+  prog\.c:14\(main\)$'
expect_out '^prog\.c:9\(leaf\)  <-       2 +[0-9.]+ +[0-9.]+  prog\.c:10\(caller_a\)$'
expect_out '^ {25}3 +[0-9.]+ +[0-9.]+  prog\.c:11\(caller_b\)$'
expect_out '^ {25}4 +[0-9.]+ +[0-9.]+  prog\.c:12\(worker\)$'
expect_no_out 'function calls'
run "$HONE" report --strip-dirs --callees 'even|leaf' p.prof
expect_out '^Function +called\.\.\.$'
expect_out '^prog\.c:7\(even\)  ->     4/1 +[0-9.]+ +[0-9.]+  prog\.c:8\(odd\)$'
expect_out '^prog\.c:9\(leaf\)  -> $'
run "$HONE" report --callers nothing-matches p.prof
expect_status 0
expect_no_out 'was called by'

# ---- JSON and CSV ------------------------------------------------------------------------
run "$HONE" report --json p.prof
expect_status 0
if command -v jq >/dev/null; then
  j() { jq -e "$1" <<<"$out" >/dev/null; }
  check "json: version 1" j '.version == 1 and .corrected == true'
  check "json: 8 rows, 198 calls" j '.reports[0].rows | length == 8'
  check "json: totals" j '.reports[0].total_calls == 198 and .reports[0].primitive_calls == 16'
  check "json: fib" j '.reports[0].rows[] | select(.function == "fib") | .ncalls == 177 and .primitive_calls == 1 and .line == 5'
  check "json: cumtime >= tottime" j '[.reports[0].rows[] | .cumtime >= .tottime] | all'
  check "json: the file" j '.files[0].path == "p.prof" and (.files[0].argv | length) >= 1'
  run "$HONE" report --json --callers leaf p.prof
  check "json: callers of leaf" j '.reports[0].callers[0].callers | map(.ncalls) == [2, 3, 4]'
else
  expect_out '"version":[[:space:]]*1'
  expect_out '"ncalls":[[:space:]]*177'
fi
run "$HONE" report --csv p.prof
expect_status 0
check "csv header" [ "$(printf '%s\n' "$out" | head -1)" = "thread,ncalls,primitive_calls,tottime,tottime_percall,cumtime,cumtime_percall,filename,line,function" ]
check "csv: 8 rows" [ "$(printf '%s\n' "$out" | wc -l)" -eq 9 ]
expect_out '^all,177,1,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,/.*prog\.c,5,fib$'
run "$HONE" report --csv --callers leaf p.prof
expect_out '^thread,relation,name,ncalls,primitive_calls,tottime,cumtime,other_filename,other_line,other_function$'
expect_out '^all,caller,/.*prog\.c:9\(leaf\),3,3,[0-9.]+,[0-9.]+,/.*prog\.c,11,caller_b$'
run "$HONE" report --json --csv p.prof
expect_status 2

# ---- several files, threads, raw ------------------------------------------------------------
cp p.prof q.prof
run "$HONE" report p.prof q.prof
expect_status 0
expect_out '^         396 function calls \(32 primitive calls\) in'
expect_out '^    354/2 .*prog\.c:5\(fib\)$'
expect_out '    q\.prof$'
run "$HONE" report --threads p.prof
expect_status 0
check "two thread sections" [ "$(printf '%s\n' "$out" | grep -c '^   Thread [0-9]* ')" -eq 2 ]
expect_out '^         193 function calls \(11 primitive calls\) in'
expect_out '^         5 function calls in'
run "$HONE" report --threads --json p.prof
if command -v jq >/dev/null; then
  check "json threads" j '(.reports | length) == 2 and ([.reports[].total_calls] | sort) == [5, 193]'
fi
run "$HONE" report --raw nos.prof
expect_out '^   Times as measured \(--raw\)'
# By default, sampled (where perf_event_open is allowed), the hooks read no clock: --raw says its
# times are the samples as taken, and the JSON that the hooks were not timed.
run record "$T/unt.prof" ./prog
run "$HONE" report --json unt.prof
if grep -Eq '"times": ?"sampled-untimed"' <<<"$out"; then
  expect_out '"hooks_timed": ?false'
  run "$HONE" report --raw unt.prof
  expect_out '^   Times as taken \(--raw\): the hooks of the 2 sampled thread\(s\) read no clock'
  run "$HONE" report unt.prof
  expect_out '^   The hooks of sampled threads read no clock: --raw shows their samples as taken\.$'
  expect_out '^   \((measured when the run started|given by HONE_PROF_SAMPLE_SCALE)\)\.$'
  # A scale given: every sampled time is the samples times the period times it, and the header
  # and the JSON say where it came from.
  HONE_PROF_SAMPLE_SCALE=0.5 run record "$T/half.prof" ./prog
  run "$HONE" report half.prof
  expect_out '^   Each sample counts 0\.500 of its period: taking it cost the program 50\.00 us of CPU time$'
  expect_out '^   \(given by HONE_PROF_SAMPLE_SCALE\)\.$'
  run "$HONE" report --json half.prof
  expect_out '"sample_scale": ?0\.5,'
  expect_out '"sample_scale_how": ?"given"'
else
  expect_out '"hooks_timed": ?true'
  run "$HONE" report --raw unt.prof
  expect_out '^   Times as measured \(--raw\)'
fi
run "$HONE" report --json p.prof
expect_out '"hooks_timed": ?true'
run "$HONE" report --json nos.prof
expect_out '"hooks_timed": ?true'
run "$HONE" report --raw --json p.prof
if command -v jq >/dev/null; then
  raw_total=$(jq '.reports[0].total_time' <<<"$out")
  run "$HONE" report --json p.prof
  check "corrected total <= raw total" awk -v r="$raw_total" -v c="$(jq '.reports[0].total_time' <<<"$out")" 'BEGIN { exit !(c <= r) }'
  check "json raw flag" j '.corrected == true'
fi

# ---- refused files ----------------------------------------------------------------------------
run "$HONE" report missing.prof
expect_status 1; expect_err '^hone report: missing\.prof: '
head -c 100 p.prof >trunc.prof
run "$HONE" report trunc.prof
expect_status 1; expect_err '^hone report: trunc\.prof: .*trunc'
run "$HONE" report p.prof trunc.prof
expect_status 1; expect_err 'trunc\.prof'; expect_no_out 'function calls'
printf 'not a stats file at all, not even close............................................' >junk.prof
run "$HONE" report junk.prof
expect_status 1; expect_err '^hone report: junk\.prof: '
# Corrupt inside: every byte of the second quarter overwritten.
cp p.prof corrupt.prof
size=$(stat -c %s p.prof)
head -c $((size / 4)) /dev/zero | tr '\0' '\377' | dd of=corrupt.prof bs=1 seek=$((size / 4)) conv=notrunc status=none
run "$HONE" report corrupt.prof
expect_status 1; expect_err '^hone report: corrupt\.prof: '
# Another format version (the u32 after magic and byte-order mark) and another architecture (the
# byte order, and the ELF machine number at offset 32) are refused by name.
cp p.prof version.prof
printf '\143\000\000\000' | dd of=version.prof bs=1 seek=12 conv=notrunc status=none
run "$HONE" report version.prof
expect_status 1; expect_err '^hone report: version\.prof: .*version'
cp p.prof endian.prof
printf '\001\002\003\004' | dd of=endian.prof bs=1 seek=8 conv=notrunc status=none
run "$HONE" report endian.prof
expect_status 1; expect_err '^hone report: endian\.prof: written on a machine of the other byte order \(big-endian\)'
cp p.prof arch.prof
printf '\267\000\000\000' | dd of=arch.prof bs=1 seek=32 conv=notrunc status=none
other=aarch64
if [ "$(uname -m)" = aarch64 ]; then other=x86_64; printf '\076\000\000\000' | dd of=arch.prof bs=1 seek=32 conv=notrunc status=none; fi
run "$HONE" report arch.prof
expect_status 1; expect_err "^hone report: arch\\.prof: written for another architecture \\($other, ELF machine"

# ---- a non-PIE build resolves too; a rebuilt or missing binary falls back to addresses ---------
$CC -g -O0 -finstrument-functions -pthread -no-pie prog.c -o prog-nopie
run record "$T/np.prof" ./prog-nopie
run "$HONE" report --strip-dirs np.prof
expect_status 0
expect_out '^    177/1 .* prog\.c:5\(fib\)$'
sed 's/volatile int sink;/volatile int sink, other_sink;/' prog.c >prog2.c
$CC -g -O0 -finstrument-functions -pthread prog2.c -o prog
run "$HONE" report p.prof
expect_status 0
expect_err 'prog: not the file that was recorded \(its build-id differs\)'
check "warned once" [ "$(printf '%s\n' "$err" | grep -c 'build-id differs')" -eq 1 ]
expect_out '^    177/1 .* /.*prog:0\(0x[0-9a-f]+\)$'
rm -f prog
run "$HONE" report p.prof
expect_status 0
expect_err 'prog: cannot be read'

# ---- the other compiler: clang emits no .debug_aranges and uses DWARF 5's file 0 -------------
for other in gcc clang; do
  [ "$(basename "$CC")" = "$other" ] && continue
  command -v "$other" >/dev/null || continue
  "$other" -g -O0 -finstrument-functions -pthread prog2.c -o prog-$other
  run record "$T/$other.prof" ./prog-$other
  run "$HONE" report "$other.prof"
  expect_status 0
  expect_out "^    177/1 .* /.*prog2\\.c:5\\(fib\\)\$"
  expect_out "^        9 .* /.*prog2\\.c:9\\(leaf\\)\$"
done

# ---- a shared library and a forked child ---------------------------------------------------
# lib_work() lives in an instrumented shared library (mapped at its own bias); the parent calls it
# twice, the forked child three times and writes its own file, FILE.<pid>; merged, 5.
cat >lib.c <<'EOF2'
static volatile int lib_sink;
static void lib_inner(void) { lib_sink++; }
void lib_work(void) { lib_inner(); }
EOF2
cat >forker.c <<'EOF2'
#include <sys/wait.h>
#include <unistd.h>
void lib_work(void);
int main(void) {
  lib_work();
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 3; i++) lib_work();
    return 0;
  }
  waitpid(pid, NULL, 0);
  lib_work();
  return 0;
}
EOF2
$CC -g -O0 -finstrument-functions -fPIC -shared lib.c -o libwork.so
$CC -g -O0 -finstrument-functions forker.c -o forker -L. -lwork -Wl,-rpath,"$T"
run record "$T/f.prof" ./forker
expect_status 0
child=$(ls f.prof.* 2>/dev/null | head -1)
check "the child wrote f.prof.<pid>" [ -n "$child" ]
run "$HONE" report --strip-dirs f.prof
expect_status 0
expect_out '^        2 .* lib\.c:3\(lib_work\)$'
expect_out '^        2 .* lib\.c:2\(lib_inner\)$'
run "$HONE" report --strip-dirs f.prof "$child"
expect_status 0
expect_out '^        5 .* lib\.c:3\(lib_work\)$'
# The child starts empty: main's frame was entered before the fork, in the parent only.
expect_out '^        1 .* forker\.c:4\(main\)$'

# ---- usage --------------------------------------------------------------------------------
run "$HONE" report
expect_status 2; expect_err 'no stats file'
run "$HONE" report --bogus p.prof
expect_status 2; expect_err "unknown option"
# Options after the file names are options too (`hone report p.prof --sort tottime`).
run "$HONE" report p.prof --sort tottime --limit 1
expect_status 0; expect_out '^   Ordered by: internal time$'; expect_out 'List reduced from 8 to 1'
# A missing argument is named as such.
run "$HONE" report p.prof --sort
expect_status 2; expect_err "option '--sort' needs an argument"
run "$HONE" report p.prof -l
expect_status 2; expect_err "option '-l' needs an argument"
run "$HONE" report --help
expect_status 0; expect_out '^usage: hone report'
done_testing
