# view.sh: how long headless Chromium takes to open `hone view` and `hone flame` pages of a large
# profile (tests/view/gen_paths.sh: 10 functions to depth 5, 111,110 distinct call paths plus
# main), and how big the files are, for 1 and 100 passes over the same tree (the size must follow
# the tree, not the calls). Target: under 2 s to open (issue 11). Time to open = from the
# navigation to the page's first complete drawing (the time origin of performance.now()), best
# of 3. The peer: speedscope/SnakeViz are not packaged for Debian, so no side-by-side figure.
set -euo pipefail
hone="$HONE_BUILD/hone"
if ! command -v chromium >/dev/null || ! command -v python3 >/dev/null; then
  echo "view: skipped (needs chromium and python3: scripts/install-deps)"; exit 0
fi
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
bash "$HONE_SRC/tests/view/gen_paths.sh" "$w/big.c" 10 5
${CC:-cc} -g -O1 -finstrument-functions "$w/big.c" -o "$w/big"
for r in 1 100; do
  "$hone" record -o "$w/big$r.prof" -- "$w/big" $r >/dev/null 2>&1
  "$hone" view "$w/big$r.prof" -o "$w/big$r.html"
  "$hone" flame "$w/big$r.prof" -o "$w/big$r.svg"
done
echo "load: $(uptime | sed 's/.*load average: //')"
python3 - "$w" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ['HONE_SRC'], 'tests', 'view'))
import cdp
w = sys.argv[1]
ready = {'html': 'document.body && document.body.dataset.ready',
         'svg': 'document.documentElement.getAttribute("data-ready")'}
print('%-14s %12s %10s %14s' % ('file', 'calls', 'size (MB)', 'open (s, best/3)'))
with cdp.Browser() as b:
    for r in (1, 100):
        for ext in ('html', 'svg'):
            path = os.path.join(w, 'big%d.%s' % (r, ext))
            best = None
            for _ in range(3):
                p = b.new_page(1400, 1000)
                p.goto('file://' + path, ready[ext], timeout=60)
                t = p.eval('performance.now()') / 1000
                best = t if best is None else min(best, t)
            print('%-14s %12d %10.2f %14.3f' % (os.path.basename(path), 111111 * r, os.path.getsize(path) / 1e6, best))
PY
