/* hone/pool_mpi.h: the pool API across machines, on MPI (libhone-mpi; link with
 * `pkg-config --libs hone-mpi` or CMake's hone::hone-mpi). Programs that do not use MPI never
 * link it; libhone itself stays libc + pthreads.
 *
 * Launch as any MPI program: `mpirun -np N ./prog` (or `srun`, or `mpirun --hostfile H`; with
 * several ranks on a machine, bind each to its cores: docs/distributed.md, "Launching and
 * placement"). Every rank runs main(); main registers its tasks, then calls hone_mpi_init,
 * which returns only on rank 0. The other ranks serve rank 0's pools from inside hone_mpi_init
 * until rank 0 calls hone_mpi_finalize (or exits), then finalize MPI and exit(0) without
 * returning. Register every task before hone_mpi_init: a serving rank knows only the tasks
 * registered before it started serving. Tasks cross by name (and a 64-bit hash of it, checked
 * on arrival); a rank that lacks a task fails it with HONE_ENOENT and a message naming the task,
 * the rank and its host.
 *
 * On rank 0, hone_pool_new_ex with backend HONE_POOL_MPI makes a pool whose workers are every
 * rank's cores, rank 0's included: each rank runs the tasks it receives on a local pool (worker
 * processes by default, or threads) of hone_mpi_options.workers_per_rank workers. Every call of
 * pool.h works on it (submit, futures, map, imap, as_completed, wait, cancel of tasks not yet
 * sent, task timeouts, shutdown), with these differences:
 *   - Tasks run in other processes, as on HONE_POOL_PROCESSES: copy-in, copy-out, a task cannot
 *     submit (hone_task_pool returns NULL), initializers are not supported (HONE_ENOTSUP).
 *   - A task that crashes kills only its local worker process: it fails with HONE_ECRASHED and a
 *     message naming the signal, the rank and the host; everything else goes on. (With
 *     local_backend HONE_POOL_THREADS a crash ends that rank: see "lost ranks".)
 *   - Lost ranks. A rank that stops answering (its machine fails, it is SIGKILLed) is detected
 *     two ways: an MPI error (the communicator returns errors instead of aborting), or silence —
 *     a rank that holds tasks sends a heartbeat every silence_ns/8, and one silent for silence_ns
 *     is declared lost. Its unfinished tasks are re-queued on the other ranks (so a task of a lost
 *     rank may run twice, once there and once elsewhere), or, with fail_lost, fail with
 *     HONE_ECRASHED naming the rank. Nothing is sent to it again. With Open MPI's defaults,
 *     mpirun itself ends the whole job when a rank dies; only under
 *     `--mca orte_enable_recovery 1 --mca orte_abort_on_non_zero_status 0` do the others go on
 *     (docs/distributed.md). hone_mpi_fault_mode() says which detection is in force.
 *   - map: chunks are sized automatically (guided: about 1/(4 x cores) of the items left, no
 *     smaller than what keeps the measured round trip under 5 % of a chunk's measured time, no
 *     larger than half a worker's share of the items left nor smaller than 2 round trips of
 *     work, at most ~1 MiB of arguments and results), several per rank in flight.
 *
 * Rank 0 keeps one thread of its own for MPI (the only thread that calls MPI after
 * hone_mpi_init); it waits by testing between sleeps of 50 us, so it does not spin a core away
 * from the local workers.
 *
 * Thread-safety: hone_mpi_init and hone_mpi_finalize once each, from the main thread; the
 * queries from any thread after init. Pools: as pool.h. */
#ifndef HONE_POOL_MPI_H
#define HONE_POOL_MPI_H

#include <stdbool.h>
#include <stdint.h>

#include "hone/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stable: fields are only appended; start from hone_mpi_options_init. */
typedef struct hone_mpi_options {
  hone_pool_backend local_backend; /* each rank's local pool: HONE_POOL_PROCESSES (default) or
                                      HONE_POOL_THREADS */
  int workers_per_rank;            /* <= 0 (default): the CPUs this rank may use
                                      (hone_cpu_count), divided among the ranks on its
                                      machine when they all share one affinity mask (not
                                      bound), at least 1 */
  int root_workers;                /* workers on rank 0: < 0 (default) as workers_per_rank;
                                      0: rank 0 only dispatches */
  int64_t silence_ns;              /* a rank holding tasks and silent this long is lost;
                                      <= 0 (default): 10 s */
  bool fail_lost;                  /* fail a lost rank's tasks instead of re-queueing them */
} hone_mpi_options;

HONE_API void hone_mpi_options_init(hone_mpi_options *opts) HONE_NONNULL(1);

/* Initializes MPI (MPI_Init_thread, MPI_THREAD_SERIALIZED) unless the program already did (then
 * it must have asked for at least that level, else HONE_ENOTSUP). On rank 0: returns 0 (opts,
 * NULL for the defaults, is kept for the pools made later). On every other rank: serves, then
 * finalizes MPI and exits with status 0; returns only on failure, a negative code (then the rank
 * is of no use: the program should exit). Errors: HONE_EINVAL (opts), HONE_ENOTSUP (MPI refused
 * the thread level, or libhone is not the version this library was built with), HONE_ESYS,
 * HONE_ENOMEM, HONE_EBUSY (called twice). */
HONE_API HONE_NODISCARD int hone_mpi_init(int *argc, char ***argv, const hone_mpi_options *opts);

/* On rank 0: waits for every MPI pool to have been freed (free yours first), tells the serving
 * ranks to stop, and finalizes MPI (if hone_mpi_init initialized it). Also run at exit if the
 * program did not call it. Lost ranks are not waited for. 0, or HONE_EINVAL before init. */
HONE_API int hone_mpi_finalize(void);

/* This process's rank and the number of ranks (after init; -1 before). */
HONE_API int hone_mpi_rank(void);
HONE_API int hone_mpi_size(void);
/* "ulfm" (the MPI library has User-Level Failure Mitigation, used to detect lost ranks) or
 * "silence" (errors returned plus the silence bound), fixed at build time. */
HONE_API const char *hone_mpi_fault_mode(void);
/* How many ranks have been declared lost since init. */
HONE_API unsigned hone_mpi_lost_ranks(void);

#ifdef __cplusplus
}
#endif
#endif /* HONE_POOL_MPI_H */
