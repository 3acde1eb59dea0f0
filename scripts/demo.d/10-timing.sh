# 10-timing.sh: the lecture's timeit example in C (examples/timing.c) — two ways to build the
# same string, timed with hone's Timer, the faster one named with the ratio and its uncertainty.
section "examples/timing: strcat vs memcpy at a tracked end, timed like python -m timeit"
if [ -x "$build/examples/timing" ]; then
  "$build/examples/timing"
else
  echo "(examples/timing was not built)"
fi
