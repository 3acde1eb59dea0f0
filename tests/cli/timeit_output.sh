# timeit_output.sh: hone timeit's output for machines (--json, --csv) and comparisons (repeated
# --cflags and --cc, --compare with several statements).
. "$(dirname "$0")/lib.sh"
chain='x = (x ^ (x >> 13)) * 2654435761u; keep(x);'

# --json FILE: the text still goes to stdout; the file has every trial and the facts.
run "$HONE" timeit -n 1000 -r 3 --json "$T/one.json" -s 'unsigned x = 1;' "$chain"
expect_status 0; expect_out '^1000 loops, best of 3: '
j="$T/one.json"
check "json version 1" test "$(jq -r .version "$j")" = 1
check "json tool" test "$(jq -r .tool "$j")" = "hone timeit"
check "json machine facts" test "$(jq -r '(.machine.cpu | length > 0), (.machine.nproc >= 1), (.machine.kernel | startswith("Linux"))' "$j" | tr '\n' ' ')" = "true true true "
check "json clock" test "$(jq -r .clock.name "$j")" = monotonic
check "json repeat and setup" test "$(jq -r '.repeat, .setup' "$j" | tr '\n' '|')" = "3|unsigned x = 1;|"
check "json one result" test "$(jq -r '.results | length' "$j")" = 1
check "json loops" test "$(jq -r '.results[0].loops' "$j")" = 1000
check "json 3 trials, raw = per loop x loops" test "$(jq -r '.results[0] | [(.per_loop_ns | length), (.raw_ns | length), (((.raw_ns[0] - .per_loop_ns[0] * .loops) | fabs) < (1e-6 * .raw_ns[0]))] | @tsv' "$j")" = "$(printf '3\t3\ttrue')"
check "json stats consistent" test "$(jq -r '.results[0] | (.stats.min_ns == (.per_loop_ns | min)) and (.stats.max_ns == (.per_loop_ns | max)) and (.stats.n == 3)' "$j")" = true
check "json compiler and flags" test "$(jq -r '.results[0] | (.compiler.path | length > 0), (.compiler.version | length > 0), .cflags, .stmt' "$j" | tr '\n' '|')" = "true|true|-O2|$chain|"
check "json counters object" test "$(jq -r '.results[0].counters_per_loop | type' "$j")" = object
# --json -: JSON only, on stdout.
run "$HONE" timeit -n 100 -r 2 --json - -s 'unsigned x = 1;' "$chain"
expect_status 0
check "json on stdout parses" test "$(printf '%s' "$out" | jq -r '.results[0].loops')" = 100
expect_no_out 'loops, best of'
# -p is recorded as the process clock; autorange steps are listed.
run "$HONE" timeit -p -r 2 --target 0.002 --json - -s 'unsigned x = 1;' "$chain"
expect_status 0
check "json process clock" test "$(printf '%s' "$out" | jq -r '.clock.name')" = process
check "json autorange steps" test "$(printf '%s' "$out" | jq -r '.results[0].autorange | length > 1')" = true
run "$HONE" timeit -n 10 -r 1 --json "$T/no/such/dir/x.json" '1;'
expect_status 1; expect_err 'cannot write'

# --csv: a header and one row per variant.
run "$HONE" timeit -n 100 -r 2 --csv -s 'unsigned x = 1;' "$chain"
expect_status 0
check "csv header" test "$(printf '%s\n' "$out" | head -1)" = "label,cc,cflags,stmt,loops,repeat,best_ns,median_ns,mad_ns,min_ns,max_ns,mean_ns,stdev_ns,cycles_per_loop,instructions_per_loop"
check "csv one row" test "$(printf '%s\n' "$out" | wc -l)" -eq 2
expect_out ',-O2,.*,100,2,[0-9.e+-]+,'
run "$HONE" timeit --csv --json - '1;'
expect_status 2

# Repeated --cflags: every variant, a table and a summary relative to the fastest.
# (-O2 turns this loop into a few instructions, -O0 runs it: a margin no noisy machine hides.)
run "$HONE" timeit -r 3 --target 0.005 --cflags -O0 --cflags -O2 -s 'unsigned s = 0, k = 1;' \
  'keep(k); for (unsigned i = 0; i < 1000; i++) s += i * k; keep(s);'
expect_status 0
expect_out '^-O0: [0-9]+ loops?, best of 3: '; expect_out '^-O2: [0-9]+ loops?, best of 3: '
expect_out '^variant +loops +best +median'
expect_out '^  -O2 ran [0-9]+\.[0-9]{2} ± [0-9]+\.[0-9]{2} times faster than -O0$'
# The same as CSV: two rows; as JSON: the comparison with ratio and uncertainty.
run "$HONE" timeit -n 1000 -r 2 --csv --cflags -O0 --cflags -O1 -s 'unsigned x = 1;' "$chain"
expect_status 0; check "csv two rows" test "$(printf '%s\n' "$out" | wc -l)" -eq 3
expect_out '^-O0,'; expect_out '^-O1,'
run "$HONE" timeit -n 1000 -r 2 --json - --cflags -O0 --cflags -O1 -s 'unsigned x = 1;' "$chain"
expect_status 0
check "json two results, one comparison" test "$(printf '%s' "$out" | jq -r '[(.results | length), (.comparison | length), (.comparison[0].ratio > 0), (.comparison[0].uncertainty >= 0)] | @tsv')" = "$(printf '2\t1\ttrue\ttrue')"

