/* init.c: hone_mpi_init and hone_mpi_finalize — MPI's set-up, one configuration for every rank
 * (rank 0's options, broadcast), each rank's local pool size and host gathered on rank 0; then
 * rank 0 returns to the program and the others serve. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi/mpi_internal.h"
#include "mpi/wire.h"
#include "parallel/pool_internal.h"

#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>
#endif
#if defined(MPIX_ERR_PROC_FAILED)
#define HM_ULFM 1
#else
#define HM_ULFM 0
#endif

hm_global hm = {.rank = -1, .size = -1};

/* A hash of the CPUs this process may run on (FNV-1a over the mask's words); 0 if unknown. */
static uint64_t mask_hash(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  uint64_t h = 1469598103934665603ull;
  const unsigned char *b = (const unsigned char *)&set;
  for (size_t i = 0; i < sizeof set; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

int64_t hm_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void hm_sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

void hm_mpi_error(int err, char *buf, size_t size) {
  char s[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(err, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "MPI error %d", err);
  snprintf(buf, size, "%s", s);
}

bool hm_is_proc_failed(int err) {
#if HM_ULFM
  int cls = 0;
  MPI_Error_class(err, &cls);
  return cls == MPIX_ERR_PROC_FAILED;
#else
  (void)err;
  return false;
#endif
}

const char *hone_mpi_fault_mode(void) {
  return HM_ULFM ? "ulfm" : "silence";
}

void hone_mpi_options_init(hone_mpi_options *opts) {
  memset(opts, 0, sizeof *opts);
  opts->local_backend = HONE_POOL_PROCESSES;
  opts->root_workers = -1;
}

int hone_mpi_rank(void) {
  return hm.inited ? hm.rank : -1;
}

int hone_mpi_size(void) {
  return hm.inited ? hm.size : -1;
}

unsigned hone_mpi_lost_ranks(void) {
  return atomic_load(&hm.lost);
}

/* What every rank must agree on: the wire layout and the options that change what a rank does. */
typedef struct hm_config {
  uint64_t layout; /* sizes of the wire records: a rank of another build differs */
  int64_t silence_ns;
  int32_t local_backend, workers_per_rank, root_workers, fail_lost;
} hm_config;

static uint64_t layout_hash(void) {
  return (uint64_t)sizeof(wire_job) | (uint64_t)sizeof(wire_result) << 8 |
         (uint64_t)sizeof(wire_open) << 16 | (uint64_t)sizeof(wire_ready) << 24 |
         (uint64_t)sizeof(hm_config) << 40 | (uint64_t)1 << 56; /* 1: this protocol's version */
}

static void at_exit(void) {
  if (hm.inited && hm.rank == 0 && !hm.finalized) hone_mpi_finalize();
}

int hone_mpi_init(int *argc, char ***argv, const hone_mpi_options *opts) {
  if (hm.inited) return HONE_EBUSY;
  if (strcmp(hone_version(), HONE_MPI_LIBHONE_VERSION) != 0) return HONE_ENOTSUP;
  hone_mpi_options o;
  hone_mpi_options_init(&o);
  if (opts) o = *opts;
  if (o.local_backend != HONE_POOL_PROCESSES && o.local_backend != HONE_POOL_THREADS)
    return HONE_EINVAL;
  if (o.silence_ns <= 0) o.silence_ns = 10000000000LL;
  if (o.silence_ns < 8000000) return HONE_EINVAL; /* beats every 1 ms at least */
  int flag = 0, provided = 0;
  MPI_Initialized(&flag);
  if (!flag) {
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
      return HONE_ESYS;
    hm.we_init_mpi = true;
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_SERIALIZED) return HONE_ENOTSUP;
  if (MPI_Comm_dup(MPI_COMM_WORLD, &hm.comm) != MPI_SUCCESS) return HONE_ESYS;
  MPI_Comm_set_errhandler(hm.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(hm.comm, &hm.rank);
  MPI_Comm_size(hm.comm, &hm.size);
  if (gethostname(hm.host, sizeof hm.host) != 0) snprintf(hm.host, sizeof hm.host, "?");
  hm.host[sizeof hm.host - 1] = 0;

  /* Ranks sharing this machine share its CPUs: unbound (all with the same affinity mask), each
   * takes its part of them; bound (mpirun --bind-to, srun --cpu-bind: the masks differ), each
   * rank's mask is its part already, and dividing it again by the ranks on the machine would
   * leave most of it idle (4 ranks bound to 8 cores each: 2 workers a rank). */
  MPI_Comm node;
  int on_node = 1;
  if (MPI_Comm_split_type(hm.comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    MPI_Comm_size(node, &on_node);
    /* The least and the largest hash in one reduction: the minima of h and of ~h. */
    uint64_t h = mask_hash(), mine[2] = {h, ~h}, least[2];
    if (on_node > 1 && MPI_Allreduce(mine, least, 2, MPI_UINT64_T, MPI_MIN, node) == MPI_SUCCESS &&
        least[0] != ~least[1])
      on_node = 1; /* bound: the mask is this rank's part */
    MPI_Comm_free(&node);
  }

  hm_config c = {.layout = layout_hash(),
                 .silence_ns = o.silence_ns,
                 .local_backend = (int32_t)o.local_backend,
                 .workers_per_rank = o.workers_per_rank,
                 .root_workers = o.root_workers,
                 .fail_lost = o.fail_lost};
  if (MPI_Bcast(&c, (int)sizeof c, MPI_BYTE, 0, hm.comm) != MPI_SUCCESS) return HONE_ESYS;
  if (c.layout != layout_hash()) return HONE_ENOTSUP; /* another build of libhone-mpi */
  o.silence_ns = c.silence_ns;
  o.local_backend = (hone_pool_backend)c.local_backend;
  o.workers_per_rank = c.workers_per_rank;
  o.root_workers = c.root_workers;
  o.fail_lost = c.fail_lost != 0;
  hm.opts = o;
  unsigned cpus = hone_cpu_count();
  hm.workers = o.workers_per_rank > 0 ? (unsigned)o.workers_per_rank
                                      : (cpus / (unsigned)on_node ? cpus / (unsigned)on_node : 1);
  if (hm.rank == 0 && o.root_workers >= 0) hm.workers = (unsigned)o.root_workers;

  hm_rank_info mine = {.workers = hm.workers};
  memcpy(mine.host, hm.host, sizeof mine.host);
  if (hm.rank == 0) {
    hm.info = calloc((size_t)hm.size, sizeof *hm.info);
    if (!hm.info) return HONE_ENOMEM;
  }
  if (MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, hm.info, (int)sizeof mine, MPI_BYTE, 0,
                 hm.comm) != MPI_SUCCESS)
    return HONE_ESYS;
  hm.inited = true;
  if (hm.rank != 0) hm_serve();
  int rc = hm_root_start();
  if (rc < 0) {
    hm.inited = false;
    return rc;
  }
  atexit(at_exit);
  return 0;
}

int hone_mpi_finalize(void) {
  if (!hm.inited || hm.rank != 0) return HONE_EINVAL;
  if (hm.finalized) return 0;
  hm.finalized = true;
  hm_root_stop();
  if (hm.we_init_mpi) {
    /* With a lost rank, MPI_Finalize may wait for it forever (Open MPI 4.1 under
     * orte_enable_recovery does): the job is then ended by the exit that follows. */
    if (atomic_load(&hm.lost) == 0) {
      MPI_Comm_free(&hm.comm);
      MPI_Finalize();
    }
  }
  return 0;
}
