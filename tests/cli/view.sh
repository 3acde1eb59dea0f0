# view.sh: `hone flame` and `hone view` end to end without a browser (tests/view/browser.sh
# drives Chromium): tests/view/fixture.c is built with -finstrument-functions and recorded by the
# real runtime; the written files are checked for the embedded data (schema, every function, the
# exact call counts), self-containment (no URL but the SVG namespace), atomic writes, the size
# following the tree rather than the calls, the registry reachable from `hone report --format`,
# and every refusal: usage errors, truncated files, a diff of two different programs.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
here="$HONE_SRC/tests/view"
cd "$T"
$CC -g -O0 -finstrument-functions -pthread "$here/fixture.c" -o prog || { echo "cannot build the fixture"; exit 1; }
"$HONE" record -o a.prof -- ./prog 10 >/dev/null 2>&1 || { echo "cannot record"; exit 1; }
"$HONE" record -o b.prof -- ./prog 12 >/dev/null 2>&1 || { echo "cannot record"; exit 1; }

# ---- help and usage -------------------------------------------------------------------------
for c in flame view; do
  run "$HONE" $c --help
  expect_status 0
  expect_out "^usage: hone $c"
  run "$HONE" $c a.prof
  expect_status 2
  expect_err "^hone $c: no output given"
  run "$HONE" $c -o x
  expect_status 2
  expect_err "^hone $c: no stats file given"
  run "$HONE" $c --bogus a.prof -o x
  expect_status 2
  expect_err "unknown option '--bogus'"
done
run "$HONE" view --diff a.prof -o d.html
expect_status 2
expect_err "^hone view: --diff compares exactly two files"
run "$HONE" --help
expect_out "flame"
expect_out "view"

# ---- the flame graph --------------------------------------------------------------------------
run "$HONE" flame a.prof -o f.svg
expect_status 0
expect_empty_err
check "f.svg starts as an SVG document" grep -q '^<svg version="1.1" xmlns="http://www.w3.org/2000/svg"' f.svg
check "f.svg: the schema line" grep -q '{"schema":"hone-view","version":1' f.svg
check "f.svg: flame orientation" grep -q '"options":{"reverse":false}' f.svg
for f in main fib even odd leaf caller_a caller_b worker; do
  check "f.svg names $f" grep -q "\"$f\"" f.svg
done
check "f.svg: no URL but the SVG namespace" \
  test "$(grep -o "https\\?://[^\"'<> ]*" f.svg | sort -u)" = "http://www.w3.org/2000/svg"
check "f.svg is well-formed XML" python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' f.svg
run "$HONE" flame --reverse -t "my title <&>" a.prof -o i.svg
expect_status 0
check "i.svg: icicle orientation" grep -q '"options":{"reverse":true}' i.svg
check "i.svg: the title escaped" grep -q 'Icicle graph: my title &lt;&amp;&gt;' i.svg
check "i.svg is well-formed XML" python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' i.svg

# ---- the HTML view: the embedded data holds the exact counts -----------------------------------
run "$HONE" view a.prof -o v.html
expect_status 0
expect_empty_err
check "v.html is one HTML file" grep -q '^<!DOCTYPE html>' v.html
check "v.html: nothing to fetch (no src=, no href=, no URL)" \
  sh -c '! grep -Eq "(src|href)=|https?://" v.html'
python3 - v.html >"$T/counts" <<'PY' || fail "cannot read the data of v.html"
import json, re, sys
text = open(sys.argv[1]).read()
doc = json.loads(re.search(r'<script type="application/json" id="hone-data">\n(.*?)\n</script>', text, re.S).group(1))
p = doc['profiles'][0]
names, nodes = p['funcs']['name'], p['nodes']
calls = {}
for f, c in zip(nodes['func'], nodes['calls']):
    calls[names[f]] = calls.get(names[f], 0) + c