# Repeated --cc: labelled by compiler.
if command -v clang >/dev/null && command -v gcc >/dev/null; then
  run "$HONE" timeit -n 1000 -r 2 --cc gcc --cc clang -s 'unsigned x = 1;' "$chain"
  expect_status 0; expect_out '^gcc: 1000 loops'; expect_out '^clang: 1000 loops'
  expect_out '^  (gcc|clang) ran .* times faster than (gcc|clang)$'
  # Both dimensions: four variants.
  run "$HONE" timeit -n 100 -r 1 --csv --cc gcc --cc clang --cflags -O0 --cflags -O2 -s 'unsigned x = 1;' "$chain"
  expect_status 0; check "csv four rows" test "$(printf '%s\n' "$out" | wc -l)" -eq 5
  expect_out '^"?clang -O2"?,clang,-O2,'
fi

# --compare: each STMT on its own.
run "$HONE" timeit --compare -n 1000 -r 2 -s 'char b[64] = "hello";' 'keep(strlen(b));' 'clobber(); keep(strlen(b) + strlen(b + 1));'
expect_status 0
expect_out '^keep\(strlen\(b\)\);: 1000 loops'
expect_out 'ran [0-9.]+ ± [0-9.]+ times faster than'
# One trial held up (here: a 20 ms sleep in the first trial of the first statement, as another
# process would hold it up) does not decide the comparison of two equal statements: the ratio
# is of the trials inside Tukey's fences. Setup runs again in every round: a file marks the
# sleep as done. Each trial runs 10^5 loops (about 60 us). What is asserted is the handling of
# the one trial the test holds up; a second one, held up by the machine (CI once gave a 4 ms
# stall in another trial of the same statement, 75 times the others, and with two of seven
# out Tukey's fences widen past both), is not the test's: such a run is discarded and the
# measurement repeated, up to 5 times. A run counts if no trial but the slept one is over 10
# times its statement's fastest (at 10x, one such trial inside the fences moves the ratio to
# at most 2.3).
tries=0
while :; do
  tries=$((tries + 1))
  rm -f "$T/held"
  run "$HONE" timeit --compare -n 100000 -r 7 --json - -i stdio.h \
    -s "FILE *held = fopen(\"$T/held\", \"r\"); int first = !held; if (held) fclose(held); unsigned x = 1; struct timespec ts = {0, 20000000};" \
    "if (first) { first = 0; fclose(fopen(\"$T/held\", \"w\")); nanosleep(&ts, NULL); } x = x * 3 + 1; keep(x);" 'x = x * 3 + 1; keep(x);'
  [ "$status" -eq 0 ] || break
  slow=$(printf '%s' "$out" | jq '[.results[] | (.per_loop_ns | min) as $m | .per_loop_ns[] | select(. > 10 * $m)] | length')
  if [ "$slow" = 1 ] || [ "$tries" -ge 5 ]; then break; fi
done
expect_status 0
check "one trial held up" test "$(printf '%s' "$out" | jq '[.results[0].per_loop_ns[] | select(. > 150)] | length')" = 1
check "no trial held up by the machine in $tries runs" test "$slow" = 1
check "an outlying trial does not make equal statements differ" test "$(printf '%s' "$out" | jq -r '.comparison[0].ratio < 3')" = true
# Compared variants are measured in rounds, each in turn (a burst of noise falls on all alike):
# with one loop per trial, each statement's trial appends its letter.
run "$HONE" timeit --compare -n 1 -r 5 -i stdio.h \
  "FILE *f = fopen(\"$T/order\", \"a\"); fputs(\"A\", f); fclose(f);" \
  "FILE *f = fopen(\"$T/order\", \"a\"); fputs(\"B\", f); fclose(f);"
expect_status 0
check "variants interleaved in rounds" test "$(cat "$T/order")" = ABABABABAB
# Every round's trials count: -r 7 in 5 rounds still gives 7 trials each, calibrated in the first.
run "$HONE" timeit --compare -r 7 --json - 'keep(1);' 'keep(2);'
expect_status 0
check "rounds in the JSON" test "$(printf '%s' "$out" | jq '.rounds')" = 5
check "every round's trials" test "$(printf '%s' "$out" | jq -c '[.results[] | (.per_loop_ns | length), (.autorange | length > 0), .stats.n]')" = '[7,true,7,7,true,7]'
run "$HONE" timeit --compare -r 3 -v 'keep(1);' 'keep(2);'
expect_status 0
check "raw times of all rounds" test "$(printf '%s\n' "$out" | grep -c '^raw times: [^,]*, [^,]*, [^,]*$')" = 2
run "$HONE" timeit -r 3 --json - 'keep(1);'
expect_status 0
check "a single variant in one round" test "$(printf '%s' "$out" | jq '.rounds')" = 1
# Without --compare, the STMTs are lines of one statement: one result.
run "$HONE" timeit -n 1000 -r 2 --json - -s 'unsigned x = 1;' "$chain" "$chain"
expect_status 0
check "lines of one statement" test "$(printf '%s' "$out" | jq -r '.results | length, .[0].stmt' | head -1)" = 1
# A variant that does not compile stops the comparison with status 2.
run "$HONE" timeit --compare -n 10 -r 1 'keep(1);' 'nope(;'
expect_status 2; expect_err '^stmt:1:'
# On a terminal, a progress line on stderr (rewritten in place, cleared at the end); none otherwise.
if command -v script >/dev/null; then
  run script -qec "env -u HONE_NO_PROGRESS '$HONE' timeit -n 1000 -r 3 -s 'unsigned x = 1;' '$chain'" /dev/null
  expect_status 0
  check "progress shown on a terminal" bash -c "printf '%s' \"\$1\" | grep -q \$'\\r\\033\\[Khone timeit: trial 3/3'" _ "$out"
  expect_out '1000 loops, best of 3'
