/* test_counters.c: event counters — whatever the machine offers, opening succeeds, the note says
 * what is missing, and the software events that are there count real work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/clock.h"
#include "hone/counters.h"
#include "hone/timeit.h"
#include "measure/measure.h"

/* Spins until this thread has had `ms` of CPU time (or 10 s have passed on a crowded machine). */
static void spin_ms(int ms) {
  int64_t t0, t, give_up = hone_clock_monotonic_ns() + 10000000000LL;
  assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t0), 0);
  do {
    assert_int_equal(hone_clock_read(HONE_CLOCK_THREAD_CPU, &t), 0);
  } while (t - t0 < (int64_t)ms * 1000000 && hone_clock_monotonic_ns() < give_up);
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(hone_counter_name(HONE_COUNTER_CYCLES), "cycles");
  assert_string_equal(hone_counter_name(HONE_COUNTER_INSTRUCTIONS), "instructions");
  assert_string_equal(hone_counter_name(HONE_COUNTER_TASK_CLOCK), "task-clock");
  assert_string_equal(hone_counter_name(HONE_COUNTER_PAGE_FAULTS), "page-faults");
  assert_string_equal(hone_counter_name(HONE_COUNTER_CONTEXT_SWITCHES), "context-switches");
  assert_null(hone_counter_name((hone_counter_id)HONE_COUNTER_COUNT));
  assert_null(hone_counter_name((hone_counter_id)-1));
}

static void test_bad_arguments(void **state) {
  (void)state;
  assert_int_equal(hone_counters_open(NULL), HONE_EINVAL);
  assert_int_equal(hone_counters_start(NULL), HONE_EINVAL);
  assert_int_equal(hone_counters_stop(NULL), HONE_EINVAL);
  uint64_t v[HONE_COUNTER_COUNT];
  assert_int_equal(hone_counters_read(NULL, v), HONE_EINVAL);
  assert_false(hone_counters_available(NULL, HONE_COUNTER_TASK_CLOCK));
  assert_null(hone_counters_note(NULL));
  hone_counters_free(NULL);
  hone_counters *c;
  assert_int_equal(hone_counters_open(&c), 0);
  assert_int_equal(hone_counters_read(c, NULL), HONE_EINVAL);
  assert_false(hone_counters_available(c, (hone_counter_id)HONE_COUNTER_COUNT));
  hone_counters_free(c);
}

/* The note is there exactly when something is missing, and names hardware when that is what
 * is missing (the machines this is tested on answer ENOENT for every hardware event). */
static void test_note_matches_availability(void **state) {
  (void)state;
  hone_counters *c;
  assert_int_equal(hone_counters_open(&c), 0);
  bool all = true, any_hw = false, any = false;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    bool a = hone_counters_available(c, (hone_counter_id)i);
    all = all && a;
    any = any || a;
    if (i <= HONE_COUNTER_CACHE_MISSES) any_hw = any_hw || a;
  }
  const char *note = hone_counters_note(c);
  if (all) {
    assert_null(note);
  } else {
    assert_non_null(note);
    assert_null(strchr(note, '\n'));
    if (!any)
      assert_non_null(strstr(note, "no event counters"));
    else if (!any_hw)
      assert_non_null(strstr(note, "no hardware counters"));
  }
  print_message("counters: %s\n", note ? note : "all available");
  hone_counters_free(c);
}

