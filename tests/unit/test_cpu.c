/* test_cpu.c: hone_cpu_count — the affinity mask and cgroup quotas (v2 cpu.max, v1 cfs quota),
 * read from a fake /proc and /sys tree.
 * Single-threaded: not in the ThreadSanitizer run. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone/pool.h"
#include "parallel/cpu.h"

static char root[256];

static void put(const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  /* mkdir -p of the parent */
  for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
    *s = '\0';
    mkdir(path, 0755);
    *s = '/';
  }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int make_root(void **state) {
  const char *tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/hone_cpu_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  return mkdtemp(root) ? 0 : -1;
}

static int remove_root(void **state) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_affinity(void **state) {
  cpu_set_t set;
  CPU_ZERO(&set);
  assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
  unsigned want = (unsigned)CPU_COUNT(&set);
  assert_int_equal(hone__cpu_affinity_count(), want);
  unsigned n = hone_cpu_count();
  assert_true(n >= 1 && n <= want);
  /* Narrow the mask to one CPU: the count follows (in a thread of our own, restored after). */
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) {
      CPU_SET(c, &one);
      break;
    }
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  assert_int_equal(hone_cpu_count(), 1);
  assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
}

static void test_cgroup_v2(void **state) {
  assert_int_equal(hone__cpu_quota_limit(root), 0); /* nothing readable: no limit */
  put("proc/self/cgroup", "0::/app/worker\n");
  put("sys/fs/cgroup/cpu.max", "max 100000\n");
  assert_int_equal(hone__cpu_quota_limit(root), 0);
  put("sys/fs/cgroup/app/worker/cpu.max", "150000 100000\n"); /* 1.5 CPUs -> 2 */
  assert_int_equal(hone__cpu_quota_limit(root), 2);
  put("sys/fs/cgroup/app/cpu.max", "50000 100000\n"); /* an ancestor's tighter limit wins */
  assert_int_equal(hone__cpu_quota_limit(root), 1);
  put("sys/fs/cgroup/app/cpu.max", "max 100000\n");
  put("sys/fs/cgroup/app/worker/cpu.max", "400000 100000\n");
  assert_int_equal(hone__cpu_quota_limit(root), 4);
}

static void test_cgroup_v1(void **state) {
  remove_root(state);
  make_root(state);
  put("proc/self/cgroup", "5:memory:/x\n4:cpu,cpuacct:/docker/abc\n0::/\n");
  put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  assert_int_equal(hone__cpu_quota_limit(root), 0);
  put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  assert_int_equal(hone__cpu_quota_limit(root), 3);
  put("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "10000\n"); /* 0.1 CPU -> 1 */
  assert_int_equal(hone__cpu_quota_limit(root), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_affinity),
      cmocka_unit_test(test_cgroup_v2),
      cmocka_unit_test(test_cgroup_v1),
  };
  return cmocka_run_group_tests(tests, make_root, remove_root);
}
