#!/usr/bin/env bash
# mpi.sh: task farms across MPI ranks (issue 12), 2 workers each, all measured in this run:
# mpi4py.futures, Dask distributed (LocalCluster of 2 worker processes) and the hand-written C
# farm (bench/mpi/farm.c, the transport's physical limit) on Open MPI's default transports
# (shared memory) and on `--mca btl self,tcp` (the path between machines). A missing piece
# (mpirun, mpicc, mpi4py, dask) drops its column with a message; it never fails the bench.
#
# A column is one call: `column TITLE PREFIX CAP CMD...` runs CMD (at most CAP seconds) and keeps
# its stdout lines "PREFIX.KEY VALUE" (KEY.note VALUE: a label printed under the figure). Keys
# the table reads: tps (or the farm's tps1/tps2: 1 and 2 tasks in flight a worker), rt_us,
# map1000_s, map1_s, speedup (and speedup_block), rank0_cpu (and rank0_cpu_block: rank 0's CPU
# time over the wall time of the 2-worker primes maps, a fraction of one core), pingpong_us.
# Env: HONE_BUILD (absolute build dir), HONE_SRC.
set -uo pipefail
src=${HONE_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
out=${HONE_BUILD:-$src/build/bench}/bench/mpi
mkdir -p "$out"
py=/usr/bin/python3 # Debian's, where python3-mpi4py and python3-distributed install

declare -A fig   # fig[TITLE|KEY] = VALUE
titles=()
column() {
  local title=$1 prefix=$2 cap=$3 line key
  shift 3
  titles+=("$title")
  local tmp
  tmp=$(mktemp)
  # Open MPI's tcp transport on this loopback has been seen to stall for good, every rank
  # waiting in MPI with nothing in flight (1 run of the farm in about 5 here): one more try,
  # said so, before a column is given up.
  local try rc
  for try in 1 2; do
    rc=0
    timeout -k 5 "$cap" "$@" >"$tmp" 2>"$tmp.err" || rc=$?
    [ $rc = 0 ] && break
    echo "mpi: $title: $* failed or exceeded ${cap} s (status $rc, try $try of 2): $(tail -n 2 "$tmp.err" | tr '\n' ' ')"
  done
  while read -r key line; do
    case $key in "$prefix".*) fig["$title|${key#"$prefix".}"]=$line ;; esac
  done <"$tmp"
  rm -f "$tmp" "$tmp.err"
}
skip() { # a column that could not run: its reason is printed in every row
  titles+=("$1")
  fig["$1|skip"]=$2
  echo "mpi: $1 skipped: $2"
}

# Number formats: tasks/s as k/M, times as us/ms/s.
rate() { awk -v v="$1" 'BEGIN { if (v >= 1e6) printf "%.2f M", v / 1e6; else printf "%.3g k", v / 1e3 }'; }
dur_s() { awk -v v="$1" 'BEGIN { if (v < 1e-3) printf "%.3g us", v * 1e6; else if (v < 1) printf "%.3g ms", v * 1e3; else printf "%.3g s", v }'; }
dur_us() { dur_s "$(awk -v v="$1" 'BEGIN { print v / 1e6 }')"; }

cell() { # cell TITLE ROW
  local t=$1 r=$2 v note
  [ -n "${fig[$t|skip]:-}" ] && { echo "(skipped)"; return; }
  case $r in
  tps)
    if [ -n "${fig[$t|tps]:-}" ]; then v=$(rate "${fig[$t|tps]}")
    elif [ -n "${fig[$t|tps1]:-}" ]; then
      v="$(rate "${fig[$t|tps1]}") / $(rate "${fig[$t|tps2]:-0}") (1/2 in flight)"
    fi ;;
  rt_us | pingpong_us) [ -n "${fig[$t|$r]:-}" ] && v=$(dur_us "${fig[$t|$r]}") ;;
  rank0_cpu)
    [ -n "${fig[$t|rank0_cpu]:-}" ] && v=$(awk -v x="${fig[$t|rank0_cpu]}" 'BEGIN { printf "%.1f %%", 100 * x }')
    [ -n "${fig[$t|rank0_cpu_block]:-}" ] &&
      v="$v polling, $(awk -v x="${fig[$t|rank0_cpu_block]}" 'BEGIN { printf "%.1f %%", 100 * x }') blocking" ;;
  map1000_s | mapauto_s | map1_s) [ -n "${fig[$t|$r]:-}" ] && v=$(dur_s "${fig[$t|$r]}") ;;
  speedup)
    [ -n "${fig[$t|speedup]:-}" ] && v=$(printf '%.2fx' "${fig[$t|speedup]}")
    [ -n "${fig[$t|speedup_block]:-}" ] &&
      v="$v polling, $(printf '%.2fx' "${fig[$t|speedup_block]}") blocking master" ;;
  esac
  note=${fig[$t|$r.note]:-}
  echo "${v:--}${note:+ ($note)}"
}

