#!/usr/bin/env bash
# prof_truth.sh: do hone's profile times tell where the time of the uninstrumented program goes?
# (issue 10). For each program: its plain build (-O0 -g, no instrumentation) sampled by
# `perf record -e cpu-clock -F 20000`, and its instrumented build recorded by `hone record`;
# side by side, per function, the self-time share by perf, by `hone report` (default: the
# estimate) and by `hone report --raw` (as measured), the worst difference in points among the
# functions with >= 5 % by perf or by hone, hone's header total against the plain run's CPU time
# (perf stat task-clock), and whether the targets hold: every such function within 5 points,
# the total within 25 %. Beside them, the floor: perf on the instrumented build with hooks that
# do nothing, which shows how far a share moves by the instrumentation's presence alone; and
# "under": perf on the instrumented build while hone records it, which splits hone's error into
# its attribution (hone - under: a sample charged to the wrong function) and what its hooks do to
# the program's own code (under - perf), which samples of the instrumented run cannot see.
# Column "plain": `hone record --plain PLAIN -- INST` and `hone report FILE FILE.plain`, the times
# from a sampled run of the plain build laid over the instrumented run's tree (calls); its worst
# difference and total are held against the same targets, with bounds of their own.
#
# perf's shares are made comparable with hone's: hone charges time spent in an uninstrumented
# library (libc's strcoll, memcpy, malloc) to the program's function that called it, and samples
# only user time. So perf records call chains (--call-graph dwarf), each user-mode sample goes to
# the innermost frame in the program's own executable, kernel-mode samples are left out, and the
# shares are taken over the functions hone reports.
#
# Programs: examples/profiling.c, and real C programs built from their own sources at bench
# time (see "real programs" below). The per-call cost against uftrace is bench/prof.sh's.
#
# Usage: bench/prof_truth.sh                        (make bench: HONE_BUILD, HONE_SRC set)
#        bench/prof_truth.sh --check HONE CC SRC    (the CTest prof.truth: examples/profiling
#                                                    only; exit 0 met, 1 missed, 77 skipped)
# Env: TRUTH_POINTS (default 5) and TRUTH_TOTAL (default 25, in %) are the bounds held against
# the default report of the instrumented run alone; the CTest sets wider ones than the issue's
# targets, which it does not meet on examples/profiling (see the report). TRUTH_PLAIN_POINTS
# (default 5) and TRUTH_PLAIN_TOTAL (default 25) are those of column "plain" (the CTest keeps
# the issue's).
# TRUTH_RUNS (default 3): how many times each column is measured.
set -uo pipefail
POINTS=${TRUTH_POINTS:-5}
RUNS=${TRUTH_RUNS:-3}
TOTAL=${TRUTH_TOTAL:-25}
PPOINTS=${TRUTH_PLAIN_POINTS:-5}
PTOTAL=${TRUTH_PLAIN_TOTAL:-25}
check=0
if [ "${1:-}" = --check ]; then
  check=1
  hone=$2 CC=$3 HONE_SRC=$4
else
  hone="$HONE_BUILD/hone"
  CC=${CC:-cc}
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/hone-prof-truth.XXXXXX")
trap 'rm -rf "$W"' EXIT

if ! perf record -q -e cpu-clock -F 20000 -o "$W/probe.data" -- true >/dev/null 2>"$W/probe.err"; then
  echo "prof_truth: perf record -e cpu-clock is refused here ($(head -c 200 "$W/probe.err"));" \
    "perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null): SKIPPED"
  exit 77
fi

# Hooks that do nothing, for the floor column (see truth).
printf '%s\n' 'void __cyg_profile_func_enter(void *f, void *c) { (void)f; (void)c; }' \
  'void __cyg_profile_func_exit(void *f, void *c) { (void)f; (void)c; }' >"$W/empty_hooks.c"
if ! "$CC" -O2 -shared -fPIC -o "$W/empty_hooks.so" "$W/empty_hooks.c"; then
  echo "prof_truth: could not build the empty hooks with $CC"
  exit 1
fi

worst_all=0
missed=0

