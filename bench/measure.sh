#!/usr/bin/env bash
# measure.sh: the measure layer's targets, hone beside Google Benchmark in one run —
# (1) the Timer's loop overhead on an empty body (target: under 0.5 ns per iteration),
# (2) a dependent chain of N and 2N multiplications (target: a 2N/N ratio of 2.00 ± 0.03),
# (3) both bodies timed by Google Benchmark. Env: HONE_BUILD (absolute build dir), HONE_SRC.
#
# Figures are the best trial's per-iteration time, as python -m timeit reports ("best of"): on a
# shared machine other processes only ever add time, so the best trial is the work's own.
set -euo pipefail
bin="$HONE_BUILD/bench/bench_measure"
gb="$HONE_BUILD/bench/bench_measure_gbench"
N=1000
if [ ! -x "$bin" ]; then
  echo "measure: $bin not built"
  exit 1
fi

declare -A h
while read -r k v; do h[$k]=$v; done < <("$bin" "$N")

have_gb=0
if [ -x "$gb" ] && command -v jq >/dev/null 2>&1; then
  have_gb=1
  # Repetitions interleaved at random across the benchmarks, as hone alternates N and 2N.
  json=$("$gb" --benchmark_repetitions=30 --benchmark_min_time=0.01 \
    --benchmark_enable_random_interleaving=true --benchmark_format=json 2>/dev/null)
  read -r g_empty g_n g_2n g_ratio g_unc g_ratio_best < <(jq -r --arg n "$N" --arg n2 "$((2 * N))" '
    def times($name): [.benchmarks[] | select(.run_type == "iteration" and .run_name == $name)
                       | .real_time];
    def mean: add / length;
    def sd: mean as $m | (map((. - $m) * (. - $m)) | add) / (length - 1) | sqrt;
    times("BM_empty") as $e | times("BM_chain/\($n)") as $a | times("BM_chain/\($n2)") as $b
    | (($b | mean) / ($a | mean)) as $r
    | [($e | min), ($a | min), ($b | min), $r,
       $r * ((($a | sd) / ($a | mean)) as $x | (($b | sd) / ($b | mean)) as $y
             | ($x * $x + $y * $y) | sqrt),
       ($b | min) / ($a | min)] | @tsv' <<<"$json")
fi

fmt() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.3f us", v / 1000; else printf "%.3f ns", v }'; }
row() { printf '  %-36s %-20s %s\n' "$1" "$2" "$3"; }
gbv() { if [ $have_gb = 1 ]; then "$@"; else echo "n/a"; fi; }

echo "hone's Timer (30 trials, autorange to 10 ms) vs Google Benchmark (30 repetitions of"
echo "at least 10 ms), same bodies, same run; best per-iteration times."
echo
row "" "hone" "Google Benchmark"
row "empty loop, per iteration" "$(fmt "${h[empty_loop_ns]}")" "$(gbv fmt "${g_empty:-0}")"
row "chain of N=$N, per iteration" "$(fmt "${h[chain_N_ns]}")" "$(gbv fmt "${g_n:-0}")"
row "chain of 2N=$((2 * N)), per iteration" "$(fmt "${h[chain_2N_ns]}")" "$(gbv fmt "${g_2n:-0}")"
row "2N/N ratio of the best times" "${h[ratio_best]}" "$(gbv printf %.4f "${g_ratio_best:-0}")"
# "±" is two bytes in UTF-8 and printf pads bytes: one more column of width for it.
printf '  %-37s %-21s %s\n' "2N/N ratio of means ± uncertainty" \
  "$(printf '%.3f ± %.3f' "${h[ratio]}" "${h[ratio_unc]}")" \
  "$(gbv printf '%.3f ± %.3f' "${g_ratio:-0}" "${g_unc:-0}")"
if [ $have_gb = 1 ]; then
  row "hone / Google Benchmark, chain of N" \
    "$(awk -v a="${h[chain_N_ns]}" -v b="$g_n" 'BEGIN { printf "%.3f", a / b }')" ""
else
  echo "  (Google Benchmark not built: scripts/install-deps --bench, then make bench)"
fi
echo
echo "  also: hone_stmt_fn (a call per iteration) costs $(fmt "${h[empty_stmt_ns]}") per iteration;"
echo "  one step of the chain takes ${h[cycles_per_step]} ticks of the cycle counter;"
echo "  spread of hone's trials (stdev/mean): N ${h[chain_N_cv]}, 2N ${h[chain_2N_cv]}"
echo

met() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "NOT met"; fi; }
echo "targets:"
echo "  (1) Timer loop overhead under 0.5 ns per iteration: $(fmt "${h[empty_loop_ns]}") — $(met "${h[empty_loop_ns]} < 0.5")"
echo "  (2) 2N/N ratio 2.00 ± 0.03: ${h[ratio_best]} — $(met "${h[ratio_best]} >= 1.97 && ${h[ratio_best]} <= 2.03")"
echo "      (the ratio of means, ${h[ratio]} ± ${h[ratio_unc]}, carries the machine's noise:" \
  "$(met "${h[ratio]} >= 1.97 && ${h[ratio]} <= 2.03") on its value)"