print(' '.join('%s=%d' % kv for kv in sorted(calls.items())), len(p['threads']['tid']), len(nodes['func']))
PY
check "v.html: the exact calls of every function, 2 threads" \
  grep -qx 'caller_a=1 caller_b=1 even=4 fib=177 leaf=9 main=1 odd=4 worker=1 2 [0-9]*' "$T/counts"

# The same figures as `hone report` (its JSON): total calls 198 in both.
run "$HONE" view --strip-dirs a.prof -o - ; expect_status 0
expect_out '"file":\["fixture.c"'

# ---- the diff ----------------------------------------------------------------------------------
run "$HONE" view --diff a.prof b.prof -o d.html
expect_status 0
check "d.html holds two profiles" sh -c 'grep -o "\"total_seconds\"" d.html | wc -l | grep -qx 2'
bash "$here/gen_paths.sh" other.c 3 3
$CC -g -O1 -finstrument-functions other.c -o other || { echo "cannot build other.c"; exit 1; }
"$HONE" record -o other.prof -- ./other >/dev/null 2>&1
run "$HONE" view --diff a.prof other.prof -o d2.html
expect_status 1
expect_err "^hone view: --diff: a.prof recorded 'prog' but other.prof recorded 'other'"
check "a refused diff writes nothing" test ! -e d2.html

# ---- size follows the tree, not the calls -----------------------------------------------------
# 6 functions to depth 4: 1,554 call paths (+ main), taken once or 100 times. A per-call encoding
# would grow 100-fold; the columns grow only by the longer digits of counts and times.
bash "$here/gen_paths.sh" tree.c 6 4
$CC -g -O1 -finstrument-functions tree.c -o tree || { echo "cannot build tree.c"; exit 1; }
"$HONE" record -o t1.prof -- ./tree 1 >/dev/null 2>&1
"$HONE" record -o t100.prof -- ./tree 100 >/dev/null 2>&1
"$HONE" view t1.prof -o t1.html && "$HONE" view t100.prof -o t100.html
data_bytes() { # the embedded JSON's size and its number of nodes
  python3 -c 'import json, re, sys
d = re.search(r"id=\"hone-data\">\n(.*?)\n</script>", open(sys.argv[1]).read(), re.S).group(1)
print(len(d), len(json.loads(d)["profiles"][0]["nodes"]["func"]))' "$1"
}
read -r d1 n1 <<<"$(data_bytes t1.html)"
read -r d100 n100 <<<"$(data_bytes t100.html)"
check "one node per call path ($n1, $n100)" test "$n1" -eq 1555 -a "$n100" -eq 1555
check "under 64 bytes of data per call path ($d1, $d100 bytes for $n1 paths)" \
  test $((d100 / n100)) -lt 64 -a $((d1 / n1)) -lt 64
check "100x the calls: the data grows by less than 2x ($d1 -> $d100 bytes)" test "$d100" -lt $((2 * d1))

# ---- refusals: nothing written, nothing lost -------------------------------------------------
echo "keep me" >keep.html
head -c 100 a.prof >trunc.prof
run "$HONE" view trunc.prof -o keep.html
expect_status 1
expect_err "^hone view: .*trunc.prof"
check "a refused file leaves the output as it was" grep -qx "keep me" keep.html
run "$HONE" flame missing.prof -o keep.svg
expect_status 1
expect_err "^hone flame: .*missing.prof"
run "$HONE" flame a.prof -o /no/such/dir/x.svg
expect_status 1
expect_err "^hone flame: /no/such/dir/x.svg"
check "no temporary file left behind" sh -c '! ls *.tmp.* 2>/dev/null | grep -q .'

# ---- the registry: the same writers through `hone report --format` ---------------------------
run "$HONE" report --format html -o r.html a.prof
expect_status 0
check "hone report --format html writes the page" grep -q '"schema":"hone-view"' r.html
run "$HONE" report --format svg a.prof
expect_status 0
expect_out '^<svg version'
done_testing
