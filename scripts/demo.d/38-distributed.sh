# 38-distributed.sh: the primes map across MPI ranks (libhone-mpi), 3 ranks on this machine:
# rank 0 owns the pool, every rank runs tasks on its share of the cores.
if [ -x "$build/examples/distributed_map" ] && command -v mpirun >/dev/null 2>&1; then
  section "distributed: the same map across 3 MPI ranks (mpirun -np 3, HONE_POOL_MPI)"
  mpi_args=(-np 3 --oversubscribe)
  [ "$(id -u)" -eq 0 ] && mpi_args+=(--allow-run-as-root)
  echo "\$ mpirun ${mpi_args[*]} $build/examples/distributed_map"
  mpirun "${mpi_args[@]}" "$build/examples/distributed_map"
fi
