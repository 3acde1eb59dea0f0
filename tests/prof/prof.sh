#!/usr/bin/env bash
# prof.sh FIXTURE CHECK DSO RUNTIME RACE: runs the instrumented fixture in each scenario and checks the stats file
# it wrote (exact call counts, threads, fork, exit, signals, longjmp, deep recursion, the API).
set -u
fixture=$1 check=$2 dso=$3 runtime=$4 race=$5
T=$(mktemp -d "${TMPDIR:-/tmp}/hone-prof.XXXXXX")
trap 'rm -rf "$T"' EXIT
failed=0 passed=0
# The checker may be built with sanitizers; the fixture never is.
unset LD_PRELOAD
pass() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

# scenario MODE EXPECTED_STATUS: runs the fixture, checks its status and its file.
scenario() {
  local mode=$1 want=$2 st
  rm -f "$T/$mode.prof"*
  HONE_PROF_OUT="$T/$mode.prof" "$fixture" "$mode" "$T/$mode.syms" "$dso" >"$T/$mode.out" 2>"$T/$mode.err"
  st=$?
  if [ "$st" -ne "$want" ]; then bad "$mode: exit status $st, expected $want"; cat "$T/$mode.err" >&2; return; fi
  if [ ! -s "$T/$mode.prof" ]; then bad "$mode: no stats file written"; return; fi
  if ls "$T/$mode.prof".tmp.* >/dev/null 2>&1; then bad "$mode: temporary file left behind"; fi
  local extra=()
  if [ "$mode" = fork ]; then extra=("$T/$mode.prof.$(head -1 "$T/$mode.out")"); fi
  if [ "$mode" = dumpbusy ]; then mapfile -t extra <"$T/$mode.out"; fi
  if "$check" "$mode" "$T/$mode.prof" "$T/$mode.syms" "${extra[@]}" >"$T/$mode.check" 2>&1; then
    pass
  else
    bad "$mode: checker failed"; grep -v '^ok:' "$T/$mode.check" >&2
  fi
}

# graph: by default sampled where perf_event_open is allowed and the hooks read no clock (the
# checker wants no ticks and the spin in the samples; where perf_event_open is refused it is timed,
# which PROF_CHECK_UNTIMED then refuses only if sampling works: perf's probe below); with
# HONE_PROF_UNTIMED=0 sampled and timed by the hooks too; then timed by the hooks only
# (HONE_PROF_SAMPLE=off).
if perf stat -e cpu-clock -x, -o /dev/null -- true >/dev/null 2>&1; then
  PROF_CHECK_UNTIMED=1 scenario graph 0
else
  scenario graph 0
fi
HONE_PROF_UNTIMED=0 scenario graph 0
HONE_PROF_SAMPLE=off scenario graph 0
scenario threads 0
scenario fork 0
scenario exit 3
scenario sigterm $((128 + 15))
scenario sigint $((128 + 2))
scenario longjmp 0
scenario deep 0
# The same with the hooks timed, whose stack is a frame array (untimed ones walk the node chain).
HONE_PROF_UNTIMED=0 scenario longjmp 0
HONE_PROF_UNTIMED=0 scenario deep 0
scenario dlopen 0
HONE_PROF_SAMPLE=off scenario running 0 # the open calls' times so far: timed hooks
scenario dumpbusy 0

# SIGTERM arrives while the exit file is being written: the file is still written whole and the
# signal then ends the process (or the exit, already under way, finishes first).
for i in 1 2 3; do
  rm -f "$T/termwrite.prof"*
  HONE_PROF_OUT="$T/termwrite.prof" "$fixture" termwrite "$T/termwrite.syms" >/dev/null 2>"$T/termwrite.err"
  st=$?
  if [ "$st" -ne 0 ] && [ "$st" -ne 143 ]; then bad "termwrite: exit status $st"; cat "$T/termwrite.err" >&2
  elif ls "$T/termwrite.prof".tmp.* >/dev/null 2>&1; then bad "termwrite: temporary file left behind"
  elif [ ! -s "$T/termwrite.prof" ]; then bad "termwrite: no stats file written"
  elif ! "$check" termwrite "$T/termwrite.prof" "$T/termwrite.syms" >"$T/termwrite.check" 2>&1; then
    bad "termwrite: checker failed"; grep -v '^ok:' "$T/termwrite.check" >&2
  else pass; fi
done

# SIGINT ignored by the parent (nohup, `trap '' INT`): the runtime keeps it ignored, so the raise
# does nothing and the program ends normally, writing its file at exit.
if (trap '' INT; f0=$failed; scenario sigint 0; [ "$failed" -eq "$f0" ]); then pass; else bad "ignored SIGINT"; fi

# The control API with HONE_PROF=manual: nothing at exit, two explicit dumps.
rm -f "$T"/api*
HONE_PROF=manual HONE_PROF_OUT="$T/api.auto" "$fixture" api "$T/api.syms" "$T/api1.prof" "$T/api2.prof"
st=$?
if [ "$st" -ne 0 ]; then bad "api: exit status $st"
elif [ -e "$T/api.auto" ]; then bad "api: HONE_PROF=manual wrote a file at exit"
elif "$check" api "$T/api1.prof" "$T/api.syms" "$T/api2.prof" >"$T/api.check" 2>&1; then pass
else bad "api: checker failed"; grep -v '^ok:' "$T/api.check" >&2; fi