# perf_shares OUT DIR EXE PRELOAD ARGS...: EXE's self-time samples per function of its own
# executable (OUT.txt: "function count" lines), by perf record -e cpu-clock with call chains:
# each user-mode sample goes to its innermost frame in EXE (so time in libc goes to the
# program's function that called it, as hone charges it), kernel-mode samples and samples in
# the hooks' library SKIP (a file name) or in the PLT stubs of the -finstrument-functions hooks
# are left out. PRELOAD (or empty) is preloaded; the global array VIA, when set, is a command
# that runs EXE (hone record).
VIA=()
perf_shares() {
  local o=$1 dir=$2 exe=$3 pre=$4 skip=$5
  shift 5
  (cd "$dir" && if [ -n "$pre" ]; then export LD_PRELOAD="$pre"; fi &&
    perf record -q --call-graph dwarf,16384 -e cpu-clock -F 20000 -o "$o.data" -- \
      "${VIA[@]}" "$exe" "$@" >/dev/null 2>&1)
  perf script -i "$o.data" -F ip,sym,dso 2>/dev/null |
    awk -v exe="/$(basename "$exe"))" -v pre="${skip:+/$skip}" '
      function done() { if (n && !skip && who != "") cnt[who]++; n = 0; skip = 0; who = "" }
      /^[ \t]*$/ { done(); next }
      {
        n++
        if (n == 1 && $NF ~ /kernel|vmlinux|vdso/) skip = 1
        if (n == 1 && pre != "" && index($NF, pre)) skip = 1
        if (n == 1 && $2 ~ /^__cyg_profile_func_(enter|exit)@plt/) skip = 1
        if (who == "" && substr($NF, length($NF) - length(exe) + 1) == exe) who = $2
      }
      END { done(); for (f in cnt) print f, cnt[f] }' >"$o.txt"
  rm -f "$o.data"
}

