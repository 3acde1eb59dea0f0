/* timeit_msg.c: the reader of the measuring child's messages (timeit_msg.h). Every length is
 * checked against the payload before it is used; a malformed message changes nothing. */
#include "timeit_msg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool good_time(double ns) {
  return isfinite(ns) && ns >= 0;
}

static int parse_progress(hone__timeit_report *r, uint32_t type, const unsigned char *p,
                          uint32_t len) {
  if (len != 24) return -1;
  uint32_t idx, tot;
  uint64_t number;
  double ns;
  memcpy(&idx, p, 4);
  memcpy(&tot, p + 4, 4);
  memcpy(&number, p + 8, 8);
  memcpy(&ns, p + 16, 8);
  if (!good_time(ns)) return -1;
  r->last_index = idx;
  r->last_total = tot;
  r->last_number = number;
  if (type == HONE__MSG_TRIAL) return HONE__MSG_SEEN_TRIAL;
  if (r->nauto < sizeof r->auto_ns / sizeof r->auto_ns[0]) {
    r->auto_number[r->nauto] = number;
    r->auto_ns[r->nauto++] = ns;
  }
  return HONE__MSG_SEEN_AUTORANGE;
}

static int parse_result(hone__timeit_report *r, const unsigned char *p, uint32_t len) {
  if (len < 12) return -1;
  uint64_t number;
  uint32_t trials;
  memcpy(&number, p, 8);
  memcpy(&trials, p + 8, 4);
  size_t need = 12 + (size_t)trials * 8 + 4 + sizeof r->counters + 2 * HONE_COUNTER_COUNT;
  if (trials == 0 || number == 0 || len < need) return -1;
  double *per_loop = malloc((size_t)trials * sizeof *per_loop);
  if (!per_loop) {
    r->oom = true;
    return -1;
  }
  memcpy(per_loop, p + 12, (size_t)trials * 8);
  for (uint32_t i = 0; i < trials; i++)
    if (!good_time(per_loop[i])) {
      free(per_loop);
      return -1;
    }
  const unsigned char *q = p + 12 + (size_t)trials * 8;
  uint32_t have;
  double values[HONE_COUNTER_COUNT];
  memcpy(&have, q, 4);
  q += 4;
  memcpy(values, q, sizeof values);
  q += sizeof values;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++)
    if (!isfinite(values[i])) {
      free(per_loop);
      return -1;
    }
  size_t nl = len - need;
  char *note = nl ? malloc(nl + 1) : NULL;
  if (nl && !note) {
    free(per_loop);
    r->oom = true;
    return -1;
  }
  if (nl) {
    memcpy(note, p + need, nl);
    note[nl] = '\0';
  }
  free(r->per_loop);
  free(r->counter_note);
  r->per_loop = per_loop;
  r->counter_note = note;
  r->number = number;
  r->trials = trials;
  r->have_counters = have != 0;
  memcpy(r->counters, values, sizeof values);
  for (int i = 0; i < HONE_COUNTER_COUNT; i++) r->counter_avail[i] = *q++ != 0;
  for (int i = 0; i < HONE_COUNTER_COUNT; i++, q++)
    r->counter_counted[i] = r->counter_avail[i] && *q;
  r->measured = true;
  return HONE__MSG_SEEN_OTHER;
}

static int parse_machine(hone__timeit_report *r, const unsigned char *p, uint32_t len) {
  if (len < 12) return -1;
  uint32_t trials, probed;
  int32_t pinned;
  memcpy(&trials, p, 4);
  memcpy(&probed, p + 4, 4);
  memcpy(&pinned, p + 8, 4);
  if (trials == 0 || (len - 12) / 20 != trials || (len - 12) % 20 || pinned < -1) return -1;
  size_t n = trials;
  double *clock = malloc(n * sizeof *clock), *share = malloc(n * sizeof *share);
  int32_t *cpus = malloc(n * sizeof *cpus);
  if (!clock || !share || !cpus) {
    free(clock);
    free(share);
    free(cpus);
    r->oom = true;
    return -1;
  }
  memcpy(clock, p + 12, n * 8);
  memcpy(share, p + 12 + n * 8, n * 8);
  memcpy(cpus, p + 12 + n * 16, n * 4);
  for (size_t i = 0; i < n; i++)
    if (!good_time(clock[i]) || !(share[i] >= 0 && share[i] <= 1) || cpus[i] < -1) {
      free(clock);
      free(share);
      free(cpus);
      return -1;
    }
  free(r->clock_ghz);
  free(r->core_share);
  free(r->cpus);
  r->clock_ghz = clock;
  r->core_share = share;
  r->cpus = cpus;
  r->machine_trials = trials;
  r->probed = probed != 0;
  r->pinned = pinned;
  return HONE__MSG_SEEN_OTHER;
}

int hone__timeit_msg_parse(hone__timeit_report *r, uint32_t type, const unsigned char *p,
                           uint32_t len) {
  switch (type) {
  case HONE__MSG_AUTORANGE:
  case HONE__MSG_TRIAL:
    return parse_progress(r, type, p, len);
  case HONE__MSG_RESULT:
    return parse_result(r, p, len);
  case HONE__MSG_MACHINE:
    return parse_machine(r, p, len);
  case HONE__MSG_ERROR: {
    if (len < 4) return -1;
    char *msg = malloc((size_t)len - 4 + 1);
    if (!msg) {
      r->oom = true;
      return -1;
    }
    memcpy(msg, p + 4, (size_t)len - 4);
    msg[len - 4] = '\0';
    memcpy(&r->err_kind, p, 4);
    free(r->err);
    r->err = msg;
    return HONE__MSG_SEEN_OTHER;
  }
  default:
    return -1;
  }
}

int hone__timeit_msg_feed(hone__timeit_report *r, const unsigned char *buf, size_t have,
                          size_t *consumed, void (*on_seen)(void *arg, int seen), void *arg) {
  size_t off = 0;
  int rc = 0;
  while (have - off >= 8) {
    uint32_t type, len;
    memcpy(&type, buf + off, 4);
    memcpy(&len, buf + off + 4, 4);
    if (len > HONE__MSG_MAX) {
      rc = -1;
      break;
    }
    if (have - off - 8 < len) break;
    int seen = hone__timeit_msg_parse(r, type, buf + off + 8, len);
    if (seen < 0) {
      rc = -1;
      break;
    }
    off += 8 + (size_t)len;
    if (on_seen) on_seen(arg, seen);
  }
  *consumed = off;
  return rc;
}

void hone__timeit_report_free(hone__timeit_report *r) {
  if (!r) return;
  free(r->per_loop);
  free(r->counter_note);
  free(r->clock_ghz);
  free(r->core_share);
  free(r->cpus);
  free(r->err);
  memset(r, 0, sizeof *r);
}