table() {
  local rows=(tps rt_us map1000_s mapauto_s map1_s speedup rank0_cpu pingpong_us)
  local names=("empty tasks/s (submit+result)" "idle round trip" "map 10^5 tiny, chunk 1000"
    "map 10^5 tiny, automatic chunks" "map 10^5 tiny, chunk 1" "primes < 2e6, 2 workers vs 1"
    "rank 0's CPU while 2 workers run primes (of a core)" "MPI ping-pong 16 B, one way")
  local line="| |" sep="|---|" i t
  for t in "${titles[@]}"; do line+=" $t |"; sep+="---|"; done
  echo "$line"
  echo "$sep"
  for i in "${!rows[@]}"; do
    line="| ${names[$i]} |"
    for t in "${titles[@]}"; do line+=" $(cell "$t" "${rows[$i]}") |"; done
    echo "$line"
  done
}

load0=$(cut -d" " -f1 /proc/loadavg 2>/dev/null || echo "?") # a busy machine explains noisy figures
mpirun_args=(--oversubscribe)
[ "$(id -u)" = 0 ] && mpirun_args+=(--allow-run-as-root)
have_mpi=1
if ! command -v mpirun >/dev/null 2>&1; then have_mpi=0; fi
# hone's columns run with their ranks bound to cores, the placement docs/distributed.md
# ("Launching and placement") recommends when a machine's ranks outnumber its cores (here 3
# ranks share 2: overload-allowed). Left unbound, the kernel spreads a rank's threads over both
# CPUs and moves them: hone's idle round trip on shared memory was 21-183 us from run to run, in
# modes lasting seconds; bound, 22-24 us (local threads) and 41-50 us (worker processes, 14 runs
# of 15; 62 us in one). The farm and mpi4py.futures run unbound, Open MPI's default when
# oversubscribed: the farm runs its tasks in the rank's one thread, and bound it was no faster
# and sometimes slower (idle round trip 10.1-13.3 us against 10.4-11.1, chunk-1000 map
# 1.28-1.77 ms against 1.26-1.37, rank 0 sharing its core with worker rank 2): each side at its
# better placement.
hone_bind=()
binding="hone's ranks unbound (not Open MPI's mpirun: no --bind-to core:overload-allowed)"
if [ $have_mpi = 1 ] && mpirun --version 2>/dev/null | grep -q "Open MPI"; then
  hone_bind=(--bind-to core:overload-allowed)
  binding="hone's ranks bound to cores (mpirun --bind-to core:overload-allowed), the farm's and mpi4py's unbound"
fi

# The machine's own limit on hand-offs between processes (bench/handoff.c): handoff[KEY] =
# VALUE (us), the lower of two runs, one before the columns and one after them (a single run
# moved by a quarter between benches here).
declare -A handoff
handoff_bin=${HONE_BUILD:-$src/build/bench}/bench/mpi/bench_handoff
measure_handoff() {
  [ -x "$handoff_bin" ] || return 0
  local key line k
  while read -r key line; do
    case $key in
    handoff.cpus) handoff[cpus]=$line ;;
    handoff.*)
      k=${key#handoff.}
      if [ -z "${handoff[$k]:-}" ] || awk -v a="$line" -v b="${handoff[$k]}" 'BEGIN { exit !(a < b) }'; then
        handoff[$k]=$line
      fi ;;
    esac
  done < <(timeout -k 5 60 "$handoff_bin" 2>/dev/null)
}
measure_handoff

# The Python peers first and alone; each one's teardown ends before the next starts.
if [ $have_mpi = 0 ]; then
  skip mpi4py.futures "no mpirun"
elif ! "$py" -c 'import mpi4py.futures' 2>/dev/null; then
  skip mpi4py.futures "no mpi4py for $py (python3-mpi4py)"
else
  echo "(mpi4py.futures: about 10 s)"
  column mpi4py.futures mpi4py 90 mpirun "${mpirun_args[@]}" -n 3 "$py" -m mpi4py.futures \
    "$src/bench/mpi/peer_mpi4py.py"
fi
if ! "$py" -c 'import dask.distributed' 2>/dev/null; then
  skip Dask "no dask.distributed for $py (python3-distributed)"
else
  echo "(Dask LocalCluster: about 15 s)"
  column Dask dask 150 "$py" "$src/bench/mpi/peer_dask.py"
fi