# A recorded call that returns while recording is stopped ends there (HONE_PROF=manual).
rm -f "$T"/stopinside*
HONE_PROF=manual HONE_PROF_OUT="$T/stopinside.auto" "$fixture" stopinside "$T/stopinside.syms" "$T/stopinside.prof"
st=$?
if [ "$st" -ne 0 ]; then bad "stopinside: exit status $st"
elif "$check" stopinside "$T/stopinside.prof" "$T/stopinside.syms" >"$T/stopinside.check" 2>&1; then pass
else bad "stopinside: checker failed"; grep -v '^ok:' "$T/stopinside.check" >&2; fi

# The clock of machines without a usable cycle counter (HONE_PROF_CLOCK=monotonic forces it): the
# same exact counts, and the times still add up.
rm -f "$T"/mono*
HONE_PROF_SAMPLE=off HONE_PROF_CLOCK=monotonic HONE_PROF_OUT="$T/mono.prof" "$fixture" graph "$T/mono.syms"
st=$?
if [ "$st" -ne 0 ]; then bad "monotonic: exit status $st"
elif PROF_CHECK_CLOCK=monotonic "$check" graph "$T/mono.prof" "$T/mono.syms" >"$T/mono.check" 2>&1; then pass
else bad "monotonic: checker failed"; grep -v '^ok:' "$T/mono.check" >&2; fi

# HONE_PROF=off: the runtime is loaded, records nothing and writes nothing.
HONE_PROF=off HONE_PROF_OUT="$T/off.prof" "$fixture" graph "$T/off.syms"
st=$?
if [ "$st" -eq 0 ] && [ ! -e "$T/off.prof" ]; then pass; else bad "off: status $st or a file was written"; fi

# The runtime calibrates its cost at the first recorded call, not at load: a process it is
# preloaded into that records nothing (a shell, make, coreutils under `hone record`) never
# calibrates. It still writes its (empty) file when there is none, so that `hone record` can say
# that nothing was recorded, and leaves another process's file alone.
rm -f "$T"/lazy*
HONE_PROF_DEBUG=1 HONE_PROF_OUT="$T/lazy.prof" LD_PRELOAD="$runtime" /bin/true 2>"$T/lazy.err"
st=$?
if [ "$st" -ne 0 ]; then bad "uninstrumented: exit status $st"
elif grep -q 'hone-prof: clock' "$T/lazy.err"; then bad "uninstrumented: calibrated"; cat "$T/lazy.err" >&2
elif ! grep -q 'calibration skipped' "$T/lazy.err"; then bad "uninstrumented: no debug line"; cat "$T/lazy.err" >&2
elif [ ! -s "$T/lazy.prof" ]; then bad "uninstrumented: no (empty) stats file written"
else pass; fi
cp "$T/graph.prof" "$T/lazy.prof"
HONE_PROF_OUT="$T/lazy.prof" LD_PRELOAD="$runtime" /bin/true
if cmp -s "$T/graph.prof" "$T/lazy.prof"; then pass; else bad "uninstrumented: overwrote a file"; fi
# An instrumented program calibrates once; its forked child inherits the figures.
HONE_PROF_DEBUG=1 HONE_PROF_OUT="$T/lazyfork.prof" "$fixture" fork "$T/lazyfork.syms" "$dso" >"$T/lazyfork.out" 2>"$T/lazyfork.err"
st=$?
n=$(grep -c 'hone-prof: clock' "$T/lazyfork.err")
if [ "$st" -ne 0 ]; then bad "calibration: exit status $st"
elif [ "$n" -ne 1 ]; then bad "calibration: $n calibration lines, expected 1"; cat "$T/lazyfork.err" >&2
elif grep -q 'calibration skipped' "$T/lazyfork.err"; then bad "calibration: said skipped"
elif ! "$check" fork "$T/lazyfork.prof" "$T/lazyfork.syms" "$T/lazyfork.prof.$(head -1 "$T/lazyfork.out")" >"$T/lazyfork.check" 2>&1; then
  bad "calibration: checker failed"; grep -v '^ok:' "$T/lazyfork.check" >&2
else pass; fi
# The first recorded calls come from four threads at once: one calibrates, the others wait for
# it, and no call is lost (the calibration times its own copies of the hooks).
for i in 1 2; do
  HONE_PROF_OUT="$T/race.prof" "$race" "$T/race.syms"
  st=$?
  if [ "$st" -ne 0 ]; then bad "race: exit status $st"
  elif "$check" race "$T/race.prof" "$T/race.syms" >"$T/race.check" 2>&1; then pass
  else bad "race: checker failed"; grep -v '^ok:' "$T/race.check" >&2; fi
done
# HONE_PROF=manual calibrates in hone_prof_start(), before recording starts.
HONE_PROF_DEBUG=1 HONE_PROF=manual HONE_PROF_OUT="$T/lazyapi.auto" "$fixture" api "$T/lazyapi.syms" "$T/lazyapi1.prof" "$T/lazyapi2.prof" 2>"$T/lazyapi.err"
st=$?
n=$(grep -c 'hone-prof: clock' "$T/lazyapi.err")
if [ "$st" -eq 0 ] && [ "$n" -eq 1 ]; then pass; else bad "manual: status $st, $n calibration lines"; cat "$T/lazyapi.err" >&2; fi

echo "prof.runtime: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
