# 20-profile.sh: the profiler — `hone record` runs examples/profiling (built with
# -finstrument-functions) with the runtime preloaded, then `hone report` shows where the time went.
if [ -x "$build/examples/profiling" ] && "$hone" help record >/dev/null 2>&1; then
  section "hone record: profile examples/profiling, a program with a bottleneck"
  prof_dir=$(mktemp -d)
  "$hone" record -o "$prof_dir/profiling.prof" -- "$build/examples/profiling" 3000
  if "$hone" help report >/dev/null 2>&1; then
    section "hone report --sort tottime: the bubble sort is the bottleneck"
    "$hone" report --sort tottime --limit 8 --strip-dirs "$prof_dir/profiling.prof"
    section "hone report --callees bubble_sort: what it calls, and how often"
    "$hone" report --callees bubble_sort --strip-dirs "$prof_dir/profiling.prof"
  fi
  rm -rf "$prof_dir"
fi
