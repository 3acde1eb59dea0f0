"""screenshot.py PAGE.html OUT.png [FUNCTION]: a screenshot of a `hone view` page in headless
Chromium (cdp.py), with FUNCTION selected (its callers and callees shown, the chart zoomed to
its heaviest path's caller). Used for docs/view.png:
    hone record -o p.prof -- build/release/examples/profiling 3000
    hone view --strip-dirs p.prof -o p.html && python3 tests/view/screenshot.py p.html docs/view.png bubble_sort
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

page_path, out = os.path.abspath(sys.argv[1]), sys.argv[2]
func = sys.argv[3] if len(sys.argv) > 3 else None
with cdp.Browser() as b:
    p = b.new_page(1280, 760)
    p.goto('file://' + page_path, 'document.body && document.body.dataset.ready')
    if func:
        p.eval('(function(){var n=%r; var t=honeView.tree(); for (var i=1;i<t.n;i++)'
               ' if (t.P.funcs.name[t.func[i]]===n) { honeView.select(t.func[i], false); return; }})()' % func)
    p.screenshot(out)
