# report_diff.sh: `hone report --diff A B` — two runs of one program, the second changed
# (fib(10) -> fib(12): 177 -> 465 calls; caller_b's loop 3 -> 5 calls of leaf; a new function),
# compared per function in text and JSON, sorted by change; files of different programs and
# truncated files refused with a clear message.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
cd "$T"
prog() { # prog FIB CALLS_B EXTRA: the call graph of report.sh, with knobs
  cat <<EOF2
#include <stdio.h>
static volatile int sink;
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static void leaf(int i) { sink += i; }
static void caller_b(void) { for (int i = 0; i < $2; i++) leaf(i); }
$3
int main(void) {
  sink += fib($1);
  caller_b();
  printf("%d\n", sink);
  return 0;
}
EOF2
}
mkdir a b
prog 10 3 "" >prog.c
$CC -g -O0 -finstrument-functions prog.c -o a/prog || { echo "cannot build"; exit 1; }
(cd a && "$HONE" record -o ../a.prof -- ./prog >/dev/null 2>&1)
prog 12 5 "static void added(void) { sink++; }" | sed 's/  caller_b();/  caller_b();\n  added();/' >prog.c
$CC -g -O0 -finstrument-functions prog.c -o b/prog
(cd b && "$HONE" record -o ../b.prof -- ./prog >/dev/null 2>&1)
check "both recorded" [ -s a.prof -a -s b.prof ]

run "$HONE" report --diff --strip-dirs -s calls a.prof b.prof
expect_status 0; expect_empty_err
expect_out '^   A: a\.prof$'
expect_out '^   B: b\.prof$'
expect_out '^ +[0-9]+ -> [0-9]+ function calls \([0-9]+ -> [0-9]+ primitive calls\)'
expect_out '^   Ordered by: change in call count$'
expect_out '^ +177/465 .* prog\.c:3\(fib\)$'
expect_out '^ +3/5 .* prog\.c:4\(leaf\)$'
expect_out '^ +-/1 .* new .* prog\.c:6\(added\)$'
check "fib (+288 calls) first" [ "$(printf '%s\n' "$out" | grep -m1 'prog\.c:' | sed 's/.*(//')" = "fib)" ]
# Totals: a = 1 + 177 + 1 + 3 = 182, b = 1 + 465 + 1 + 5 + 1 = 473.
expect_out '^ +182 -> 473 function calls'

run "$HONE" report --diff --json -s calls a.prof b.prof
expect_status 0
if command -v jq >/dev/null; then
  j() { jq -e "$1" <<<"$out" >/dev/null; }
  check "json kind" j '.version == 1 and .kind == "diff" and .sort == "calls"'
  check "json fib delta" j '.rows[0].function == "fib" and .rows[0].delta.ncalls == 288 and .rows[0].a.ncalls == 177 and .rows[0].b.ncalls == 465'
  check "json new function" j '.rows[] | select(.function == "added") | .a == null and .b.ncalls == 1'
  check "json sorted by |delta calls|" j '[.rows[].delta.ncalls | fabs] | . == (sort | reverse)'
  check "json totals" j '.a.total_calls == 182 and .b.total_calls == 473'
fi
# Default order: the change in tottime; --limit applies.
run "$HONE" report --diff --limit 2 a.prof b.prof
expect_status 0
expect_out '^   Ordered by: change in internal time$'
expect_out 'List reduced from 5 to 2 due to restriction <2>'
run "$HONE" report --diff --json a.prof b.prof
if command -v jq >/dev/null; then
  check "json sorted by |delta tottime|" j '[.rows[].delta.tottime | fabs] | . == (sort | reverse)'
fi

# ---- refused ------------------------------------------------------------------------------
printf 'int main(void) { return 0; }\n' >other.c
$CC -g -O0 -finstrument-functions other.c -o other
"$HONE" record -o o.prof -- ./other >/dev/null 2>&1
run "$HONE" report --diff a.prof o.prof
expect_status 1
expect_err "^hone report: a\\.prof and o\\.prof record different programs \\('prog' and 'other'\\)"
expect_no_out 'function calls'
head -c 150 b.prof >cut.prof
run "$HONE" report --diff a.prof cut.prof
expect_status 1; expect_err '^hone report: cut\.prof: .*trunc'; expect_no_out 'function calls'
run "$HONE" report --diff a.prof
expect_status 2; expect_err 'compares two stats files, got 1'
run "$HONE" report --diff --threads a.prof b.prof
expect_status 2; expect_err -- '--diff goes with'
run "$HONE" report --diff -s name a.prof b.prof
expect_status 1; expect_err "cannot sort a comparison by 'name'"
done_testing
