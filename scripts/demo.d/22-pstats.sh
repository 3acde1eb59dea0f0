# 22-pstats.sh: the report API from C — examples/pstats does the lecture's
# `pstats.Stats('restats').sort_stats('cumulative').print_stats(10)` in a few calls.
if [ -x "$build/examples/pstats" ] && [ -x "$build/examples/profiling" ]; then
  section "examples/pstats: pstats.Stats('restats').sort_stats('cumulative').print_stats(10), in C"
  pstats_dir=$(mktemp -d)
  "$hone" record -o "$pstats_dir/restats" -- "$build/examples/profiling" 2000 >/dev/null 2>&1
  pstats_bin=$(realpath "$build/examples/pstats")
  (cd "$pstats_dir" && "$pstats_bin" restats)
  rm -rf "$pstats_dir"
fi
