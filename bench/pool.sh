#!/usr/bin/env bash
# pool.sh: hone's thread pool vs GLib GThreadPool, OpenMP and Python's ThreadPoolExecutor, all
# measured in this run (2 workers each). Env: HONE_BUILD (absolute build dir), HONE_SRC.
set -euo pipefail
bin="$HONE_BUILD/bench/bench_pool"
if [ ! -x "$bin" ]; then
  echo "pool: $bin not built (needs glib-2.0 and OpenMP: scripts/install-deps --bench)"
  exit 0
fi
py_args=()
if command -v python3 >/dev/null 2>&1; then
  # $(...) waits for python to exit: its teardown must not overlap the C measurements.
  py_out=$(python3 - <<'PY'
import concurrent.futures as cf, statistics, time
def f():
    pass
with cf.ThreadPoolExecutor(2) as ex:
    tps = []
    for _ in range(5):
        n = 20000
        t = time.perf_counter()
        fs = [ex.submit(f) for _ in range(n)]
        for x in fs:
            x.result()
        tps.append(n / (time.perf_counter() - t))
    rts = []
    for _ in range(3000):
        t = time.perf_counter_ns()
        ex.submit(f).result()
        rts.append(time.perf_counter_ns() - t)
print(statistics.median(tps), statistics.median(rts))
PY
)
  read -r py_tps py_rt <<<"$py_out"
  py_args=(--python-tps "$py_tps" --python-rt-ns "$py_rt")
fi
"$bin" "${py_args[@]}" "$@"
