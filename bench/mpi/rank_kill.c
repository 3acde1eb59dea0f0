/* rank_kill.c: what Open MPI does when a rank is SIGKILLed (docs/distributed.md). Rank 1 kills
 * itself after 1 s; rank 0 lives 4 s, then sends to rank 2 and (unless NORECV is set) receives
 * from the dead rank 1. Errors return (MPI_ERRORS_RETURN) and are printed.
 * Build: mpicc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o rank_kill bench/mpi/rank_kill.c
 * Run:   mpirun -np 3 ./rank_kill  (Open MPI's defaults: the job is aborted)
 *   and: mpirun --mca orte_enable_recovery 1 --mca orte_abort_on_non_zero_status 0 \
 *          -np 3 ./rank_kill  (survivors go on; the receive from rank 1 hangs; with
 *          -x NORECV=1 the job exits 0) */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != 3) {
    if (rank == 0) fprintf(stderr, "rank_kill: needs 3 ranks\n");
    MPI_Finalize();
    return 2;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int x = 0;
  if (rank == 1) {
    sleep(1);
    raise(SIGKILL);
  } else if (rank == 0) {
    for (int i = 0; i < 4; i++) {
      sleep(1);
      fprintf(stderr, "rank 0 alive at %d s\n", i + 1);
    }
    int rc = MPI_Send(&x, 1, MPI_INT, 2, 0, MPI_COMM_WORLD);
    fprintf(stderr, "rank 0: send to rank 2 returned %d\n", rc);
    if (!getenv("NORECV")) {
      rc = MPI_Recv(&x, 1, MPI_INT, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      fprintf(stderr, "rank 0: receive from the dead rank 1 returned %d\n", rc);
    }
  } else {
    MPI_Recv(&x, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    fprintf(stderr, "rank 2 got its message\n");
  }
  fprintf(stderr, "rank %d finalizing\n", rank);
  MPI_Finalize();
  return 0;
}
