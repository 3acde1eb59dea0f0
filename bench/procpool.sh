#!/usr/bin/env bash
# procpool.sh: hone's pool of worker processes vs Python's concurrent.futures.ProcessPoolExecutor,
# both measured in this run (2 worker processes each). Python runs first and alone; its figures
# are passed to bench_procpool, which measures hone and prints the table.
# Env: HONE_BUILD (absolute build dir), HONE_SRC.
set -euo pipefail
bin="$HONE_BUILD/bench/bench_procpool"
if [ ! -x "$bin" ]; then
  echo "procpool: $bin not built"
  exit 0
fi
py_args=()
if command -v python3 >/dev/null 2>&1; then
  # The script goes through a file, not stdin: a pool's children may need to import __main__.
  # The fork start method is asked for by name (the fastest one, and Linux's default before 3.14).
  py=$(mktemp --suffix=.py)
  trap 'rm -f "$py"' EXIT
  cat >"$py" <<'PY'
import concurrent.futures as cf, multiprocessing as mp, statistics, sys, time

M = (1 << 64) - 1

def empty():
    pass

def tiny(x):  # the same mix as tiny_work in procpool_bench.c
    for _ in range(3):
        x ^= x >> 13
        x = (x * 0x9E3779B97F4A7C15) & M
        x ^= x >> 29
    return x

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        ex.submit(empty).result()
        tps = []
        for _ in range(3):
            n = 10000
            t = time.perf_counter()
            fs = [ex.submit(empty) for _ in range(n)]
            for f in fs:
                f.result()
            tps.append(n / (time.perf_counter() - t))
        rts = []
        for i in range(500):
            t = time.perf_counter_ns()
            r = ex.submit(tiny, i).result()
            rts.append(time.perf_counter_ns() - t)
            assert r == tiny(i)
        n = 100000
        want = [tiny(x) for x in range(n)]
        t = time.perf_counter()
        got = list(ex.map(tiny, range(n), chunksize=1))
        map1 = time.perf_counter() - t
        assert got == want
        m1000 = []
        for _ in range(3):
            t = time.perf_counter()
            got = list(ex.map(tiny, range(n), chunksize=1000))
            m1000.append(time.perf_counter() - t)
            assert got == want
    print(statistics.median(tps), statistics.median(rts), map1, statistics.median(m1000),
          "Python-" + sys.version.split()[0])
PY
  echo "(measuring Python's ProcessPoolExecutor first: about 15 s)"
  # $(...) waits for python to exit: its teardown must not overlap the C measurements.
  # A Python failure (no fork context, a broken install) leaves hone's figures, marked unmeasured.
  if py_out=$(python3 "$py"); then
    read -r py_tps py_rt py_map1 py_map1000 py_ver <<<"$py_out"
    py_args=(--python-tps "$py_tps" --python-rt-ns "$py_rt" --python-map1-s "$py_map1"
      --python-map1000-s "$py_map1000" --python-version "$py_ver")
  else
    echo "procpool: python3 failed (status $?): hone's figures alone"
  fi
fi
"$bin" "${py_args[@]}" "$@"
