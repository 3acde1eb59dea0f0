# browser.sh: `hone view` and `hone flame` in a real browser (headless Chromium, driven over its
# debugging pipe by browser.py). Records tests/view/fixture.c (known call graph, two threads)
# twice (fib(10), fib(12)) and a generated program of 111,110 call paths (gen_paths.sh), writes
# the HTML, the SVG, the icicle and the diff, then checks in the browser that the DOM holds the
# functions, that clicking zooms, sorting, filtering, threads, search, hover, and that nothing is
# fetched. Screenshots are kept in $HONE_BUILD/artifacts/view/. Exits 77 (skipped) only when no
# chromium or python3 can be run.
. "$HONE_SRC/tests/cli/lib.sh"
CC=${CC:-cc}
here="$HONE_SRC/tests/view"
if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 is not installed (scripts/install-deps installs it)"; exit 77
fi
if ! command -v chromium >/dev/null && [ -z "${HONE_CHROMIUM:-}" ]; then
  echo "SKIP: chromium is not installed (Debian package 'chromium'; scripts/install-deps installs it)"
  exit 77
fi
art="$HONE_BUILD/artifacts/view"
mkdir -p "$art"
cd "$T"
$CC -g -O0 -finstrument-functions -pthread "$here/fixture.c" -o prog || { echo "cannot build the fixture"; exit 1; }
bash "$here/gen_paths.sh" big.c 10 5
$CC -g -O1 -finstrument-functions big.c -o big || { echo "cannot build big.c"; exit 1; }

# The fixture runs for well under a millisecond: sampled times (100 us samples) would give most of
# its frames no width, so these runs time by the calibrated correction, which every frame has.
run env HONE_PROF_SAMPLE=off "$HONE" record -o a.prof -- ./prog 10; expect_status 0
run env HONE_PROF_SAMPLE=off "$HONE" record -o b.prof -- ./prog 12; expect_status 0
run env HONE_PROF_SAMPLE=off "$HONE" record -o big.prof -- ./big 1; expect_status 0
run "$HONE" view a.prof -o view.html; expect_status 0
run "$HONE" flame a.prof -o flame.svg; expect_status 0
run "$HONE" flame --reverse a.prof -o icicle.svg; expect_status 0
run "$HONE" view --diff a.prof b.prof -o diff.html; expect_status 0
run "$HONE" view big.prof -o big.html; expect_status 0
run "$HONE" flame big.prof -o big.svg; expect_status 0

run python3 "$here/browser.py" "$T" "$art"
printf '%s\n' "$out"
[ -n "$err" ] && printf '%s\n' "$err" >&2
if [ "$status" -eq 77 ]; then exit 77; fi
expect_status 0
done_testing
