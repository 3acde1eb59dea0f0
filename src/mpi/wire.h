/* wire.h: the messages libhone-mpi's ranks exchange (all MPI_BYTE on a duplicate of
 * MPI_COMM_WORLD). Records are 8-byte aligned; every rank runs the same build (same layout and
 * byte order), which hone_mpi_init checks with a collective of the layout's hash. */
#ifndef HONE_MPI_WIRE_H
#define HONE_MPI_WIRE_H

#include <stdint.h>

enum {
  W_OPEN = 1, /* 0 -> r: wire_open; r answers W_READY */
  W_READY,    /* r -> 0: wire_ready */
  W_JOBS,     /* 0 -> r: uint64_t count, then count x (wire_job, name, payload) */
  W_RESULTS,  /* r -> 0: uint64_t count, then count x (wire_result, message, data) */
  W_BEAT,     /* r -> 0: uint64_t 0 (a rank holding tasks is alive) */
  W_CLOSE,    /* 0 -> r: wire_open (only pool is read): free the pool's local pool */
  W_STOP,     /* 0 -> r: uint64_t 0: stop serving once nothing is held */
};

enum { WJ_SUBMIT = 0, WJ_CHUNK = 1 };

typedef struct wire_open {
  uint32_t pool;
  uint32_t max_tasks_per_child;
  int64_t task_timeout_ns;
} wire_open;

typedef struct wire_ready {
  uint32_t pool;
  int32_t rc; /* 0, or why the rank's local pool could not be made */
  uint32_t workers;
  uint32_t pad;
  char message[128];
} wire_ready;

typedef struct wire_job {
  uint64_t id;
  uint64_t hash; /* hone__task_name_hash(name) */
  uint32_t pool;
  uint32_t kind;     /* WJ_* */
  uint32_t name_len; /* bytes of the name that follows (no terminator) */
  uint32_t pad;
  uint64_t count;     /* items (1 for a submit) */
  uint64_t in_stride; /* chunk: bytes per item; submit: the argument's size */
  uint64_t payload;   /* bytes after the name: the argument, or count x in_stride */
} wire_job;

typedef struct wire_result {
  uint64_t id;
  int32_t code;        /* 0, or the failure's code */
  uint32_t msg_len;    /* bytes of message that follow */
  uint64_t index;      /* chunk: the failing item, within the chunk */
  uint64_t data_len;   /* result bytes (chunk: of the items before `index`, or all) */
  uint64_t elapsed_ns; /* how long the rank held the job (receive to completion) */
  /* The rank's time for this job alone: from its arrival, or the rank's previous completion if
   * that came later, to its completion, times the workers that were busy (at most the local
   * pool's size). While the rank is kept busy this is the job's run time on one worker, however
   * long it queued there; elapsed_ns is not (it grows with the jobs queued ahead). */
  uint64_t busy_ns;
} wire_result;

static inline uint64_t wire_pad8(uint64_t n) {
  return (n + 7) & ~(uint64_t)7;
}

#endif /* HONE_MPI_WIRE_H */
