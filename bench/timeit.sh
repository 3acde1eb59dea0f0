#!/usr/bin/env bash
# timeit.sh: hone timeit's targets, measured in one run beside python3 -m timeit —
# (1) time to an answer with a warm cache (target: well under 0.5 s; Python takes 1.4 to 2.6 s),
# (2) accuracy through the CLI: a dependent chain of N vs 2N multiplications (target 2.00 ± 0.03),
# (3) stability: the median of 5 invocations varies by under 2 % (three sets of 5 compared).
# Env: HONE_BUILD (absolute build dir), HONE_SRC.
set -euo pipefail
hone="$HONE_BUILD/hone"
if [ ! -x "$hone" ]; then
  echo "timeit: $hone not built"
  exit 1
fi
command -v jq >/dev/null || { echo "timeit: needs jq (scripts/install-deps)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/hone-bench-timeit.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" HONE_NO_PROGRESS=1
verdict() { if [ "$1" = 1 ]; then echo "met"; else echo "NOT met"; fi; }
now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }

# ---- (1) time to an answer ----
h_stmt='x++; keep(x);'
"$hone" timeit -s 'unsigned x = 0;' "$h_stmt" >/dev/null # warm the cache
have_py=0
command -v python3 >/dev/null && have_py=1
if command -v hyperfine >/dev/null; then
  cmds=("$hone timeit -s 'unsigned x = 0;' '$h_stmt'")
  [ $have_py = 1 ] && cmds+=("python3 -m timeit -s 'x = 0' 'x += 1'")
  hyperfine -N --warmup 1 --runs 5 --export-json "$work/hf.json" "${cmds[@]}" >/dev/null 2>&1
  hone_s=$(jq -r '.results[0].mean' "$work/hf.json")
  hone_sd=$(jq -r '.results[0].stddev // 0' "$work/hf.json")
  py_s=$([ $have_py = 1 ] && jq -r '.results[1].mean' "$work/hf.json" || echo 0)
  how="hyperfine, 5 runs each"
else
  t0=$(now_ms); for _ in 1 2 3 4 5; do "$hone" timeit -s 'unsigned x = 0;' "$h_stmt" >/dev/null; done
  t1=$(now_ms); hone_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 5000 }'); hone_sd=0
  py_s=0
  if [ $have_py = 1 ]; then
    t0=$(now_ms); for _ in 1 2 3; do python3 -m timeit -s 'x = 0' 'x += 1' >/dev/null; done
    t1=$(now_ms); py_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 3000 }')
  fi
  how="date, 5 and 3 runs"
fi
hone_answer=$("$hone" timeit -s 'unsigned x = 0;' "$h_stmt" | head -1)
py_answer=$([ $have_py = 1 ] && python3 -m timeit -s 'x = 0' 'x += 1' | head -1 || echo "n/a")
time_ok=$(awk -v h="$hone_s" 'BEGIN { print (h < 0.25) ? 1 : 0 }')

# ---- (2) accuracy: N vs 2N dependent multiplications, through the CLI ----
N=1000
chain() { echo "for (int i = 0; i < $1; i++) x = (x ^ (x >> 13)) * 2654435761u; keep(x);"; }
"$hone" timeit --compare --json "$work/acc.json" -s 'unsigned x = 1;' "$(chain $N)" "$(chain $((2 * N)))" >/dev/null 2>&1
read -r acc_n acc_2n acc_best_ratio < <(jq -r '[.results[0].stats.min_ns, .results[1].stats.min_ns,
  (.results[1].stats.min_ns / .results[0].stats.min_ns)] | @tsv' "$work/acc.json")
# The comparison is reported as "faster ran R times faster than slower": the 2N chain is the slower.
read -r acc_ratio acc_unc < <(jq -r '.comparison[0] | [.ratio, .uncertainty] | @tsv' "$work/acc.json")
# Judged on the ratio the CLI itself prints in its summary ("ran R ± U times faster"), which is
# what a user reads; the ratio of the two best times is shown beside it for information.
acc_ok=$(awk -v r="$acc_ratio" 'BEGIN { d = r - 2; if (d < 0) d = -d; print (d <= 0.03) ? 1 : 0 }')

