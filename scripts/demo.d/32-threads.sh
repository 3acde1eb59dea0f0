# 32-threads.sh: the lecture's threading slides in C (examples/threads.c) — threads started with
# arguments and joined, then CPU-bound work on 1 thread and on one per core, with the speedup
# measured on this machine (CPython's threads, under the GIL, do not speed such work up).
if [ -x "$build/examples/threads" ]; then
  section "threads: C threads speed up CPU-bound work (CPython's, under the GIL, do not)"
  "$build/examples/threads"
fi
