#!/usr/bin/env bash
# queue.sh: hone's shared-memory queue vs a raw pipe and Python's multiprocessing.Queue, between
# two processes, 64-byte and 64 KiB messages, all measured in this run.
# Env: HONE_BUILD (absolute build dir), HONE_SRC.
set -euo pipefail
bin="$HONE_BUILD/bench/bench_queue"
if [ ! -x "$bin" ]; then
  echo "queue: $bin not built"
  exit 0
fi
py_args=()
if command -v python3 >/dev/null 2>&1; then
  # Each run: a consumer Process gets n messages that the parent puts; timed from the first put
  # until the consumer has got the last one and exited. $(...) waits for python to exit, so its
  # teardown does not overlap the C measurements.
  py_out=$(python3 - <<'PY'
import multiprocessing as mp, statistics, time

def consume(q, n):
    for _ in range(n):
        q.get()

def run(size, n):
    q = mp.Queue()
    p = mp.Process(target=consume, args=(q, n))
    p.start()
    msg = b"x" * size
    t = time.perf_counter()
    for _ in range(n):
        q.put(msg)
    p.join()
    return n / (time.perf_counter() - t)

if __name__ == "__main__":
    small = statistics.median(run(64, 100000) for _ in range(3))
    large = statistics.median(run(65536, 5000) for _ in range(3)) * 65536
    print(small, large)
PY
)
  read -r py_small py_large <<<"$py_out"
  py_args=(--python-small "$py_small" --python-large "$py_large")
fi
"$bin" "${py_args[@]}" "$@"
