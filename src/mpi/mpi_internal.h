/* mpi_internal.h: what libhone-mpi's three parts share — init.c (MPI set-up, the ranks'
 * configuration, finalize), root.c (rank 0: the HONE_POOL_MPI backend and its dispatcher thread)
 * and serve.c (every other rank: the loop that runs rank 0's jobs on a local pool). */
#ifndef HONE_MPI_INTERNAL_H
#define HONE_MPI_INTERNAL_H

#include <mpi.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hone/pool_mpi.h"

#define HM_HOST_MAX 64

/* One rank as rank 0 knows it from init. */
typedef struct hm_rank_info {
  uint32_t workers; /* its local pool's size */
  char host[HM_HOST_MAX];
} hm_rank_info;

typedef struct hm_global {
  bool inited, finalized, we_init_mpi;
  MPI_Comm comm; /* MPI_COMM_WORLD's duplicate, errors returned */
  int rank, size;
  char host[HM_HOST_MAX];
  hone_mpi_options opts; /* rank 0's, broadcast to every rank */
  unsigned workers;      /* this rank's local pool size */
  hm_rank_info *info;    /* rank 0: [size] */
  _Atomic unsigned lost;
} hm_global;

extern hm_global hm;

int64_t hm_now(void);
void hm_sleep_ns(int64_t ns);
/* An MPI error's text into buf (for messages naming what failed). */
void hm_mpi_error(int err, char *buf, size_t size);
/* True when err says a process failed (ULFM's MPIX_ERR_PROC_FAILED; false without ULFM). */
bool hm_is_proc_failed(int err);

/* How long rank 0's dispatcher (while other ranks hold jobs) and a serving rank (after its last
 * message) test without sleeping. A sleeping virtual CPU takes 100-200 us to wake and notice a
 * message (measured here: a 50 us nap between tests gave a 430-550 us idle round trip on 2 ranks,
 * each direction 160-230 us); a test costs well under a microsecond, so spinning this long
 * answers any job whose task is short, and a longer task lets the core go after 200 us. */
#define HM_SPIN_NS 200000

/* Heartbeat period of a rank that holds tasks: an eighth of the silence bound. */
static inline int64_t hm_beat_ns(void) {
  return hm.opts.silence_ns / 8;
}

/* rank 0 */
int hm_root_start(void); /* starts the dispatcher, installs the backend */
void hm_root_stop(void); /* waits for the pools to be freed, stops the other ranks */
/* every other rank: never returns */
_Noreturn void hm_serve(void);

#endif /* HONE_MPI_INTERNAL_H */
