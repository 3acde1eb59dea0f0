# record_plain.sh: `hone record --plain PLAIN` end to end — the plain build's run beside the
# instrumented one (every thread sampled, through the runtime's pthread_create), and `hone report
# FILE FILE.plain` taking its times from the plain run and its calls from the instrumented one;
# misuse refused. SKIPPED (77) where perf_event_open is refused (the plain run cannot be sampled).
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
case "$CC" in *clang*|*gcc*|cc) ;; *) CC=cc ;; esac

# Spins of known CPU time: spin_a 2 units in a second thread, spin_b 1 unit in main, lib_spin
# 1 unit in libc's memcpy (code the instrumented run does not record). The instrumented
# build (-DINST) gives spin_b 2 units: its report alone says spin_b = spin_a; with the plain run,
# spin_b = spin_a / 2, which shows the times come from the plain run.
cat >"$T/spin.c" <<'C'
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#ifndef INST
#define B_UNITS 1
#else
#define B_UNITS 2
#endif
#define UNIT_NS 40000000ll
static long long cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1000000000ll + t.tv_nsec;
}
static volatile uint64_t sink;
/* Computes for ns of CPU time, checking the clock rarely (each spin its own loop: a function's
 * time is divided among its call paths as the instrumented run divided it). */
#define CHURN(ns)                                                                                  \
  do {                                                                                             \
    long long end = cpu_ns() + (ns);                                                               \
    uint64_t x = 1;                                                                                \
    do {                                                                                           \
      for (int i = 0; i < 200000; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;    \
      sink += x;                                                                                   \
    } while (cpu_ns() < end);                                                                      \
  } while (0)
__attribute__((noinline)) void spin_a(void) { CHURN(2 * UNIT_NS); }
__attribute__((noinline)) void spin_b(void) { CHURN(B_UNITS * UNIT_NS); }
static char src_buf[1 << 16], dst_buf[1 << 16];
__attribute__((noinline)) void lib_spin(void) { /* in libc's memcpy nearly the whole time */
  long long end = cpu_ns() + UNIT_NS;
  do {
    for (int i = 0; i < 200; i++) {
      src_buf[i] = (char)i;
      memcpy(dst_buf, src_buf, sizeof dst_buf);
    }
    sink += (uint64_t)dst_buf[7];
  } while (cpu_ns() < end);
}
static void *worker(void *arg) {
  (void)arg;
  spin_a();
  return NULL;
}
int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0) return 3;
  spin_b();
  lib_spin();
  pthread_join(t, NULL);
  puts("done");
  return 0;
}
C
# The fixtures are built without sanitizers: they are PROG, not hone.
env -u CFLAGS "$CC" -O1 -g -pthread "$T/spin.c" -o "$T/plain" &&
  env -u CFLAGS "$CC" -O1 -g -pthread -DINST -finstrument-functions -fno-inline \
    "$T/spin.c" -o "$T/inst" || { echo "record_plain: cannot build the fixture"; exit 1; }
cd "$T" || exit 1
unset ASAN_OPTIONS UBSAN_OPTIONS

run "$HONE" record --json --plain ./plain -o s.prof -- ./inst
if [ "$status" -ne 0 ] && printf '%s' "$err" | grep -q 'perf_event_open is refused'; then
  echo "record_plain: perf_event_open is refused here: SKIPPED"
  exit 77
fi
expect_status 0
expect_out '"plain"'
check "both files written" [ -s s.prof ] && check "plain file" [ -s s.prof.plain ]
js=$(printf "%s\n" "$out" | sed "/^done$/d")
check "the plain run's two threads sampled" [ "$(printf "%s" "$js" | jq -r .plain.threads)" = 2 ]
check "the plain run's samples" [ "$(printf "%s" "$js" | jq -r .plain.samples)" -gt 300 ]
check "the plain program's output passes through" [ "$(printf '%s' "$out" | grep -c '^done$')" = 2 ]

run "$HONE" record --plain ./plain -o s.prof -- ./inst
expect_status 0
expect_err 'wrote .*/s\.prof\.plain: [0-9]+ samples of \./plain.s CPU time in 2 threads'
expect_err 'next: hone report s\.prof s\.prof\.plain$'

