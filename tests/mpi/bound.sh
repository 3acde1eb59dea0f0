#!/bin/sh
# bound.sh PROG [ARGS...]: runs PROG bound to CPU 1 on rank 1 and unbound on the others, so that
# the ranks' affinity masks differ as under `mpirun --bind-to core` (test_mpi_pool workers).
if [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-}}" = 1 ]; then exec taskset -c 1 "$@"; fi
exec "$@"
