# 30-pool.sh: the parallel layer — map a CPU-bound function over data with a pool of
# hone_cpu_count() threads and compare with a serial loop (the lecture's executor example).
if [ -x "$build/examples/pool_map" ]; then
  section "pool_map: count primes below 2 million, serial loop vs a pool of threads"
  "$build/examples/pool_map" 2000000 64
fi