# The report: times from the plain run, said in the header; calls from the instrumented one.
run "$HONE" report s.prof s.prof.plain
expect_status 0
expect_out "Times from the plain build's run: [0-9]+ samples"
expect_out 'samples? \([0-9.]+ %, [^)]*\) in code the instrumented run did not record'
run "$HONE" report --json s.prof s.prof.plain
expect_status 0
j=$out
check "estimate is plain" [ "$(printf '%s' "$j" | jq -r .estimate)" = plain ]
# lib_spin's unit was in libc: given to it.
cum() { printf '%s' "$j" | jq -r --arg f "$1" '[.reports[0].rows[] | select(.function == $f) | .cumtime] | add'; }
ca=$(cum spin_a) cb=$(cum spin_b) c=$(cum lib_spin)
_what="cumtime spin_a $ca spin_b $cb lib_spin $c"
if awk -v a="$ca" -v b="$cb" -v c="$c" 'BEGIN { r = a / b; q = c / b; exit !(r > 1.5 && r < 2.7 && q > 0.6 && q < 1.6) }'; then
  ok
else
  fail "spin_a/spin_b should be near 2 (the plain build's) and lib_spin/spin_b near 1"
fi
# Python's own pstats reads the export with the plain run's times.
run "$HONE" report --format pstats -o s.pstats s.prof s.prof.plain
expect_status 0
run python3 -c '
import pstats, sys
st = pstats.Stats(sys.argv[1]).stats
cum = {f[2]: v[3] for f, v in st.items()}
r = cum["spin_a"] / cum["spin_b"]
print("spin_a/spin_b", r)
sys.exit(0 if 1.5 < r < 2.7 else 1)' s.pstats
expect_status 0

# The instrumented run alone: spin_b as long as spin_a (its build spins 2 units).
run "$HONE" report --json s.prof
j=$out
ca=$(cum spin_a) cb=$(cum spin_b)
_what="instrumented alone: cumtime spin_a $ca spin_b $cb"
if awk -v a="$ca" -v b="$cb" 'BEGIN { r = a / b; exit !(r > 0.7 && r < 1.4) }'; then ok; else
  fail "spin_a/spin_b should be near 1 in the instrumented run alone"; fi
check "instrumented alone is not plain" [ "$(printf '%s' "$j" | jq -r .estimate)" != plain ]
# --raw leaves the plain run out.
run "$HONE" report --raw s.prof s.prof.plain
expect_status 0; expect_out "--raw: the plain build's run is not used"
# The plain file alone has no calls.
run "$HONE" report s.prof.plain
expect_out 'Only plain builds.* runs: they give times but no calls'

# An optimized build: work() is inlined into loop() in both builds (the instrumented build's
# hooks run around the inlined body). The plain run's samples in work's inlined code go to work
# (the resolver names the inlined function), not to loop; perf's per-line shares on this fixture
# were work's line 80 %, loop's 19 %, and hone --plain gave work 80 %.
cat >"$T/inl.c" <<'C'
#include <stdio.h>
static double data[4096];
static inline double work(double x) {
  for (int k = 0; k < 40; k++) x = x * 1.0000001 + 0.5 / (x + 1.0);
  return x;
}
__attribute__((noinline)) double loop(int n) {
  double s = 0;
  for (int i = 0; i < n; i++) {
    s += work(data[i & 4095]);
    for (int k = 0; k < 20; k++) s = s * 0.999999 + 1e-9 * k;
  }
  return s;
}
int main(void) {
  for (int i = 0; i < 4096; i++) data[i] = i * 0.25;
  printf("%f\n", loop(1000000));
  return 0;
}
C
env -u CFLAGS "$CC" -O2 -g "$T/inl.c" -o "$T/inl_plain" &&
  env -u CFLAGS "$CC" -O2 -g -finstrument-functions "$T/inl.c" -o "$T/inl_inst"
run "$HONE" record --plain ./inl_plain -o inl.prof -- ./inl_inst
expect_status 0
run "$HONE" report --json inl.prof inl.prof.plain
j=$out
tt() { printf '%s' "$j" | jq -r --arg f "$1" '[.reports[0].rows[] | select(.function == $f) | .tottime] | add'; }
w=$(tt work) l=$(tt loop)
_what="inlined: tottime work $w loop $l"
if awk -v w="$w" -v l="$l" 'BEGIN { exit !(w > l && l > 0) }'; then ok; else
  fail "the inlined work() should hold most of the time, loop() the rest"; fi

# Misuse: an instrumented build given as the plain one; a plain build that does not exist.
run "$HONE" record --plain ./inst -o m.prof -- ./inst
expect_status 1
expect_err 'hooks ran: it is not a plain build'
expect_err 'the plain build \./inst wrote no samples'
check "the instrumented file is kept" [ -s m.prof ]
run "$HONE" record --plain ./no-such-build -o n.prof -- ./inst
expect_status 2; expect_err -- '--plain \./no-such-build: No such file or directory'
check "nothing ran" [ ! -e n.prof ]
# A stale FILE.plain of an earlier run never passes for this run's.
echo junk >o.prof.plain
run "$HONE" record --plain ./inst -o o.prof -- ./inst
check "stale plain file removed" [ ! -e o.prof.plain ]
done_testing
