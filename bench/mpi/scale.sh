#!/usr/bin/env bash
# scale.sh FARM: the oversubscribed --scale runs behind docs/distributed.md's model check (not
# part of make bench): maps of sleeping tasks on 2, 4, 8, 16 ranks, about 30 s in all.
# Build FARM with: mpicc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude -o farm bench/mpi/farm.c
set -euo pipefail
farm=${1:?usage: bench/mpi/scale.sh FARM}
args=(--oversubscribe)
[ "$(id -u)" = 0 ] && args+=(--allow-run-as-root)
for cfg in "1000 1" "100 1" "100 10" "10 10" "10 100" "0 1" "0 100"; do
  read -r d c <<<"$cfg"
  for R in 2 4 8 16; do
    # about 0.15 s a run: (R-1)·0.15e6/(d + 100/c) items, whole chunks, 4..200000 chunks' worth
    n=$(awk -v R="$R" -v d="$d" -v c="$c" 'BEGIN { n = (R - 1) * 0.15e6 / (d + 100 / c);
      n = int(n / c + 1) * c; if (n > 200000) n = 200000; if (n < 4 * c * (R - 1)) n = 4 * c * (R - 1); print n }')
    timeout 60 mpirun "${args[@]}" -np "$R" "$farm" --scale --task-us "$d" --chunk "$c" --items "$n"
  done
done