fi
run env -u HONE_NO_PROGRESS "$HONE" timeit -n 1000 -r 3 -s 'unsigned x = 1;' "$chain"
# (Python's warning may come when a trial was held up on a busy machine; nothing else.)
expect_status 0
check "no progress line when stderr is not a terminal" test -z "$(printf '%s\n' "$err" | grep -v 'likely unreliable\|note: the CPU')"

# The machine beside the trials: the child pins itself to the CPU whose core it has most to itself
# (--cpu best, the default), to the CPU given, or nowhere; each trial's CPU, clock and core share
# are in the JSON.
run "$HONE" timeit -n 1000 -r 4 --json - -s 'unsigned x = 1;' "$chain"
expect_status 0
# (CPU numbers need not run from 0 to nproc - 1 in a cpuset: the one chosen is reused below.)
check "pinned to a CPU" test "$(printf '%s' "$out" | jq '.results[0].machine_during_trials.pinned_cpu >= 0')" = true
last=$(printf '%s' "$out" | jq '.results[0].machine_during_trials.pinned_cpu')
check "every trial on the pinned CPU" test "$(printf '%s' "$out" | jq '.results[0].machine_during_trials | (.pinned_cpu as $p | [.cpus[] == $p] | all) and (.cpus | length) == 4')" = true
if [ "$(uname -m)" = x86_64 ]; then
  check "a clock and a core share per trial" test "$(printf '%s' "$out" | jq '.results[0].machine_during_trials | (.clock_ghz | length) == 4 and all(.clock_ghz[]; . > 0.3 and . < 10) and all(.core_share[]; . > 0 and . <= 1)')" = true
  # The best trial in cycles: its time per loop times the clock probed beside that trial. How
  # near that comes to the chain's latency (a shift, an xor and a multiplication: 5 cycles on
  # x86-64) is bench/timeit.sh's to say: asserted here, with other tests running beside this one
  # in CI, it failed twice in four runs (7.13 and 4.27 cycles: a clock probed while the CPU was
  # shared), where a quiet machine gives 5.01-5.38.
  cyc=$(printf '%s' "$out" | jq '.results[0] | .machine_during_trials as $m | .per_loop_ns as $t
    | ([range(0; $t | length)] | min_by($t[.])) as $b
    | $m.best_cycles_per_loop / ($t[$b] * $m.clock_ghz[$b])')
  check "the best cycles are the best trial's time at its clock (ratio $cyc)" awk -v c="$cyc" 'BEGIN { exit !(c > 0.9999 && c < 1.0001) }'
  run "$HONE" timeit -n 1000 -r 4 -s 'unsigned x = 1;' "$chain"
  expect_status 0
  check "the text says the best trial in cycles" grep -Eq '^  clock: +best [0-9.]+ cycles per loop at the [0-9.]+ GHz probed beside it' <<<"$out"
fi
run "$HONE" timeit -n 1000 -r 3 --cpu any --json - -s 'unsigned x = 1;' "$chain"
expect_status 0
check "--cpu any pins nothing" test "$(printf '%s' "$out" | jq '.results[0].machine_during_trials.pinned_cpu')" = null
run "$HONE" timeit -n 1000 -r 3 --cpu "$last" --json - --compare -s 'unsigned x = 1;' "$chain" 'keep(x);'
expect_status 0
check "--cpu N in every round" test "$(printf '%s' "$out" | jq -c "[.results[].machine_during_trials.cpus[] == $last] | all")" = true
run "$HONE" timeit -n 1000 -r 3 -v --cpu "$last" -s 'unsigned x = 1;' "$chain"
expect_status 0; expect_out "^machine: .*CPU $last \\(pinned: --cpu\\)\$"
run "$HONE" timeit -n 10 -r 1 --cpu fast 'keep(1);'
expect_status 2; expect_err "--cpu needs best, any or a CPU number \\(0 to [0-9]+\\), not 'fast'"
run "$HONE" timeit -n 10 -r 1 --cpu 1000 'keep(1);'
expect_status 1; expect_err 'cannot run on CPU 1000 \(--cpu\): Invalid argument'

done_testing