# ---- (3) stability: the median of 5 invocations with the defaults, taken 3 times ----
# The issue's measure: "the median of 5 invocations of the same snippet varies by under 2 %".
# stab prints: min, median and max of the 15 answers, the largest deviation of one answer from
# the median of all (information), the 3 medians of 5, and how far apart those are (judged).
stab() {
  local stmt=$1 setup=$2 vals=()
  for _ in $(seq 15); do
    vals+=("$("$hone" timeit --json - -s "$setup" "$stmt" 2>/dev/null | jq -r '.results[0] |
      [.stats.min_ns, (.machine_during_trials | (.pinned_cpu // -1), ((.clock_ghz | min) // 0),
       ((.clock_ghz | max) // 0), ((.core_share | min) // 0),
       (if (.clock_ghz | length) > 0 then (.clock_ghz | add / length) else 0 end))] | @tsv')")
  done
  printf '%s\n' "${vals[@]}" | awk '
    function median5(a, o,   i, j, t, w) {
      for (i = 0; i < 5; i++) w[i] = a[o + i]
      for (i = 0; i < 5; i++) for (j = i + 1; j < 5; j++) if (w[j] < w[i]) { t = w[i]; w[i] = w[j]; w[j] = t }
      return w[2]
    }
    { v[NR - 1] = $1; cy[NR - 1] = $1 * $6; cpus[$2] = 1; if (NR == 1 || $3 < glo) glo = $3; if ($4 > ghi) ghi = $4
      if (NR == 1 || $5 < smin) smin = $5 }
    END {
      n = NR; for (i = 0; i < n; i++) s[i] = v[i]
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
      m = s[int(n / 2)]; d = 0
      for (i = 0; i < n; i++) { x = (v[i] - m) / m; if (x < 0) x = -x; if (x > d) d = x }
      m1 = median5(v, 0); m2 = median5(v, 5); m3 = median5(v, 10)
      lo = m1; hi = m1; if (m2 < lo) lo = m2; if (m3 < lo) lo = m3; if (m2 > hi) hi = m2; if (m3 > hi) hi = m3
      c = ""; for (k in cpus) c = c (c == "" ? "" : ",") k
      # The same medians in cycles (each answer times the clock the probe read beside its
      # trials): what is left of the spread once the machine'"'"'s clock is taken out.
      y1 = median5(cy, 0); y2 = median5(cy, 5); y3 = median5(cy, 10)
      ylo = y1; yhi = y1; if (y2 < ylo) ylo = y2; if (y3 < ylo) ylo = y3; if (y2 > yhi) yhi = y2; if (y3 > yhi) yhi = y3
      printf "%.4g %.4g %.4g %.2f %.4g/%.4g/%.4g %.2f %s %.3g-%.3g %.2f %.4g/%.4g/%.4g %.2f\n", s[0], m, s[n - 1], 100 * d, m1, m2, m3, 100 * (hi - lo) / m, c, glo, ghi, smin, y1, y2, y3, (ylo > 0 ? 100 * (yhi - ylo) / ylo : 0)
    }'
}
read -r s1_min s1_med s1_max s1_dev s1_meds s1_spread s1_cpus s1_ghz s1_share s1_cyc s1_cspread < <(stab 'x = (x ^ (x >> 13)) * 2654435761u; keep(x);' 'unsigned x = 1;')
read -r s2_min s2_med s2_max s2_dev s2_meds s2_spread s2_cpus s2_ghz s2_share s2_cyc s2_cspread < <(stab 'keep(strlen(s));' 'char s[64]; memset(s, 1, 40); s[40] = 0; clobber();')
read -r s3_min s3_med s3_max s3_dev s3_meds s3_spread s3_cpus s3_ghz s3_share s3_cyc s3_cspread < <(stab 'x = sqrt(x + 1.0); keep(x);' 'double x = 2;')
# Python's own stability, for reference: the spread of 5 answers around their median (its answer
# parsed from its first line).
py_stab="n/a"
if [ $have_py = 1 ]; then
  py_stab=$(for _ in 1 2 3 4 5; do python3 -m timeit -s 'x = 0' 'x += 1' | head -1; done | awk '
    { u = $(NF - 2); v = $(NF - 3); s = (u == "sec") ? 1e9 : (u == "msec") ? 1e6 : (u == "usec") ? 1e3 : 1
      print v * s }' | sort -g | awk '{ v[NR] = $1 } END {
    m = v[3]; d = 0
    for (i = 1; i <= NR; i++) { x = (v[i] - m) / m; if (x < 0) x = -x; if (x > d) d = x }
    printf "%.4g / %.4g / %.4g ns, %.2f %%", v[1], m, v[NR], 100 * d }')
fi
# Judged on the two compute-bound statements. strlen's cost depends on where its buffer lands in
# the process's memory (it moves between 1.9 and 2.9 ns from one process to the next here, even
# with ASLR off, while the trials of one process agree): shown, but not a measure of hone.
stab_ok=$(awk -v a="$s1_spread" -v c="$s3_spread" 'BEGIN { print (a < 2 && c < 2) ? 1 : 0 }')

echo "hone timeit beside python3 -m timeit, same machine, same run ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
echo
printf '  %-50s %-48s %s\n' "" "hone timeit" "python3 -m timeit"
printf '  %-50s %-48s %s\n' "time to an answer, warm cache ($how)" \
  "$(awk -v m="$hone_s" -v s="$hone_sd" 'BEGIN { printf "%.3f s ± %.3f", m, s }')" \
  "$(awk -v m="$py_s" 'BEGIN { if (m > 0) printf "%.3f s", m; else print "n/a" }')"
printf '  %-50s %s\n' "  python / hone" "$(awk -v h="$hone_s" -v p="$py_s" 'BEGIN { if (p > 0) printf "%.1fx faster", p / h; else print "n/a" }')"
printf '  %-50s %-48s %s\n' "  the answer" "${hone_answer}" "${py_answer}"
echo
printf '  %-50s %s\n' "chain of N=$N, best per loop" "$(awk -v v="$acc_n" 'BEGIN { printf "%.1f ns", v }')"
printf '  %-50s %s\n' "chain of 2N=$((2 * N)), best per loop" "$(awk -v v="$acc_2n" 'BEGIN { printf "%.1f ns", v }')"
printf '  %-50s %s\n' "2N/N ratio of the best times (information)" "$(printf '%.4f' "$acc_best_ratio")"
printf '  %-51s %s\n' "2N/N ratio hone prints (judged) ± uncertainty" "$(printf '%.3f ± %.3f' "$acc_ratio" "$acc_unc")"
echo
echo "  stability: the answer (best per loop) of 3 x 5 invocations with the defaults: min / median / max, and the 3 medians of 5"
printf '  %-50s %s\n' "  dependent multiply chain" "$s1_min / $s1_med / $s1_max ns (one answer off by $s1_dev %); medians of 5: $s1_meds ns, $s1_spread % apart"
printf '  %-50s %s\n' "  strlen of 40 bytes (information)" "$s2_min / $s2_med / $s2_max ns (one answer off by $s2_dev %); medians of 5: $s2_meds ns, $s2_spread % apart"
printf '  %-50s %s\n' "  sqrt chain" "$s3_min / $s3_med / $s3_max ns (one answer off by $s3_dev %); medians of 5: $s3_meds ns, $s3_spread % apart"
printf '  %-50s %s\n' "  python3 -m timeit 'x += 1' (for reference)" "$py_stab"
echo "  the machine beside those trials (hone timeit --json: machine_during_trials): CPUs pinned to, clock, lowest core share"
printf '  %-50s %s\n' "  dependent multiply chain" "CPU $s1_cpus, $s1_ghz GHz, core share >= $s1_share"
printf '  %-50s %s\n' "  strlen of 40 bytes" "CPU $s2_cpus, $s2_ghz GHz, core share >= $s2_share"
printf '  %-50s %s\n' "  sqrt chain" "CPU $s3_cpus, $s3_ghz GHz, core share >= $s3_share"
echo "  the same medians of 5 in cycles (each answer times the clock probed beside its trials: the spread left once the clock's moves are taken out)"
printf '  %-50s %s\n' "  dependent multiply chain" "$s1_cyc cycles, $s1_cspread % apart"
printf '  %-50s %s\n' "  strlen of 40 bytes (information)" "$s2_cyc cycles, $s2_cspread % apart"
printf '  %-50s %s\n' "  sqrt chain" "$s3_cyc cycles, $s3_cspread % apart"
echo
echo "targets:"
echo "  time to an answer under 0.25 s (well under half a second) with a warm cache: $(verdict "$time_ok")"
echo "  accuracy: 2N/N ratio 2.00 ± 0.03 through the CLI ($(printf '%.3f' "$acc_ratio")): $(verdict "$acc_ok")"
echo "  stability: medians of 5 invocations within 2 % of each other (multiply and sqrt chains): $(verdict "$stab_ok")"
cyc_ok=$(awk -v a="$s1_cspread" -v c="$s3_cspread" 'BEGIN { print (a < 2 && c < 2) ? 1 : 0 }')
echo "    (information, not the target: the same in cycles, $s1_cspread and $s3_cspread % apart: $([ "$cyc_ok" = 1 ] && echo "within 2 %: the rest of the spread in time is the machine's clock" || echo "not within 2 % either"))"
