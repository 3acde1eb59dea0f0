#!/usr/bin/env bash
# bench_cmd.sh: hone bench beside hyperfine (Debian's package), same commands, same run —
# (1) the same commands' means agree within 3 %,
# (2) hone's own cost per run (spawn, wait, accounting) is no larger than hyperfine's, both with
#     --no-counters and with hone's default (counters inherited by each run): the whole
#     tool's elapsed time over N runs of a static do-nothing program, divided by N, and the mean
#     each reports for it (a static binary, so that the dynamic loader's milliseconds do not
#     drown the tools' own cost).
# The two tools alternate (hone, hyperfine, hone, ...) K times and the medians are compared, so
# drift on a shared machine falls on both. Env: HONE_BUILD (absolute build dir).
set -euo pipefail
hone="$HONE_BUILD/hone"
[ -x "$hone" ] || { echo "bench_cmd: $hone not built"; exit 1; }
command -v jq >/dev/null || { echo "bench_cmd: needs jq (scripts/install-deps)"; exit 1; }
if ! command -v hyperfine >/dev/null; then
  echo "bench_cmd: hyperfine missing (scripts/install-deps --bench): only hone's figures"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/hone-bench-cmd.XXXXXX")
trap 'rm -rf "$work"' EXIT
export HONE_NO_PROGRESS=1
load() { cut -d' ' -f1-3 /proc/loadavg; }
now_ns() { date +%s%N; }
K=7
med3() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf 'int main(void) { return 0; }\n' >"$work/noop.c"
if ${CC:-cc} -O2 -static -o "$work/noop" "$work/noop.c" 2>/dev/null; then
  noop="$work/noop" noop_name="a static no-op"
else
  noop=/bin/true noop_name="/bin/true"
fi

cpu_cmd="sh -c 'i=0; while [ \$i -lt 30000 ]; do i=\$((i+1)); done'"
cmds=("sleep 0.02" "$cpu_cmd")
runs=20 N=300
load_before=$(load)
declare -a h_sleep h_cpu f_sleep f_cpu h_true_pr f_true_pr h_true_mean f_true_mean hc_true_pr hc_true_mean
for k in $(seq 0 $((K - 1))); do
  "$hone" bench --runs $runs --warmup 2 --no-counters --json "$work/h.json" "${cmds[@]}" >/dev/null
  h_sleep[k]=$(jq '.commands[0].stats.wall_ns.mean / 1e9' "$work/h.json")
  h_cpu[k]=$(jq '.commands[1].stats.wall_ns.mean / 1e9' "$work/h.json")
  t0=$(now_ns); "$hone" bench --runs $N --no-counters --json "$work/ht.json" "$noop" >/dev/null; t1=$(now_ns)
  h_true_pr[k]=$(awk -v a="$t0" -v b="$t1" -v n=$N 'BEGIN { print (b - a) / n / 1e3 }')
  h_true_mean[k]=$(jq '.commands[0].stats.wall_ns.mean / 1e3' "$work/ht.json")
  # hone's defaults: cycles, instructions and task-clock inherited by every run where the machine
  # has hardware events (none opened where it has not)
  t0=$(now_ns); "$hone" bench --runs $N --json "$work/hc.json" "$noop" >/dev/null; t1=$(now_ns)
  hc_true_pr[k]=$(awk -v a="$t0" -v b="$t1" -v n=$N 'BEGIN { print (b - a) / n / 1e3 }')
  hc_true_mean[k]=$(jq '.commands[0].stats.wall_ns.mean / 1e3' "$work/hc.json")
  if command -v hyperfine >/dev/null; then
    hyperfine -N --runs $runs --warmup 2 --export-json "$work/f.json" "${cmds[@]}" >/dev/null 2>&1
    f_sleep[k]=$(jq '.results[0].mean' "$work/f.json")
    f_cpu[k]=$(jq '.results[1].mean' "$work/f.json")
    t0=$(now_ns); hyperfine -N --runs $N --export-json "$work/ft.json" "$noop" >/dev/null 2>&1; t1=$(now_ns)
    f_true_pr[k]=$(awk -v a="$t0" -v b="$t1" -v n=$N 'BEGIN { print (b - a) / n / 1e3 }')
    f_true_mean[k]=$(jq '.results[0].mean * 1e6' "$work/ft.json")
  fi
done
load_after=$(load)

hs=$(med3 "${h_sleep[@]}") hc=$(med3 "${h_cpu[@]}")
htp=$(med3 "${h_true_pr[@]}") htm=$(med3 "${h_true_mean[@]}")
hctp=$(med3 "${hc_true_pr[@]}") hctm=$(med3 "${hc_true_mean[@]}")
echo "hone bench beside hyperfine -N, alternating $K times, medians of the $K ($(nproc) CPUs;"
echo "load averages before: $load_before, after: $load_after)"
echo
if ! command -v hyperfine >/dev/null; then
  printf '  %-44s %s\n' "sleep 0.02, mean" "$hs s" "sh loop, mean" "$hc s" \
    "no-op: tool's elapsed per run" "$htp us" "no-op: mean reported" "$htm us"
  exit 0
fi
fs=$(med3 "${f_sleep[@]}") fc=$(med3 "${f_cpu[@]}")
ftp=$(med3 "${f_true_pr[@]}") ftm=$(med3 "${f_true_mean[@]}")
row() { printf '  %-50s %-14s %-14s %s\n' "$@"; }
row "" "hone" "hyperfine" "hone/hyperfine"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
row "sleep 0.02: mean ($runs runs)" "$(printf '%.4f s' "$hs")" "$(printf '%.4f s' "$fs")" "$(ratio "$hs" "$fs")"
row "sh loop of 30000: mean ($runs runs)" "$(printf '%.4f s' "$hc")" "$(printf '%.4f s' "$fc")" "$(ratio "$hc" "$fc")"
row "$noop_name: tool's elapsed per run ($N runs)" "$(printf '%.0f us' "$htp")" "$(printf '%.0f us' "$ftp")" "$(ratio "$htp" "$ftp")"
row "no-op: mean reported" "$(printf '%.0f us' "$htm")" "$(printf '%.0f us' "$ftm")" "$(ratio "$htm" "$ftm")"
row "no-op, hone with counters: elapsed per run" "$(printf '%.0f us' "$hctp")" "$(printf '%.0f us' "$ftp")" "$(ratio "$hctp" "$ftp")"
row "no-op, hone with counters: mean reported" "$(printf '%.0f us' "$hctm")" "$(printf '%.0f us' "$ftm")" "$(ratio "$hctm" "$ftm")"
echo "  (each of the $K: hone sleep ${h_sleep[*]}; hyperfine ${f_sleep[*]})"
echo "  (each of the $K: hone per-run ${h_true_pr[*]} us; hyperfine ${f_true_pr[*]} us)"
echo
met() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "NOT met"; fi; }
agree() { echo "$(awk -v a="$1" -v b="$2" 'BEGIN { d = a / b - 1; if (d < 0) d = -d; print (d <= 0.03) }')"; }
echo "targets (on a machine this loaded a figure is information, not a verdict):"
echo "  means agree within 3 %: sleep $(met "$(agree "$hs" "$fs")"), sh loop $(met "$(agree "$hc" "$fc")")"
echo "  hone's per-run cost no larger than hyperfine's: $(met "$htp <= $ftp") (elapsed per run), $(met "$htm <= $ftm") (mean reported for the no-op)"
echo "  ... with hone's default counters: $(met "$hctp <= $ftp") (elapsed per run), $(met "$hctm <= $ftm") (mean reported)"
