/* counters.c: hardware and software event counters of the calling thread through Linux's
 * perf_event_open, each event opened on its own so that one the machine lacks never takes the
 * others down with it — except cycles and instructions, opened as one group (cycles leading) so
 * that the kernel schedules them together and an IPC never divides counts of different windows.
 * A counter multiplexed out for a whole window (time running 0) is "not counted", never 0. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hone/counters.h"
#include "measure/measure.h"

static const struct {
  const char *name;
  uint32_t type;
  uint64_t config;
} events[HONE_COUNTER_COUNT] = {
    [HONE_COUNTER_CYCLES] = {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    [HONE_COUNTER_INSTRUCTIONS] = {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    [HONE_COUNTER_BRANCH_MISSES] = {"branch-misses", PERF_TYPE_HARDWARE,
                                    PERF_COUNT_HW_BRANCH_MISSES},
    [HONE_COUNTER_CACHE_MISSES] = {"cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
    [HONE_COUNTER_TASK_CLOCK] = {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
    [HONE_COUNTER_PAGE_FAULTS] = {"page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    [HONE_COUNTER_CONTEXT_SWITCHES] = {"context-switches", PERF_TYPE_SOFTWARE,
                                       PERF_COUNT_SW_CONTEXT_SWITCHES},
    [HONE_COUNTER_CPU_MIGRATIONS] = {"cpu-migrations", PERF_TYPE_SOFTWARE,
                                     PERF_COUNT_SW_CPU_MIGRATIONS},
};

struct hone_counters {
  int fd[HONE_COUNTER_COUNT];  /* -1 where the event could not be opened */
  bool grouped;                /* instructions is in cycles' group: started and stopped with it */
  int err[HONE_COUNTER_COUNT]; /* errno of the failed open */
  char note[200];
  bool has_note;
};

static int perf_open(struct perf_event_attr *attr, int group) {
  return (int)syscall(SYS_perf_event_open, attr, 0 /* this thread */, -1 /* any CPU */, group,
                      PERF_FLAG_FD_CLOEXEC);
}

/* Opens one event. Kernel-side counting is tried first (context switches are only seen there);
 * where perf_event_paranoid forbids it, user space alone is counted. */
static int open_event(hone_counter_id id, int group, int *err) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = events[id].type;
  attr.config = events[id].config;
  attr.disabled = 1;
  attr.exclude_hv = 1;
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  /* A group member is enabled with its leader (and must be enabled itself to count). */
  attr.disabled = group < 0;
  int fd = perf_open(&attr, group);
  if (fd < 0 && (errno == EACCES || errno == EPERM)) {
    attr.exclude_kernel = 1;
    fd = perf_open(&attr, group);
  }
  *err = fd < 0 ? errno : 0;
  return fd;
}

static bool is_hardware(int id) {
  return events[id].type == PERF_TYPE_HARDWARE;
}

static const char *reason(int err) {
  switch (err) {
  case ENOENT:
  case EOPNOTSUPP:
    return "the machine exposes none";
  case EACCES:
  case EPERM:
    return "perf_event_open refused (see /proc/sys/kernel/perf_event_paranoid)";
  case ENOSYS:
    return "perf_event_open is not available (kernel or seccomp filter)";
  default:
    return "perf_event_open failed";
  }
}

static void write_note(hone_counters *c) {
  int hw_missing = 0, hw_total = 0, sw_missing = 0, hw_err = 0, sw_err = 0;
  const char *first_hw = NULL;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    if (is_hardware(i)) {
      hw_total++;
      if (c->fd[i] < 0) {
        hw_missing++;
        if (!first_hw) first_hw = events[i].name, hw_err = c->err[i];
      }
    } else if (c->fd[i] < 0) {
      sw_missing++;
      if (!sw_err) sw_err = c->err[i];
    }
  }
  if (hw_missing == 0 && sw_missing == 0) return;
  c->has_note = true;
  if (sw_missing == HONE_COUNTER_COUNT - hw_total && hw_missing == hw_total)
    snprintf(c->note, sizeof c->note, "no event counters: %s (%s)", reason(sw_err),
             strerror(sw_err));
  else if (hw_missing == hw_total)
    snprintf(c->note, sizeof c->note, "no hardware counters: %s (%s); software events only",
             reason(hw_err), strerror(hw_err));
  else if (hw_missing > 0)
    snprintf(c->note, sizeof c->note, "some hardware counters are missing, first %s: %s (%s)",
             first_hw, reason(hw_err), strerror(hw_err));
  else
    snprintf(c->note, sizeof c->note, "some software counters are missing: %s (%s)", reason(sw_err),
             strerror(sw_err));
}