# The farm, built here with mpicc (no CMake dependency on MPI for the rest of hone's benches).
farm=$out/farm
if [ $have_mpi = 0 ] || ! command -v mpicc >/dev/null 2>&1; then
  skip "farm shm" "no mpirun/mpicc"
  skip "farm tcp" "no mpirun/mpicc"
elif { [ "$farm" -nt "$src/bench/mpi/farm.c" ] && [ "$farm" -nt "$src/bench/bench_util.h" ]; } ||
  mpicc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$src/include" -o "$farm" \
    "$src/bench/mpi/farm.c"; then
  echo "(farm: about 15 s a transport)"
  column "farm shm" farm.shm 60 mpirun "${mpirun_args[@]}" -np 3 "$farm" --label shm
  column "farm tcp" farm.tcp 60 mpirun "${mpirun_args[@]}" --mca btl self,tcp -np 3 "$farm" \
    --label tcp
else
  skip "farm shm" "mpicc failed"
  skip "farm tcp" "mpicc failed"
fi
# hone's MPI backend (bench/mpi/hone_mpi.c, built by CMake with libhone-mpi): 2 ranks of one
# worker each, rank 0 dispatching only; the 1-worker primes time from a 2-rank run first.
hone_bin=${HONE_BUILD:-$src/build/bench}/bench/mpi/bench_mpi_hone
if [ $have_mpi = 0 ] || [ ! -x "$hone_bin" ]; then
  skip "hone shm" "no mpirun or no $hone_bin (libhone-mpi not built)"
  skip "hone tcp" "no mpirun or no $hone_bin (libhone-mpi not built)"
else
  echo "(hone: about 10 s a transport)"
  for tr in shm tcp; do
    btl=()
    [ $tr = tcp ] && btl=(--mca btl self,tcp)
    p1=$(timeout -k 5 60 mpirun "${mpirun_args[@]}" "${hone_bind[@]}" "${btl[@]}" -np 2 "$hone_bin" --primes-only \
      --label $tr | awk '$1 ~ /primes1_s$/ { print $2 }')
    column "hone $tr" hone.$tr 90 mpirun "${mpirun_args[@]}" "${hone_bind[@]}" "${btl[@]}" -np 3 "$hone_bin" \
      --label $tr --primes1 "${p1:-0}"
    # The same round trip with the ranks' tasks on local threads: the farm's contract (a
    # crashing task ends its rank), for what hone's dispatch costs apart from crash isolation.
    rtt=$(timeout -k 5 60 mpirun "${mpirun_args[@]}" "${hone_bind[@]}" "${btl[@]}" -np 3 "$hone_bin" \
      --rt-only --local threads --label $tr | awk '$1 ~ /rt_us$/ { print $2 }')
    if [ -n "$rtt" ]; then
      fig["hone $tr|rt_threads_us"]=$rtt
      fig["hone $tr|rt_us.note"]="$(dur_us "$rtt") on local threads"
    fi
  done
fi

