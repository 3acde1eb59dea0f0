# 20-profile.sh: the profiler — `hone record` runs examples/profiling (built with
# -finstrument-functions) with the runtime preloaded and, with --plain, the same program built
# without instrumentation (examples/profiling_plain); `hone report` then shows where the time went:
# the times of the plain build, the calls of the instrumented one.
if [ -x "$build/examples/profiling" ] && "$hone" help record >/dev/null 2>&1; then
  prof_dir=$(mktemp -d)
  plain=()
  if [ -x "$build/examples/profiling_plain" ]; then
    section "hone record --plain: profile examples/profiling, and time its plain build"
    "$hone" record --plain "$build/examples/profiling_plain" -o "$prof_dir/profiling.prof" -- \
      "$build/examples/profiling" 3000
    [ -s "$prof_dir/profiling.prof.plain" ] && plain=("$prof_dir/profiling.prof.plain")
  else
    section "hone record: profile examples/profiling, a program with a bottleneck"
    "$hone" record -o "$prof_dir/profiling.prof" -- "$build/examples/profiling" 3000
  fi
  if "$hone" help report >/dev/null 2>&1; then
    section "hone report --sort tottime: the comparisons of the bubble sort are the bottleneck"
    "$hone" report --sort tottime --limit 8 --strip-dirs "$prof_dir/profiling.prof" "${plain[@]}"
    section "hone report --callees bubble_sort: what it calls, and how often"
    "$hone" report --callees bubble_sort --strip-dirs "$prof_dir/profiling.prof" "${plain[@]}"
  fi
  rm -rf "$prof_dir"
fi
