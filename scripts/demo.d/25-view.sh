# 25-view.sh: see the profile — `hone flame` writes the flame graph of examples/profiling as one
# SVG and `hone view` the single-file HTML report; both open offline in any web browser.
if [ -x "$build/examples/profiling" ] && "$hone" help view >/dev/null 2>&1; then
  section "hone flame and hone view: the profile of examples/profiling, to open in a browser"
  view_dir="$build/demo"
  mkdir -p "$view_dir"
  "$hone" record -o "$view_dir/profiling.prof" -- "$build/examples/profiling" 3000 >/dev/null 2>&1
  "$hone" flame --strip-dirs -o "$view_dir/profiling-flame.svg" "$view_dir/profiling.prof"
  "$hone" view --strip-dirs -o "$view_dir/profiling.html" "$view_dir/profiling.prof"
  echo "flame graph: $(cd "$view_dir" && pwd)/profiling-flame.svg"
  echo "HTML view:   $(cd "$view_dir" && pwd)/profiling.html"
fi