# verdict LABEL VALUE OP BOUND [UNIT]: one target line, "MET" or "MISSED", or "not measured";
# UNIT (default x) follows the value and the bound.
verdict() {
  local label=$1 v=$2 op=$3 bound=$4 unit=${5:-x}
  if [ -z "$v" ]; then
    printf '  %-58s %10s  %s %-7s  not measured\n' "$label" - "$op" "$bound$unit"
    return
  fi
  awk -v l="$label" -v v="$v" -v op="$op" -v b="$bound" -v u="$unit" 'BEGIN {
    ok = (op == ">=") ? v >= b : v <= b
    printf "  %-58s %9.2f%s  %s %-7s  %s\n", l, v, u, op, b u, ok ? "MET" : "MISSED" }'
}
ratio() { # ratio A B: A / B, empty when either is missing or B is 0
  [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.6g", a / b }'
}
best_tps() { # a column's empty-task rate: tps, or the better of the farm's 1 and 2 in flight
  local t=$1
  [ -n "${fig[$t|tps]:-}" ] && { echo "${fig[$t|tps]}"; return; }
  awk -v a="${fig[$t|tps1]:-0}" -v b="${fig[$t|tps2]:-0}" 'BEGIN { v = a > b ? a : b; if (v > 0) print v }'
}
targets() {
  local tr h f
  echo "Targets (issue 12), as ratios of figures measured in this run:"
  for tr in shm tcp; do
    h="hone $tr" f="farm $tr"
    verdict "$tr: empty tasks/s, hone / farm (best of 1, 2 in flight)" \
      "$(ratio "$(best_tps "$h")" "$(best_tps "$f")")" ">=" 0.77
    verdict "$tr: automatic map time, hone / farm's chunk-1000 map" \
      "$(ratio "${fig[$h|mapauto_s]:-}" "${fig[$f|map1000_s]:-}")" "<=" 1.3
    verdict "$tr: idle round trip, hone / farm" "$(ratio "${fig[$h|rt_us]:-}" "${fig[$f|rt_us]:-}")" \
      "<=" 2
    verdict "$tr: the same, tasks on local threads (no crash isolation, as the farm)" \
      "$(ratio "${fig[$h|rt_threads_us]:-}" "${fig[$f|rt_us]:-}")" "<=" 2
    verdict "$tr: primes < 2e6, speedup of 2 workers over 1" "${fig[$h|speedup]:-}" ">=" 1.9
    verdict "$tr: rank 0's CPU while the workers run primes" \
      "$([ -n "${fig[$h|rank0_cpu]:-}" ] && awk -v x="${fig[$h|rank0_cpu]}" 'BEGIN { print 100 * x }')" \
      "<=" 10 " %"
  done
  verdict "shm: empty tasks/s, hone / mpi4py.futures" \
    "$(ratio "$(best_tps "hone shm")" "$(best_tps mpi4py.futures)")" ">=" 20
  verdict "shm: empty tasks/s, hone / Dask" "$(ratio "$(best_tps "hone shm")" "$(best_tps Dask)")" \
    ">=" 300
  echo "  (0.77x = within 1.3x of the farm's rate. Rank 0's CPU: the issue asks that it not spin" \
    "a core away while it waits; the bound of a tenth of a core is ours. The idle round trip" \
    "crosses four hand-offs in hone (caller, rank 0's dispatcher, the serving loop, its local" \
    "worker process, which wakes the loop) and two in the farm, which runs tasks in the rank" \
    "itself: docs/distributed.md)"
}

# The idle round trip as the sum of its parts on this machine, ranks bound as here: the farm's
# round trip plus bench/handoff.c's hand-off round trips, each at its cheapest. Any design that
# runs a task outside the MPI rank's process (crash isolation) adds one hand-off round trip
# between two processes on the serving rank's core; hone's design adds one more, between rank
# 0's caller and its dispatcher thread (two threads on rank 0's core). A sum, not a bound: on
# tcp part of a hand-off overlaps the kernel's work on the message.
machine_limits() {
  if [ -z "${handoff[yield1_us]:-}" ]; then
    echo "Machine limits: not measured (no $handoff_bin)"
    return
  fi
  echo "Machine limits (bench/handoff.c, the lower of a run before the columns and one after, CPUs ${handoff[cpus]:-?}): a hand-off round trip" \
    "between two processes on one CPU takes $(dur_us "${handoff[yield1_us]}") spinning with" \
    "sched_yield, $(dur_us "${handoff[futex1_us]:-0}") sleeping on a futex;" \
    "between two threads on one CPU $(dur_us "${handoff[thread_futex1_us]:-0}") sleeping on a futex;" \
    "on two CPUs $(dur_us "${handoff[spin2_us]:-0}") spinning, $(dur_us "${handoff[futex2_us]:-0}")" \
    "sleeping (the wake-up of an idle CPU)."
  local tr f
  for tr in shm tcp; do
    f=${fig[farm $tr|rt_us]:-}
    [ -z "$f" ] && continue
    awk -v tr="$tr" -v f="$f" -v y="${handoff[yield1_us]}" -v t="${handoff[thread_futex1_us]:-0}" \
      -v h="${fig[hone $tr|rt_us]:-0}" 'BEGIN {
      any = f + y
      ours = any + t
      printf "  %s idle round trip as a sum: with tasks in a process other than the rank'"'"'s, the farm'"'"'s %.2f us + %.2f us = %.2f us (%.2fx the farm'"'"'s);", tr, f, y, any, any / f
      printf " in hone'"'"'s design, with a dispatcher thread on rank 0, + %.2f us = %.2f us (%.2fx)", t, ours, ours / f
      if (h > 0) printf "; hone measured %.2f us, %.2fx that sum", h, h / ours
      printf "\n" }'
  done
}

measure_handoff
echo
table
echo
targets
echo
machine_limits
echo
echo "(2 workers each: mpirun -np 3, rank 0 the master (mpi4py.futures on Open MPI's default" \
  "transports); machine: $(nproc) cores online, load $load0 at the start;" \
  "$(mpirun --version 2>/dev/null | head -n 1 || echo 'no mpirun'); ${fig[mpi4py.futures|version]:-no mpi4py}," \
  "${fig[Dask|version]:-no dask}; $binding; the MPI ping-pong row is the transport's limit)"