int hone_counters_open(hone_counters **out) {
  if (!out) return HONE_EINVAL;
  *out = NULL;
  hone_counters *c = calloc(1, sizeof *c);
  if (!c) return HONE_ENOMEM;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    if (i == HONE_COUNTER_INSTRUCTIONS && c->fd[HONE_COUNTER_CYCLES] >= 0) {
      c->fd[i] = open_event((hone_counter_id)i, c->fd[HONE_COUNTER_CYCLES], &c->err[i]);
      if (c->fd[i] >= 0) {
        c->grouped = true;
        continue;
      }
      /* Refused in the group (the leader's exclusions may differ): alone, then. */
    }
    c->fd[i] = open_event((hone_counter_id)i, -1, &c->err[i]);
  }
  write_note(c);
  *out = c;
  return 0;
}

void hone_counters_free(hone_counters *c) {
  if (!c) return;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++)
    if (c->fd[i] >= 0) close(c->fd[i]);
  free(c);
}

bool hone_counters_available(const hone_counters *c, hone_counter_id id) {
  return c && (unsigned)id < HONE_COUNTER_COUNT && c->fd[id] >= 0;
}

const char *hone_counters_note(const hone_counters *c) {
  return c && c->has_note ? c->note : NULL;
}

const char *hone_counter_name(hone_counter_id id) {
  return (unsigned)id < HONE_COUNTER_COUNT ? events[id].name : NULL;
}

/* The ioctl for counter i: a group's leader acts on the whole group at once; its member is left
 * to it. */
static int group_ioctl(const hone_counters *c, int i, unsigned long req) {
  if (c->fd[i] < 0 || (c->grouped && i == HONE_COUNTER_INSTRUCTIONS)) return 0;
  unsigned long flag = c->grouped && i == HONE_COUNTER_CYCLES ? PERF_IOC_FLAG_GROUP : 0;
  return ioctl(c->fd[i], req, flag);
}

int hone_counters_start(hone_counters *c) {
  if (!c) return HONE_EINVAL;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    if (group_ioctl(c, i, PERF_EVENT_IOC_RESET) != 0 ||
        group_ioctl(c, i, PERF_EVENT_IOC_ENABLE) != 0)
      return HONE_ESYS;
  }
  return 0;
}

int hone_counters_stop(hone_counters *c) {
  if (!c) return HONE_EINVAL;
  for (int i = HONE_COUNTER_COUNT - 1; i >= 0; i--) {
    if (group_ioctl(c, i, PERF_EVENT_IOC_DISABLE) != 0) return HONE_ESYS;
  }
  return 0;
}

bool hone__counter_scale(uint64_t raw, uint64_t enabled, uint64_t running, uint64_t *out) {
  /* Never scheduled: nothing is known, which is not zero events. */
  if (running == 0) {
    *out = 0;
    return false;
  }
  /* Shared with others by the kernel's multiplexing, it ran part of the time: scaled up to the
   * whole, as perf stat does. */
  if (running < enabled)
    *out = (uint64_t)((double)raw * (double)enabled / (double)running);
  else
    *out = raw;
  return true;
}

int hone_counters_read_counted(const hone_counters *c, uint64_t values[HONE_COUNTER_COUNT],
                               bool counted[HONE_COUNTER_COUNT]) {
  if (!c || !values) return HONE_EINVAL;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    values[i] = 0;
    if (counted) counted[i] = false;
    if (c->fd[i] < 0) continue;
    uint64_t buf[3]; /* value, time enabled, time running */
    if (read(c->fd[i], buf, sizeof buf) != (ssize_t)sizeof buf) return HONE_ESYS;
    bool ran = hone__counter_scale(buf[0], buf[1], buf[2], &values[i]);
    if (counted) counted[i] = ran;
  }
  return 0;
}

int hone_counters_read(const hone_counters *c, uint64_t values[HONE_COUNTER_COUNT]) {
  return hone_counters_read_counted(c, values, NULL);
}
