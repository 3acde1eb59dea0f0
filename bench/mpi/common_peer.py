# common_peer.py: the task bodies both Python peers of bench/mpi.sh run (the same work as
# tiny_work and count_primes in bench/bench_util.h), and the "PREFIX.KEY VALUE" output.
import sys

M = (1 << 64) - 1
NR = 64  # primes below 2e6 in 64 ranges, as the farm
RANGES = [(2000000 * i // NR, 2000000 * (i + 1) // NR) for i in range(NR)]


def empty():
    pass


def tiny(x):
    for _ in range(3):
        x ^= x >> 13
        x = (x * 0x9E3779B97F4A7C15) & M
        x ^= x >> 29
    return x


def tiny_batch(xs):
    return [tiny(x) for x in xs]


def count_primes(lo, hi):
    c = 0
    for n in range(lo, hi):
        if n < 2 or (n % 2 == 0 and n != 2):
            continue
        d, p = 3, 1
        while d * d <= n:
            if n % d == 0:
                p = 0
                break
            d += 2
        c += p
    return c


def put(prefix, key, value):
    print(f"{prefix}.{key} {value}")
    sys.stdout.flush()
