/* timing.c: the lecture's timeit example in C. Python's documentation times
 * '"-".join(str(n) for n in range(100))' against other ways of building the same string; here,
 * "0-1-2-...-999" is built two ways — strcat, which walks the whole string again on every call,
 * and memcpy at an end pointer the code keeps — timed with hone's Timer exactly as
 * `python -m timeit` would, and the faster one named with the ratio and its uncertainty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hone/hone.h>

enum { COUNT = 1000 };

typedef struct {
  char nums[COUNT][8]; /* "0" .. "999", made once by the setup: never timed */
  size_t lens[COUNT];
  char buf[COUNT * 8];
} job;

static int setup(void *arg) {
  job *j = arg;
  for (int i = 0; i < COUNT; i++) j->lens[i] = (size_t)snprintf(j->nums[i], 8, "%d", i);
  j->buf[0] = '\0';
  return 0;
}

static void with_strcat(void *arg) {
  job *j = arg;
  j->buf[0] = '\0';
  for (int i = 0; i < COUNT; i++) {
    strcat(j->buf, j->nums[i]);
    if (i + 1 < COUNT) strcat(j->buf, "-");
  }
  hone_clobber_memory();
}

static void with_end_pointer(void *arg) {
  job *j = arg;
  char *end = j->buf;
  for (int i = 0; i < COUNT; i++) {
    memcpy(end, j->nums[i], j->lens[i]);
    end += j->lens[i];
    if (i + 1 < COUNT) *end++ = '-';
  }
  *end = '\0';
  hone_clobber_memory();
}

/* Python's line: "2000 loops, best of 5: 98.2 usec per loop". */
static void print_line(const char *label, const hone_result *r) {
  static const struct {
    const char *unit;
    double scale; /* ns */
  } units[] = {{"sec", 1e9}, {"msec", 1e6}, {"usec", 1e3}, {"nsec", 1}};
  double best = hone_result_stats(r)->min;
  size_t u = 0;
  while (u + 1 < sizeof units / sizeof units[0] && best < units[u].scale) u++;
  unsigned long long n = (unsigned long long)hone_result_number(r);
  printf("  %-28s %llu loop%s, best of %zu: %.3g %s per loop\n", label, n, n == 1 ? "" : "s",
         hone_result_trials(r), best / units[u].scale, units[u].unit);
}

static int measure(hone_stmt_fn stmt, job *j, hone_result **out) {
  hone_timer *t;
  int rc = hone_timer_new(&t);
  if (rc < 0) return rc;
  hone_timing_config cfg;
  hone_timing_config_init(&cfg);
  cfg.autorange_target = 0.1; /* Python's is 0.2 s; half keeps the demo short */
  if ((rc = hone_timer_configure(t, &cfg)) == 0 && (rc = hone_timer_set_stmt(t, stmt, j)) == 0 &&
      (rc = hone_timer_set_fixture(t, setup, NULL, j)) == 0)
    rc = hone_timer_repeat(t, 5, 0, out); /* number 0: autorange first, as python -m timeit */
  hone_timer_free(t);
  return rc;
}

int main(void) {
  job *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  if (!a || !b) return 1;
  /* The two ways must agree before their speeds mean anything. */
  setup(a);
  setup(b);
  with_strcat(a);
  with_end_pointer(b);
  if (strcmp(a->buf, b->buf) != 0) {
    fprintf(stderr, "timing: the two ways disagree\n");
    return 1;
  }
  printf("Building \"0-1-2-...-%d\" (%zu characters) two ways, timed like python -m timeit:\n",
         COUNT - 1, strlen(a->buf));

  hone_result *slow = NULL, *fast = NULL;
  int rc = measure(with_strcat, a, &slow);
  if (rc == 0) rc = measure(with_end_pointer, b, &fast);
  if (rc < 0) {
    fprintf(stderr, "timing: %s\n", hone_strerror(rc));
    return 1;
  }
  print_line("strcat (rescans the string):", slow);
  print_line("memcpy at a tracked end:", fast);

  hone_ratio ratio;
  rc = hone_stats_ratio(hone_result_per_loop(slow), hone_result_trials(slow),
                        hone_result_per_loop(fast), hone_result_trials(fast), &ratio);
  if (rc < 0) {
    fprintf(stderr, "timing: %s\n", hone_strerror(rc));
    return 1;
  }
  if (ratio.value >= 1)
    printf("memcpy at a tracked end is %.2f ± %.2f times faster than strcat.\n", ratio.value,
           ratio.uncertainty);
  else
    printf("strcat is %.2f times faster than memcpy at a tracked end (ratio %.2f ± %.2f).\n",
           1 / ratio.value, ratio.value, ratio.uncertainty);
  hone_result_free(slow);
  hone_result_free(fast);
  free(a);
  free(b);
  return 0;
}
