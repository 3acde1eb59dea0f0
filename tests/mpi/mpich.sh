#!/usr/bin/env bash
# mpich.sh SRC BUILD VERSION: libhone-mpi uses only standard MPI calls — build its sources and the
# MPI suite against MPICH (the other common implementation; Open MPI is the default build), -Werror,
# and run the suite with MPICH's own launcher, 3 ranks.
set -euo pipefail
src=$1 build=$2 version=$3
command -v mpicc.mpich >/dev/null && command -v mpiexec.mpich >/dev/null ||
  { echo "mpich.sh: mpicc.mpich/mpiexec.mpich not found (scripts/install-deps installs mpich)" >&2; exit 1; }
exe=$build/tests/mpi/test_mpi_pool_mpich
mpicc.mpich -std=c17 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -I"$src/include" -I"$src/src" \
  -DHONE_MPI_LIBHONE_VERSION="\"$version\"" "$src"/src/mpi/init.c "$src"/src/mpi/root.c \
  "$src"/src/mpi/serve.c "$src"/src/mpi/buf.c "$src"/tests/mpi/test_mpi_pool.c -o "$exe" -L"$build" -lhone -lcmocka \
  -Wl,-rpath,"$build"
timeout -k 5 200 mpiexec.mpich -n 3 "$exe"
