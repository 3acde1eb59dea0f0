# peer_mpi4py.py: mpi4py.futures' figures for bench/mpi.sh, printed as "mpi4py.KEY VALUE".
# Run: mpirun -n 3 /usr/bin/python3 -m mpi4py.futures bench/mpi/peer_mpi4py.py
# (rank 0 runs this script, ranks 1-2 are the pool's 2 workers).
import os, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_peer import NR, RANGES, count_primes, empty, put, tiny  # noqa: E402
from mpi4py.futures import MPIPoolExecutor  # noqa: E402

P = "mpi4py"

if __name__ == "__main__":
    import mpi4py

    put(P, "version", "mpi4py-" + mpi4py.__version__)
    with MPIPoolExecutor() as ex:
        ex.submit(empty).result()
        # empty tasks: submit n, then every result; median of 3
        v = []
        for _ in range(3):
            n = 5000
            t = time.perf_counter()
            fs = [ex.submit(empty) for _ in range(n)]
            for f in fs:
                f.result()
            v.append(n / (time.perf_counter() - t))
        put(P, "tps", statistics.median(v))
        # idle round trip: one tiny task at a time
        v = []
        for i in range(500):
            t = time.perf_counter_ns()
            r = ex.submit(tiny, i).result()
            v.append(time.perf_counter_ns() - t)
            assert r == tiny(i)
        put(P, "rt_us", statistics.median(v) / 1e3)
        n = 100000
        want = [tiny(x) for x in range(n)]
        v = []
        for _ in range(3):
            t = time.perf_counter()
            got = list(ex.map(tiny, range(n), chunksize=1000))
            v.append(time.perf_counter() - t)
            assert got == want
        put(P, "map1000_s", min(v))
        # chunk 1: 10^5 items take ~20 s; run 10^4 and scale by 10 (labelled)
        m = 10000
        t = time.perf_counter()
        got = list(ex.map(tiny, range(m), chunksize=1))
        dt = time.perf_counter() - t
        assert got == want[:m]
        put(P, "map1_s", dt * n / m)
        put(P, "map1_s.note", "est.: 10^4 items x10")
        # primes: 1 worker = one task in flight at a time (the other worker idle; the round trip
        # adds 64 x rt_us); 2 workers = all 64 submitted
        t = time.perf_counter()
        c1 = sum(ex.submit(count_primes, lo, hi).result() for lo, hi in RANGES)
        t1 = time.perf_counter() - t
        t = time.perf_counter()
        c2 = sum(ex.map(count_primes, *zip(*RANGES)))
        t2 = time.perf_counter() - t
        assert c1 == c2 == 148933, (c1, c2)
        put(P, "primes1_s", t1)
        put(P, "primes2_s", t2)
        put(P, "speedup", t1 / t2)
        put(P, "speedup.note", "1 worker = 1 task in flight")