static void test_software_events_count_work(void **state) {
  (void)state;
  hone_counters *c;
  assert_int_equal(hone_counters_open(&c), 0);
  if (!hone_counters_available(c, HONE_COUNTER_TASK_CLOCK)) {
    hone_counters_free(c);
    skip();
  }
  size_t len = 4u << 20;
  assert_int_equal(hone_counters_start(c), 0);
  spin_ms(10);
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  for (size_t i = 0; i < len; i += 4096) p[i] = (char)i;
  assert_int_equal(hone_counters_stop(c), 0);
  munmap(p, len);

  uint64_t v[HONE_COUNTER_COUNT], again[HONE_COUNTER_COUNT];
  assert_int_equal(hone_counters_read(c, v), 0);
  assert_true(v[HONE_COUNTER_TASK_CLOCK] >= 5000000u);    /* >= 5 ms of the 30 ms spun */
  assert_true(v[HONE_COUNTER_TASK_CLOCK] < 60000000000u); /* and not nonsense */
  if (hone_counters_available(c, HONE_COUNTER_PAGE_FAULTS))
    assert_true(v[HONE_COUNTER_PAGE_FAULTS] >= 100); /* 1024 fresh pages touched */
  for (int i = 0; i < HONE_COUNTER_COUNT; i++)
    if (!hone_counters_available(c, (hone_counter_id)i)) assert_true(v[i] == 0);

  /* Stopped counters stay still. */
  spin_ms(10);
  assert_int_equal(hone_counters_read(c, again), 0);
  assert_true(again[HONE_COUNTER_TASK_CLOCK] == v[HONE_COUNTER_TASK_CLOCK]);

  /* Starting again starts from zero. */
  assert_int_equal(hone_counters_start(c), 0);
  assert_int_equal(hone_counters_stop(c), 0);
  assert_int_equal(hone_counters_read(c, again), 0);
  assert_true(again[HONE_COUNTER_TASK_CLOCK] < v[HONE_COUNTER_TASK_CLOCK]);
  hone_counters_free(c);
}

/* A machine where perf_event_open is refused outright (a seccomp filter, as in many
 * containers): opening still succeeds with nothing counting, the note says why, and a Timer
 * asked for counters still measures. Runs in a child, which the filter stays confined to. */
static int refused_child(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_perf_event_open, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    return 10; /* no seccomp here: nothing to test */
  hone_counters *c;
  if (hone_counters_open(&c) != 0) return 1;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++)
    if (hone_counters_available(c, (hone_counter_id)i)) return 2;
  const char *note = hone_counters_note(c);
  if (!note || !strstr(note, "no event counters") || !strstr(note, "not available")) return 3;
  uint64_t v[HONE_COUNTER_COUNT];
  if (hone_counters_start(c) != 0 || hone_counters_stop(c) != 0 || hone_counters_read(c, v) != 0)
    return 4;
  hone_counters_free(c);

  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.number = 100;
  cfg.repeat = 2;
  cfg.counters = true;
  hone_run *run;
  if (hone_run_new(&cfg, &run) != 0) return 5;
  uint64_t n;
  while ((n = hone_run_next(run)) > 0) {
    hone_run_start(run);
    for (uint64_t i = 0; i < n; i++) hone_clobber_memory();
    hone_run_stop(run);
  }
  hone_result *r;
  if (hone_run_finish(run, &r) != 0) return 6;
  double values[HONE_COUNTER_COUNT];
  bool avail[HONE_COUNTER_COUNT];
  if (hone_result_counters(r, values, avail, &note) != 0 || !note || avail[HONE_COUNTER_TASK_CLOCK])
    return 7;
  hone_result_free(r);
  hone_run_free(run);
  return 0;
}

static void test_refused_outright(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(refused_child());
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  if (WEXITSTATUS(st) == 10) skip();
  assert_int_equal(WEXITSTATUS(st), 0);
}

/* perf stat's scaling, fed synthetic (raw, enabled, running) triples: hardware counters are not
 * available on every machine, multiplexing even less. */
static void test_scaling(void **state) {
  (void)state;
  uint64_t v = 99;
  /* Ran the whole window: as read. */
  assert_true(hone__counter_scale(1000, 500, 500, &v));
  assert_true(v == 1000);
  /* Ran a quarter of it: four times what it saw. */
  assert_true(hone__counter_scale(1000, 400, 100, &v));
  assert_true(v == 4000);
  /* Never scheduled (multiplexed out for the whole window): not counted, which is not 0. */
  v = 99;
  assert_false(hone__counter_scale(0, 400, 0, &v));
  assert_true(v == 0);
  assert_false(hone__counter_scale(0, 0, 0, &v));
  /* Ran, and saw no event: a true 0. */
  assert_true(hone__counter_scale(0, 400, 400, &v));
  assert_true(v == 0);
  /* Running above enabled (clock skew): not scaled down. */
  assert_true(hone__counter_scale(1000, 100, 200, &v));
  assert_true(v == 1000);
}

