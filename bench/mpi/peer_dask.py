# peer_dask.py: Dask distributed's figures for bench/mpi.sh, printed as "dask.KEY VALUE".
# LocalCluster(n_workers=2, threads_per_worker=1, processes=True): 2 worker processes, over TCP
# on localhost. Dask is slow: every figure is capped (see the .note lines).
import logging, os, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_peer import RANGES, count_primes, empty, put, tiny, tiny_batch  # noqa: E402

P = "dask"


def cluster(workers):
    from dask.distributed import Client, LocalCluster

    c = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                     dashboard_address=None, silence_logs=logging.ERROR)
    return c, Client(c)


if __name__ == "__main__":
    import distributed

    put(P, "version", "distributed-" + distributed.__version__)
    c, cl = cluster(2)
    cl.submit(empty, pure=False).result()
    v = []
    for _ in range(3):
        n = 1000
        t = time.perf_counter()
        fs = [cl.submit(empty, pure=False) for _ in range(n)]
        cl.gather(fs)
        v.append(n / (time.perf_counter() - t))
    put(P, "tps", statistics.median(v))
    put(P, "tps.note", "10^3 tasks")
    v = []
    for i in range(100):
        t = time.perf_counter_ns()
        r = cl.submit(tiny, i, pure=False).result()
        v.append(time.perf_counter_ns() - t)
        assert r == tiny(i)
    put(P, "rt_us", statistics.median(v) / 1e3)
    n = 100000
    want = [tiny(x) for x in range(n)]
    # chunk 1000: Dask's map has no chunksize; 100 tasks of 1000 items each, as users chunk
    t = time.perf_counter()
    fs = cl.map(tiny_batch, [list(range(i, i + 1000)) for i in range(0, n, 1000)], pure=False)
    got = [x for part in cl.gather(fs) for x in part]
    put(P, "map1000_s", time.perf_counter() - t)
    assert got == want
    put(P, "map1000_s.note", "100 tasks of 1000")
    # chunk 1: 10^5 tasks do not finish in minutes; run 10^3 and scale by 100 (labelled)
    m = 1000
    t = time.perf_counter()
    got = cl.gather(cl.map(tiny, range(m), pure=False))
    dt = time.perf_counter() - t
    assert got == want[:m]
    put(P, "map1_s", dt * n / m)
    put(P, "map1_s.note", "est.: 10^3 items x100")
    t = time.perf_counter()
    c2 = sum(cl.gather(cl.map(count_primes, *zip(*RANGES), pure=False)))
    t2 = time.perf_counter() - t
    cl.close()
    c.close()
    c, cl = cluster(1)
    cl.submit(empty, pure=False).result()
    t = time.perf_counter()
    c1 = sum(cl.gather(cl.map(count_primes, *zip(*RANGES), pure=False)))
    t1 = time.perf_counter() - t
    cl.close()
    c.close()
    assert c1 == c2 == 148933, (c1, c2)
    put(P, "primes1_s", t1)
    put(P, "primes2_s", t2)
    put(P, "speedup", t1 / t2)
    put(P, "speedup.note", "1 worker = LocalCluster(1)")
