/* timeit_msg.h: the messages `hone timeit`'s measuring child sends its parent over a pipe, and
 * the parent's reader of them. The child runs the user's snippet, which may write anything on
 * that pipe (it inherits it): the reader takes bytes it cannot trust, refuses what is malformed
 * and never reads past what it was given (fuzzed by tests/fuzz/fuzz_timeit_msg.c).
 *
 * A message is a header of two uint32 in the host's order (type, payload length) and the payload.
 * Internal to the CLI.
 */
#ifndef HONE_CLI_TIMEIT_MSG_H
#define HONE_CLI_TIMEIT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hone/counters.h"

enum {
  HONE__MSG_AUTORANGE = 2, /* u32 index, u32 total, u64 number, f64 trial ns */
  HONE__MSG_TRIAL = 3,     /* the same */
  /* u64 number, u32 trials, f64 per-loop ns [trials], u32 have counters, f64 values [COUNT],
   * u8 available [COUNT], u8 counted [COUNT], then the counters' note (the rest, maybe empty) */
  HONE__MSG_RESULT = 4,
  HONE__MSG_ERROR = 5, /* u32 kind (HONE__ERR_*), then the message (the rest) */
  /* Beside a RESULT, before it: u32 trials, u32 probed, i32 CPU the child pinned itself to (-1:
   * none), f64 clock GHz [trials], f64 core share [trials] (zeros unless probed), i32 CPU [trials]
   * (-1: moved or unknown) */
  HONE__MSG_MACHINE = 6,
};
enum { HONE__ERR_LOAD = 1, HONE__ERR_RUN = 2 };

/* The largest payload accepted: a result of a million trials fits. */
#define HONE__MSG_MAX (16u << 20)

/* What the child said. Strings and arrays are malloc'd and freed by hone__timeit_report_free. */
typedef struct hone__timeit_report {
  bool measured; /* a RESULT arrived */
  uint64_t number;
  unsigned trials;
  double *per_loop; /* ns, `trials` of them */
  bool have_counters;
  double counters[HONE_COUNTER_COUNT];
  bool counter_avail[HONE_COUNTER_COUNT];   /* the counter was opened */
  bool counter_counted[HONE_COUNTER_COUNT]; /* ... and ran in at least one trial */
  char *counter_note;
  unsigned machine_trials; /* a MACHINE message arrived with this many trials (0: none) */
  bool probed;
  int32_t pinned;
  double *clock_ghz, *core_share; /* beside each trial (hone_result_machine) */
  int32_t *cpus;
  size_t nauto; /* autorange steps, the first 64 kept */
  uint64_t auto_number[64];
  double auto_ns[64];
  char *err; /* an ERROR message, or NULL */
  uint32_t err_kind;
  bool oom; /* a payload could not be kept for want of memory (the parse then returned -1) */
  /* The last AUTORANGE or TRIAL message, for progress. */
  uint32_t last_index, last_total;
  uint64_t last_number;
} hone__timeit_report;

/* What a message was, for the caller's progress display. */
enum { HONE__MSG_SEEN_OTHER = 0, HONE__MSG_SEEN_AUTORANGE, HONE__MSG_SEEN_TRIAL };

/* Reads one payload of `type` into r. Returns HONE__MSG_SEEN_*, or -1 for a malformed payload
 * (wrong length, a time that is negative or not finite, no trials), which leaves r as it was. */
int hone__timeit_msg_parse(hone__timeit_report *r, uint32_t type, const unsigned char *p,
                           uint32_t len);

/* Reads the whole messages at the start of buf[0, have): *consumed is what they took (the rest
 * is an incomplete message to keep). on_seen, when not NULL, is called after each message with
 * its HONE__MSG_SEEN_* value. Returns 0, or -1 when a header or a payload is malformed (a
 * payload over HONE__MSG_MAX, an unknown type), after which nothing more should be read. */
int hone__timeit_msg_feed(hone__timeit_report *r, const unsigned char *buf, size_t have,
                          size_t *consumed, void (*on_seen)(void *arg, int seen), void *arg);

void hone__timeit_report_free(hone__timeit_report *r);

#endif /* HONE_CLI_TIMEIT_MSG_H */
