/* hone/counters.h: hardware and software event counters (Linux perf_event_open), for the work of
 * the calling thread.
 *
 * Many machines (virtual ones especially) expose no hardware events: opening then succeeds with
 * only the software events (task-clock, page faults, context switches, CPU migrations) and
 * hone_counters_note() says why the hardware ones are missing. Where perf_event_open is refused
 * altogether (perf_event_paranoid, seccomp), hone_counters_open() still succeeds with nothing
 * available and a note; nothing breaks.
 *
 * Ownership: hone_counters_open() allocates; hone_counters_free() releases (NULL is a no-op).
 * Thread-safety: a hone_counters counts the thread that opened it; use it from that thread only.
 */
#ifndef HONE_COUNTERS_H
#define HONE_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "hone/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hone_counter_id {
  HONE_COUNTER_CYCLES = 0,       /* hardware: CPU cycles */
  HONE_COUNTER_INSTRUCTIONS = 1, /* hardware: instructions retired */
  HONE_COUNTER_BRANCH_MISSES = 2,
  HONE_COUNTER_CACHE_MISSES = 3,
  HONE_COUNTER_TASK_CLOCK = 4, /* software: ns of CPU time */
  HONE_COUNTER_PAGE_FAULTS = 5,
  HONE_COUNTER_CONTEXT_SWITCHES = 6,
  HONE_COUNTER_CPU_MIGRATIONS = 7,
} hone_counter_id;
#define HONE_COUNTER_COUNT 8

typedef struct hone_counters hone_counters;

/* Opens every counter the machine allows for the calling thread. Fails only on bad arguments or
 * memory exhaustion. */
HONE_API HONE_NODISCARD int hone_counters_open(hone_counters **out);
HONE_API void hone_counters_free(hone_counters *c);

/* Whether counter `id` is counting. */
HONE_API bool hone_counters_available(const hone_counters *c, hone_counter_id id);
/* Why hardware counters (or all counters) are missing, one line, or NULL when all are there. */
HONE_API const char *hone_counters_note(const hone_counters *c);
/* The counter's name as perf stat prints it ("cycles", "instructions", "task-clock", ...). */
HONE_API const char *hone_counter_name(hone_counter_id id);

/* Zero and start, stop, and read every available counter (values[id]; 0 where unavailable).
 * Cycles and instructions are one group: the kernel counts both or neither at any moment, so
 * their ratio (IPC) is of one window. A counter that shared the hardware with others
 * (multiplexing) is scaled to the whole window, as perf stat does. */
HONE_API int hone_counters_start(hone_counters *c);
HONE_API int hone_counters_stop(hone_counters *c);
/* values[id] is also 0 for a counter the kernel never scheduled during the window: use
 * hone_counters_read_counted to tell that from zero events. */
HONE_API int hone_counters_read(const hone_counters *c, uint64_t values[HONE_COUNTER_COUNT]);
/* As hone_counters_read; counted[id] (when counted is not NULL) is false where the counter is
 * unavailable or never ran during the window (multiplexed out: "not counted", no figure). */
HONE_API int hone_counters_read_counted(const hone_counters *c, uint64_t values[HONE_COUNTER_COUNT],
                                        bool counted[HONE_COUNTER_COUNT]);

#ifdef __cplusplus
}
#endif
#endif /* HONE_COUNTERS_H */