# truth NAME DIR PLAIN INST ARGS...: one program's table. PLAIN and INST are executables run in
# DIR with ARGS (the same for both). Every column is measured RUNS times, interleaved (plain,
# floor, hone; plain, floor, hone; ...), so that a drift of the machine touches them alike: a
# single run settles nothing here (perf's own share of one function moved 14.6 -> 27.4 % between
# two runs of the Lua script), so the table gives each share's mean and, after "~", its spread
# (the largest minus the smallest), and the verdict compares means.
truth() {
  local name=$1 dir=$2 plain=$3 inst=$4
  shift 4
  local out="$W/$name"
  mkdir -p "$out"
  # The plain run's CPU time, measured in every round next to hone's run, the best of the two
  # around it (noise only adds time), and the mean of the rounds: this machine's speed drifts
  # (bzip2's plain run took 434 ms in one bench and 321 ms in the next), so a plain time taken
  # once, before the rest, put hone's total 24 % under it in a run where it was 7 % under.
  local best="" t r plains=()
  plain_cpu() {
    (cd "$dir" && perf stat -x, -e task-clock -o "$out/stat" -- "$plain" "$@" >/dev/null 2>&1)
    awk -F, '$3 ~ /task-clock/ { print $1 / 1000; exit }' "$out/stat"
  }
  for r in $(seq 1 "$RUNS"); do
    t=$(plain_cpu "$@")
    perf_shares "$out/perf.$r" "$dir" "$plain" "" "" "$@"
    # The floor: the instrumented build whose hooks do nothing (empty_hooks.so, preloaded),
    # sampled by perf the same way, its samples in the hooks and their PLT stubs left out. What
    # moves a function's share there is the instrumentation's mere presence (the calls, their
    # argument set-up, the larger frames: the pipeline overlaps the program's code with them),
    # which no estimate from an instrumented run can see; a hone figure nearer perf's than this
    # one is luck.
    perf_shares "$out/floor.$r" "$dir" "$inst" "$W/empty_hooks.so" empty_hooks.so "$@"
    # Under hone: perf samples the instrumented build while hone records it, its samples in
    # hone's runtime left out. hone's shares against these are its attribution (does it charge
    # each sample of the program's code to the function that ran it?); these against the plain
    # build's are what hone's hooks do to the program's own code, which its samples cannot see.
    VIA=("$hone" record -o "$out/under.prof" --)
    perf_shares "$out/under.$r" "$dir" "$inst" "" libhone-prof.so "$@"
    VIA=()
    (cd "$dir" && "$hone" record -o "$out/hone.prof" -- "$inst" "$@" >/dev/null 2>"$out/rec.err") || {
      echo "prof_truth: $name: hone record failed: $(tail -c 300 "$out/rec.err")"
      missed=1
      return
    }
    (cd "$dir" && "$hone" record --plain "$plain" -o "$out/pl.prof" -- "$inst" "$@" >/dev/null \
      2>"$out/rec.err") || {
      echo "prof_truth: $name: hone record --plain failed: $(tail -c 300 "$out/rec.err")"
      missed=1
      return
    }
    t=$(awk -v a="$t" -v b="$(plain_cpu "$@")" 'BEGIN { print (b != "" && b < a) ? b : a }')
    plains+=("$t")
    "$hone" report --csv "$out/hone.prof" >"$out/est.$r.csv" 2>"$out/rep.err" &&
      "$hone" report --raw --csv "$out/hone.prof" >"$out/raw.$r.csv" 2>>"$out/rep.err" &&
      "$hone" report --csv "$out/pl.prof" "$out/pl.prof.plain" >"$out/pln.$r.csv" \
        2>>"$out/rep.err" || {
      echo "prof_truth: $name: hone report failed: $(head -c 300 "$out/rep.err")"
      missed=1
      return
    }
  done
  local prange
  best=$(printf '%s\n' "${plains[@]}" | awk '{ s += $1; n++ } END { printf "%.6f", s / n }')
  prange=$(printf '%s\n' "${plains[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
    END { printf "%.1f to %.1f", lo * 1000, hi * 1000 }')
  "$hone" report "$out/hone.prof" | sed -n '2,/^$/p' | sed '/^$/d' >"$out/header.txt"
  local files=()
  for r in $(seq 1 "$RUNS"); do
    files+=("$out/est.$r.csv" "$out/raw.$r.csv" "$out/pln.$r.csv" "$out/perf.$r.txt" "$out/floor.$r.txt"
      "$out/under.$r.txt")
  done
  awk -F, -v name="$name" -v plain_s="$best" -v prange="$prange" -v maxp="$POINTS" -v maxt="$TOTAL" -v runs="$RUNS" \
      -v pmaxp="$PPOINTS" -v pmaxt="$PTOTAL" \
      -v load="$(cut -d' ' -f1-3 /proc/loadavg)" -v pcfile="$out/percall" '
    # Which column and which run by the file name (KIND.RUN.csv|txt), not by counting first
    # lines: an empty file has none.
    FNR == 1 {
      n = split(FILENAME, parts, "/"); split(parts[n], b, ".")
      kind = b[1]; run = b[2]
      if (kind == "est" || kind == "raw" || kind == "pln") next # the CSV header
    }
    kind == "est" { f = $NF; v["est", run, f] += $4; tot["est", run] += $4; calls[f] = $2; fn[f] = 1; next }
    kind == "raw" { f = $NF; v["raw", run, f] += $4; tot["raw", run] += $4; next }
    kind == "pln" { f = $NF; v["pln", run, f] += $4; tot["pln", run] += $4; next }
    { split($0, a, " "); v[kind, run, a[1]] = a[2] }
    # share(K, F): mean over the runs of F'"'"'s share in column K; sets lo, hi (its range).
    function share(k, f,    r, s, x) {
      s = 0; lo = 1e9; hi = -1e9
      for (r = 1; r <= runs; r++) {
        x = tot[k, r] > 0 ? 100 * v[k, r, f] / tot[k, r] : 0
        s += x; if (x < lo) lo = x; if (x > hi) hi = x
      }
      return s / runs
    }
    function abs(x) { return x < 0 ? -x : x }
    END {
      # perf and the floor: shares over the functions hone reports.
      for (r = 1; r <= runs; r++) for (f in fn) {
        tot["perf", r] += v["perf", r, f]; tot["floor", r] += v["floor", r, f]; tot["under", r] += v["under", r, f]
      }
      floor_ok = 1; under_ok = 1
      for (r = 1; r <= runs; r++) { if (!(tot["floor", r] > 0)) floor_ok = 0; if (!(tot["under", r] > 0)) under_ok = 0 }
      printf "%s (plain run %.1f ms of CPU, %s ms over the rounds; %d runs of each column, interleaved; load %s)\n",
             name, plain_s * 1000, prange, runs, load
      printf "  %-24s %10s %11s %11s %11s %7s %11s %7s %11s %7s %11s %7s %7s\n", "function", "calls", "perf %", "hone %", "raw %",
             "diff", "plain %", "diff", "floor %", "diff", "under %", "diff", "hone-u"
      worst = 0; fworst = 0; uworst = 0; aworst = 0; pworst = 0; n = 0
      for (f in fn) { order[++n] = f; key[f] = share("est", f) }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
        if (key[order[j]] > key[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
      for (i = 1; i <= n; i++) {
        f = order[i]
        p = share("perf", f); plo = lo; phi = hi
        h = share("est", f); hlo = lo; hhi = hi
        rw = share("raw", f); rlo = lo; rhi = hi
        pl = share("pln", f); pllo = lo; plhi = hi
        q = share("floor", f); qlo = lo; qhi = hi
        u = share("under", f); ulo = lo; uhi = hi
        d = h - p; e = q - p; g = u - p; hu = h - u
        big = (p >= 5 || h >= 5)
        if (big && abs(d) > worst) { worst = abs(d); wf = f }
        if ((p >= 5 || pl >= 5) && abs(pl - p) > pworst) { pworst = abs(pl - p); pf = f }
        if ((p >= 5 || q >= 5) && abs(e) > fworst) { fworst = abs(e); ff = f }
        if ((p >= 5 || u >= 5) && abs(g) > uworst) { uworst = abs(g); uf = f }
        if ((h >= 5 || u >= 5) && abs(hu) > aworst) { aworst = abs(hu); af = f }
        if (big || pl >= 5 || i <= 8)
          printf "  %-24s %10d %5.1f~%-5.1f %5.1f~%-5.1f %5.1f~%-5.1f %+7.1f %5.1f~%-5.1f %+7.1f %5.1f~%-5.1f %+7.1f %5.1f~%-5.1f %+7.1f %+7.1f%s\n",
                 f, calls[f], p, phi - plo, h, hhi - hlo, rw, rhi - rlo, d, pl, plhi - pllo, pl - p, q, qhi - qlo, e, u, uhi - ulo, g, hu,
                 (big || pl >= 5) ? "" : "  (< 5 %)"
      }
      # The time in the code of the program itself, by perf samples (20 kHz) under the same perf
      # record (its unwinding slows both runs alike): the floor against the plain build.
      ft = 0; pt = 0
      for (r = 1; r <= runs; r++) { ft += tot["floor", r] / 20000 / runs; pt += tot["perf", r] / 20000 / runs }
      if (floor_ok)
        printf "  floor (perf on the instrumented build, hooks empty): worst %.1f points (%s); its own code %.4f s against the plain build'"'"'s %.4f s (%+.0f %%)\n",
               fworst, ff, ft, pt, (pt > 0 ? 100 * (ft / pt - 1) : 0)
      else
        printf "  floor: not measured (perf found no samples of the instrumented build)\n"
      ut = 0
      for (r = 1; r <= runs; r++) ut += tot["under", r] / 20000 / runs
      if (under_ok) {
        printf "  under hone (perf on the instrumented build while hone records it): hone against it worst %.1f points (%s),\n", aworst, af
        printf "    its own code %.4f s (%+.0f %% of the plain build'"'"'s), against the plain build worst %.1f points (%s)\n",
               ut, (pt > 0 ? 100 * (ut / pt - 1) : 0), uworst, uf
      } else
        printf "  under hone: not measured (perf found no samples of the instrumented build under hone record)\n"
      et = 0; elo = 1e9; ehi = 0; rt = 0
      for (r = 1; r <= runs; r++) {
        et += tot["est", r] / runs; rt += tot["raw", r] / runs
        if (tot["est", r] < elo) elo = tot["est", r]; if (tot["est", r] > ehi) ehi = tot["est", r]
      }
      ratio = plain_s > 0 ? et / plain_s : 0
      tot_ok = ratio >= 1 - maxt / 100 && ratio <= 1 + maxt / 100
      printf "  worst difference of the means (functions >= 5 %%): %.1f points (%s); bound <= %s: %s\n", worst, wf,
             maxp, worst <= maxp ? "met" : "MISSED"
      printf "  header total %.4f s (%.4f to %.4f) against the plain run %.4f s: %+.0f %%; bound within %s %%: %s\n",
             et, elo, ehi, plain_s, 100 * (ratio - 1), maxt, tot_ok ? "met" : "MISSED"
      printf "  raw total %.4f s (%.1fx the plain run)\n", rt, (plain_s > 0 ? rt / plain_s : 0)
      pt2 = 0
      for (r = 1; r <= runs; r++) pt2 += tot["pln", r] / runs
      pratio = plain_s > 0 ? pt2 / plain_s : 0
      ptot_ok = pratio >= 1 - pmaxt / 100 && pratio <= 1 + pmaxt / 100
      printf "  --plain (times from a sampled run of the plain build): worst %.1f points (%s); bound <= %s: %s\n",
             pworst, pf, pmaxp, pworst <= pmaxp ? "met" : "MISSED"
      printf "    header total %.4f s against the plain run %.4f s: %+.0f %%; bound within %s %%: %s\n",
             pt2, plain_s, 100 * (pratio - 1), pmaxt, ptot_ok ? "met" : "MISSED"
      nc = 0; for (f in fn) nc += calls[f]
      if (nc > 0)
        printf "  sampled program time per call %.1f ns (hone flags its times as unreliable below 10)\n", 1e9 * et / nc
      if (nc > 0) printf "%.3f\n", 1e9 * et / nc > pcfile
      print worst > "/dev/stderr"
      exit !(worst <= maxp && tot_ok && pworst <= pmaxp && ptot_ok)
    }' "${files[@]}" 2>"$out/worst" || missed=1
  sed 's/^/  /' "$out/header.txt"
  # The header flags the times as unreliable exactly when the program's sampled time per call is
  # below 10 ns (the margin: this figure is the mean of the runs, the header's the last run's).
  local pc
  pc=$(cat "$out/percall" 2>/dev/null || echo "")
  if [ -n "$pc" ]; then
    if awk -v x="$pc" 'BEGIN { exit !(x < 9) }' && ! grep -q '! Unreliable' "$out/header.txt"; then
      echo "  MISSED: $pc ns a call, and the header does not say its times are unreliable"
      missed=1
    elif awk -v x="$pc" 'BEGIN { exit !(x > 11) }' && grep -q '! Unreliable' "$out/header.txt"; then
      echo "  MISSED: $pc ns a call, and the header says its times are unreliable"
      missed=1
    fi
  fi
  local w
  w=$(cat "$out/worst" 2>/dev/null || echo 0)
  if awk -v a="$w" -v b="$worst_all" 'BEGIN { exit !(a > b) }'; then worst_all=$w; fi
}

# examples/profiling.c, 6000 numbers (the default 3000 runs 16 ms: too few samples for a share
# to be known within a couple of points; 6000 runs about 65 ms).
build_profiling() {
  "$CC" -O0 -g -o "$W/profiling_plain" "$HONE_SRC/examples/profiling.c" -lm &&
    "$CC" -O0 -g -finstrument-functions -o "$W/profiling_inst" "$HONE_SRC/examples/profiling.c" -lm
}
if ! build_profiling; then
  echo "prof_truth: could not build examples/profiling.c with $CC"
  exit 1
fi
truth profiling "$W" "$W/profiling_plain" "$W/profiling_inst" 6000

if [ "$check" = 1 ]; then
  exit "$missed"
fi

# ---- real programs, built from their own sources (fetched at bench time, never committed) ----
. "$HONE_SRC/bench/prof_truth_real.bash"

echo
echo "prof_truth: worst difference over every program: $worst_all points;" \
  "targets $([ "$missed" = 0 ] && echo met || echo MISSED) (load $(cut -d' ' -f1-3 /proc/loadavg))"
exit 0
