/* cpu.c: hone_cpu_count — the CPUs this process may really use: its affinity mask, lowered to
 * the cgroup CPU quota (containers often allow fewer CPUs than the machine shows). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone/pool.h"
#include "parallel/cpu.h"
#include "parallel/sync.h"

bool hone__cpu_alone(void) {
  static _Thread_local int64_t checked_at;
  static _Thread_local bool alone, checked;
  int64_t now = hone__now_ns();
  if (!checked || now - checked_at >= 50000000) {
    checked = true;
    alone = hone__cpu_affinity_count() == 1;
    checked_at = now;
  }
  return alone;
}

/* Buffer sizes: a mount point, a cgroup path below it, a directory (both), a file in it. */
enum {
  MOUNT_MAX = 4096,
  CGPATH_MAX = 2048,
  DIR_MAX = MOUNT_MAX + CGPATH_MAX,
  FILE_MAX = DIR_MAX + 32
};

unsigned hone__cpu_affinity_count(void) {
  for (int ncpu = 1024; ncpu <= (1 << 20); ncpu *= 4) {
    cpu_set_t *set = CPU_ALLOC(ncpu);
    if (!set) return 1;
    size_t sz = CPU_ALLOC_SIZE(ncpu);
    CPU_ZERO_S(sz, set);
    if (sched_getaffinity(0, sz, set) == 0) {
      int n = CPU_COUNT_S(sz, set);
      CPU_FREE(set);
      return n > 0 ? (unsigned)n : 1;
    }
    CPU_FREE(set);
  }
  return 1;
}

static int read_text(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = '\0';
  return 0;
}

/* ceil(quota / period), or 0 for "no limit". */
static unsigned ratio(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  long long c = (quota + period - 1) / period;
  return c < 1 ? 1 : c > 1000000 ? 1000000 : (unsigned)c;
}

static unsigned v2_limit_at(const char *dir) {
  char path[FILE_MAX], buf[128];
  snprintf(path, sizeof path, "%s/cpu.max", dir);
  if (read_text(path, buf, sizeof buf) != 0) return 0;
  char q[32];
  long long period = 0;
  if (sscanf(buf, "%31s %lld", q, &period) != 2 || strcmp(q, "max") == 0) return 0;
  return ratio(atoll(q), period);
}

static unsigned v1_limit_at(const char *dir) {
  char path[FILE_MAX], buf[64];
  snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
  if (read_text(path, buf, sizeof buf) != 0) return 0;
  long long quota = atoll(buf);
  snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
  if (read_text(path, buf, sizeof buf) != 0) return 0;
  return ratio(quota, atoll(buf));
}

static unsigned min_limit(unsigned a, unsigned b) {
  if (!a) return b;
  if (!b) return a;
  return a < b ? a : b;
}

/* The tightest limit on `mount` + `cgpath` and each ancestor up to the mount itself. */
static unsigned walk(const char *mount, const char *cgpath, unsigned (*at)(const char *)) {
  char rel[CGPATH_MAX];
  snprintf(rel, sizeof rel, "%s", cgpath);
  size_t len = strlen(rel);
  while (len > 1 && rel[len - 1] == '/') rel[--len] = '\0';
  unsigned lim = 0;
  for (;;) {
    char dir[DIR_MAX];
    snprintf(dir, sizeof dir, "%s%s", mount, strcmp(rel, "/") == 0 ? "" : rel);
    lim = min_limit(lim, at(dir));
    char *slash = strrchr(rel, '/');
    if (!slash || slash == rel) {
      if (strcmp(rel, "/") == 0 || rel[0] == '\0') break;
      strcpy(rel, "/");
      continue;
    }
    *slash = '\0';
  }
  return lim;
}

unsigned hone__cpu_quota_limit(const char *root) {
  char path[MOUNT_MAX], text[8192];
  snprintf(path, sizeof path, "%s/proc/self/cgroup", root);
  if (read_text(path, text, sizeof text) != 0) return 0;
  unsigned lim = 0;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    char *c1 = strchr(line, ':');
    if (!c1) continue;
    char *c2 = strchr(c1 + 1, ':');
    if (!c2) continue;
    *c2 = '\0';
    const char *controllers = c1 + 1, *cgpath = c2 + 1;
    if (strncmp(line, "0:", 2) == 0 && controllers[0] == '\0') {
      snprintf(path, sizeof path, "%s/sys/fs/cgroup", root);
      lim = min_limit(lim, walk(path, cgpath, v2_limit_at));
      continue;
    }
    /* v1: the "cpu" controller, possibly co-mounted ("cpu,cpuacct"). */
    char list[256];
    snprintf(list, sizeof list, ",%s,", controllers);
    if (!strstr(list, ",cpu,")) continue;
    static const char *mounts[] = {"cpu,cpuacct", "cpuacct,cpu", "cpu"};
    for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
      snprintf(path, sizeof path, "%s/sys/fs/cgroup/%s", root, mounts[i]);
      char probe[FILE_MAX];
      snprintf(probe, sizeof probe, "%s/cpu.cfs_period_us", path);
      FILE *f = fopen(probe, "r");
      if (!f) continue;
      fclose(f);
      lim = min_limit(lim, walk(path, cgpath, v1_limit_at));
      break;
    }
  }
  return lim;
}

unsigned hone_cpu_count(void) {
  unsigned n = hone__cpu_affinity_count();
  unsigned q = hone__cpu_quota_limit("");
  if (q && q < n) n = q;
  return n ? n : 1;
}
