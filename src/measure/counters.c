/* counters.c: hardware and software event counters of the calling thread through Linux's
 * perf_event_open, each event opened on its own so that one the machine lacks never takes the
 * others down with it. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hone/counters.h"

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
  int err[HONE_COUNTER_COUNT]; /* errno of the failed open */
  char note[200];
  bool has_note;
};

static int perf_open(struct perf_event_attr *attr) {
  return (int)syscall(SYS_perf_event_open, attr, 0 /* this thread */, -1 /* any CPU */,
                      -1 /* no group */, PERF_FLAG_FD_CLOEXEC);
}

/* Opens one event. Kernel-side counting is tried first (context switches are only seen there);
 * where perf_event_paranoid forbids it, user space alone is counted. */
static int open_event(hone_counter_id id, int *err) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = events[id].type;
  attr.config = events[id].config;
  attr.disabled = 1;
  attr.exclude_hv = 1;
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  int fd = perf_open(&attr);
  if (fd < 0 && (errno == EACCES || errno == EPERM)) {
    attr.exclude_kernel = 1;
    fd = perf_open(&attr);
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
  for (int i = 0; i < HONE_COUNTER_COUNT; i++)
    c->fd[i] = open_event((hone_counter_id)i, &c->err[i]);
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

int hone_counters_start(hone_counters *c) {
  if (!c) return HONE_EINVAL;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    if (c->fd[i] < 0) continue;
    if (ioctl(c->fd[i], PERF_EVENT_IOC_RESET, 0) != 0 ||
        ioctl(c->fd[i], PERF_EVENT_IOC_ENABLE, 0) != 0)
      return HONE_ESYS;
  }
  return 0;
}

int hone_counters_stop(hone_counters *c) {
  if (!c) return HONE_EINVAL;
  for (int i = HONE_COUNTER_COUNT - 1; i >= 0; i--) {
    if (c->fd[i] >= 0 && ioctl(c->fd[i], PERF_EVENT_IOC_DISABLE, 0) != 0) return HONE_ESYS;
  }
  return 0;
}

int hone_counters_read(const hone_counters *c, uint64_t values[HONE_COUNTER_COUNT]) {
  if (!c || !values) return HONE_EINVAL;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) {
    values[i] = 0;
    if (c->fd[i] < 0) continue;
    uint64_t buf[3]; /* value, time enabled, time running */
    if (read(c->fd[i], buf, sizeof buf) != (ssize_t)sizeof buf) return HONE_ESYS;
    /* A counter shared with others by the kernel's multiplexing ran part of the time: scale it
     * up to the whole, as perf stat does. */
    if (buf[2] > 0 && buf[2] < buf[1])
      values[i] = (uint64_t)((double)buf[0] * (double)buf[1] / (double)buf[2]);
    else
      values[i] = buf[0];
  }
  return 0;
}