/* What a run makes of per-trial readings where a counter was multiplexed out: trials that did
 * not count it do not pull its average towards 0, and one that never ran says so. */
typedef struct synth {
  int trial;
} synth;

static void synth_counts(void *arg, uint64_t values[HONE_COUNTER_COUNT],
                         bool counted[HONE_COUNTER_COUNT]) {
  synth *s = arg;
  int t = s->trial++;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    values[i] = 0;
    counted[i] = false;
  }
  /* cycles: counted in trials 0 and 2 only (1000 and 3000 over 10 loops). */
  if (t != 1) {
    counted[HONE_COUNTER_CYCLES] = true;
    values[HONE_COUNTER_CYCLES] = t == 0 ? 1000 : 3000;
  }
  /* instructions: never scheduled. */
  /* page faults: counted every time, and truly 0. */
  counted[HONE_COUNTER_PAGE_FAULTS] = true;
}

static void test_not_counted_is_not_zero(void **state) {
  (void)state;
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.number = 10;
  cfg.repeat = 3;
  cfg.counters = true;
  hone_run *run;
  assert_int_equal(hone_run_new(&cfg, &run), 0);
  synth s = {0};
  assert_int_equal(hone__run_set_counter_hook(run, synth_counts, &s), 0);
  uint64_t n;
  while ((n = hone_run_next(run)) > 0) {
    hone_run_start(run);
    hone_run_stop(run);
  }
  hone_result *res;
  assert_int_equal(hone_run_finish(run, &res), 0);
  double values[HONE_COUNTER_COUNT];
  bool avail[HONE_COUNTER_COUNT], counted[HONE_COUNTER_COUNT];
  assert_int_equal(hone_result_counters(res, values, avail, NULL), 0);
  assert_int_equal(hone_result_counters_counted(res, counted), 0);
  assert_true(counted[HONE_COUNTER_CYCLES]);
  assert_true(values[HONE_COUNTER_CYCLES] == 200); /* (100 + 300) / 2, not (100 + 0 + 300) / 3 */
  assert_true(avail[HONE_COUNTER_INSTRUCTIONS]);
  assert_false(counted[HONE_COUNTER_INSTRUCTIONS]);
  assert_true(counted[HONE_COUNTER_PAGE_FAULTS]);
  assert_true(values[HONE_COUNTER_PAGE_FAULTS] == 0);
  hone_result_free(res);
  hone_run_free(run);
  assert_int_equal(hone_result_counters_counted(NULL, counted), HONE_EINVAL);
}

/* The grouped cycles and instructions, where the machine has them: counted in the same windows
 * (both or neither), so their ratio is of one window. Elsewhere: both unavailable, never one. */
static void test_cycles_and_instructions_together(void **state) {
  (void)state;
  hone_counters *c;
  assert_int_equal(hone_counters_open(&c), 0);
  bool cyc = hone_counters_available(c, HONE_COUNTER_CYCLES);
  bool ins = hone_counters_available(c, HONE_COUNTER_INSTRUCTIONS);
  if (cyc && ins) {
    uint64_t v[HONE_COUNTER_COUNT];
    bool counted[HONE_COUNTER_COUNT];
    assert_int_equal(hone_counters_start(c), 0);
    spin_ms(5);
    assert_int_equal(hone_counters_stop(c), 0);
    assert_int_equal(hone_counters_read_counted(c, v, counted), 0);
    assert_int_equal(counted[HONE_COUNTER_CYCLES], counted[HONE_COUNTER_INSTRUCTIONS]);
    if (counted[HONE_COUNTER_CYCLES]) assert_true(v[HONE_COUNTER_INSTRUCTIONS] > 0);
  }
  hone_counters_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_note_matches_availability),
      cmocka_unit_test(test_software_events_count_work),
      cmocka_unit_test(test_refused_outright),
      cmocka_unit_test(test_scaling),
      cmocka_unit_test(test_not_counted_is_not_zero),
      cmocka_unit_test(test_cycles_and_instructions_together),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
