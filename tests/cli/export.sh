# export.sh: `hone report --format F [-o FILE]` read back by the real readers — Python's pstats,
# callgrind_annotate, speedscope's published JSON schema, flamegraph.pl's folded lines, the
# Trace Event JSON — each agreeing with `hone report --json` on the call graph of report.sh's
# program (exact counts: fib 177/1, even and odd 4/1, leaf 9 from three callers); atomic writes;
# malformed input refused with a clear message.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
CHECK="python3 $HONE_SRC/tests/cli/export_check.py"

cp "$HONE_SRC/tests/cli/fixtures/callgraph.c" "$T/prog.c"
cd "$T"
$CC -g -O0 -finstrument-functions -pthread prog.c -o prog || { echo "cannot build the fixture"; exit 1; }
# Times by the calibrated correction, not by samples: this run lasts well under a millisecond, so
# most functions would get no 100 us sample, a cost of 0, and callgrind_annotate (rightly) lists
# no function of cost 0; the comparison of every function's figures needs them all non-zero.
HONE_PROF_SAMPLE=off "$HONE" record -o p.prof -- ./prog >/dev/null 2>&1
check "recorded p.prof" [ -s p.prof ]
"$HONE" report --json p.prof >rep.json
"$HONE" report --json --callers . p.prof >callers.json
"$HONE" report --json --callees . p.prof >callees.json
check "the report has fib 177/1" grep -q '"ncalls": 177' rep.json

# ---- pstats: Python's own reader -------------------------------------------------------------
run "$HONE" report --format pstats -o p.pstats p.prof
expect_status 0; expect_empty_err
check "pstats file written" [ -s p.pstats ]
run $CHECK pstats rep.json callers.json p.pstats
expect_status 0
run python3 -c 'import pstats, sys; pstats.Stats(sys.argv[1]).sort_stats("cumulative").print_stats()' p.pstats
expect_status 0
expect_out '^ +198 function calls \(16 primitive calls\) in'
expect_out '^ +177/1 .*prog\.c:5\(fib\)$'
run python3 -c 'import pstats, sys; pstats.Stats(sys.argv[1]).print_callers("leaf")' p.pstats
expect_out 'prog\.c:9\(leaf\) +<- +2 .*prog\.c:10\(caller_a\)$'
expect_out '^ +3 .*prog\.c:11\(caller_b\)$'
expect_out '^ +4 .*prog\.c:12\(worker\)$'
# `python3 -m pstats` reads it as well (its shell, fed one command).
run bash -c 'printf "stats 1\nquit\n" | python3 -m pstats p.pstats'
expect_status 0; expect_out '198 function calls'

# ---- callgrind: valgrind's callgrind_annotate ---------------------------------------------
run "$HONE" report --format callgrind -o p.callgrind p.prof
expect_status 0
check "callgrind header" [ "$(head -2 p.callgrind | tr '\n' '|')" = "# callgrind format|version: 1|" ]
run callgrind_annotate --inclusive=yes --threshold=100 p.callgrind
expect_status 0
expect_out 'PROGRAM TOTALS'
printf '%s\n' "$out" >annotate.txt
run $CHECK callgrind rep.json callees.json p.callgrind annotate.txt
expect_status 0

# ---- speedscope: its published schema --------------------------------------------------------
# The schema ships in the speedscope npm package; fetched once per build tree.
schema_dir=${HONE_BUILD:-$T}/test-cache/speedscope
schema=$schema_dir/package/dist/release/file-format-schema.json
if [ ! -s "$schema" ]; then
  mkdir -p "$schema_dir"
  (cd "$schema_dir" && npm pack --silent speedscope@1.25.0 >/dev/null 2>&1 &&
     tar xzf speedscope-1.25.0.tgz package/dist/release/file-format-schema.json)
fi
check "the speedscope schema from npm" [ -s "$schema" ]
for w in time calls; do
  run "$HONE" report --format speedscope --weight $w -o p.$w.speedscope.json p.prof
  expect_status 0
  run $CHECK speedscope rep.json p.$w.speedscope.json "$schema" $w
  expect_status 0
done
# The schema check can fail: a file without $schema's value is refused.
sed 's|"\$schema":"[^"]*"|"$schema":"nope"|' p.time.speedscope.json >bad.speedscope.json
run $CHECK speedscope rep.json bad.speedscope.json "$schema"
check "a wrong \$schema fails the check" [ "$status" -ne 0 ]

# ---- folded and chrome: call counts ----------------------------------------------------------
run "$HONE" report --format folded --weight calls -o p.folded p.prof
expect_status 0
check "folded: one path line per distinct stack" grep -q '^.*prog\.c:14(main);.*prog\.c:10(caller_a);.*prog\.c:9(leaf) 2$' p.folded
run $CHECK folded rep.json p.folded
expect_status 0
run "$HONE" report --format folded p.prof
expect_status 0; expect_out '^[^ ]+ [0-9]+$'
run "$HONE" report --format chrome -o p.trace.json p.prof
expect_status 0
run $CHECK chrome rep.json p.trace.json
expect_status 0
run jq -e '[.traceEvents[] | select(.ph == "M" and .name == "thread_name")] | length == 2' p.trace.json
expect_status 0

# ---- atomic writes and errors ----------------------------------------------------------------
echo "precious" >keep.out
run "$HONE" report --format pstats -o keep.out trunc-missing.prof
expect_status 1
check "a failed export leaves the old file" [ "$(cat keep.out)" = precious ]
check "and no temporary file" [ -z "$(ls keep.out.tmp.* 2>/dev/null)" ]
head -c 200 p.prof >trunc.prof
for f in pstats callgrind speedscope folded chrome; do
  run "$HONE" report --format $f -o t.$f trunc.prof
  expect_status 1; expect_err '^hone report: trunc\.prof: .*trunc'
  check "nothing written for a truncated file ($f)" [ ! -e t.$f ]
done
run "$HONE" report --format nope p.prof
expect_status 2; expect_err "unknown format 'nope' \(known: folded, pstats, speedscope, chrome, callgrind"
run "$HONE" report --format pstats -o "$T/no/such/dir/x.pstats" p.prof
expect_status 1; expect_err 'no/such/dir/x\.pstats'
run "$HONE" report -o x.out p.prof
expect_status 2; expect_err -- '--output needs --format'
run "$HONE" report --format folded --weight bytes p.prof
expect_status 2; expect_err "expected time or calls"
# A truncated pstats file is refused by Python's reader: the exports are whole or absent.
head -c 100 p.pstats >cut.pstats
run python3 -c 'import pstats, sys; pstats.Stats(sys.argv[1])' cut.pstats
check "python refuses a cut pstats file" [ "$status" -ne 0 ]
done_testing
