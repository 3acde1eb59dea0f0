"""browser.py WORKDIR ARTIFACTS: the checks of browser.sh in headless Chromium (cdp.py). WORKDIR
holds view.html, flame.svg, icicle.svg, diff.html (of tests/view/fixture.c) and big.html /
big.svg (111,110 call paths). Prints one line per check; exits 1 if any failed, 77 if no browser
can be started."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

work, art = sys.argv[1], sys.argv[2]
failed = 0


def check(what, cond, detail=''):
    global failed
    print(('ok   ' if cond else 'FAIL ') + what + ('' if cond else ' -- ' + str(detail)))
    if not cond:
        failed += 1


def url(name):
    return 'file://' + os.path.join(work, name)


HTML_READY = 'document.body && document.body.dataset.ready'
SVG_READY = 'document.documentElement.getAttribute("data-ready")'
FUNCS = ['main', 'fib', 'even', 'odd', 'leaf', 'caller_a', 'caller_b', 'worker']


def rect_of(page, selector):
    """Centre of the first element matching selector, or None."""
    r = page.eval('(function(){var e=document.querySelector(%s); if(!e) return null;'
                  'var b=e.getBoundingClientRect(); return [b.left+b.width/2, b.top+b.height/2, b.width];})()'
                  % json.dumps(selector))
    return r


def seconds(text):
    """'+2.050 ms' -> 0.00205 (the pages' time format)."""
    num, unit = text.replace('\u2212', '-').split()
    return float(num) * {'s': 1, 'ms': 1e-3, '\u00b5s': 1e-6, 'ns': 1e-9}[unit]


def fetched(page):
    return page.eval('performance.getEntriesByType("resource").map(function(e){return e.name})')


def test_html(b):
    p = b.new_page(1400, 1000)
    secs = p.goto(url('view.html'), HTML_READY)
    print('     view.html ready in %.3f s' % secs)
    names = p.eval('Array.from(document.querySelectorAll("#stats td.fn")).map(function(t){return t.textContent})')
    for f in FUNCS:
        check('table lists %s' % f, any(n.endswith('(' + f + ')') for n in names), names)
    fib_calls = p.eval('(function(){var r=Array.from(document.querySelectorAll("#stats tr")).find(function(t){'
                       'return /\\(fib\\)$/.test(t.lastChild.textContent)}); return r && r.firstChild.textContent})()')
    check('fib shows 177/1 calls (total/primitive)', fib_calls == '177/1', fib_calls)
    frames = p.eval('Array.from(document.querySelectorAll("#icicle .fr")).map(function(d){return d.getAttribute("data-name")})')
    check('icicle draws every function', all(f in frames for f in FUNCS), frames)
    check('nothing fetched', fetched(p) == [], fetched(p))

    # Sorting: a real click on the ncalls header puts fib (177 calls) first.
    x, y, _ = rect_of(p, '#stats th[data-key="nc"]')
    p.click_at(x, y)
    first = p.eval('document.querySelector("#stats tbody tr td.fn").textContent')
    check('clicking ncalls sorts by calls (fib first)', first.endswith('(fib)'), first)
    p.click_at(x, y)
    first = p.eval('document.querySelector("#stats tbody tr td.fn").textContent')
    check('clicking again reverses the order', not first.endswith('(fib)'), first)

    # Hover, then click zooms: the fib frame fills the chart afterwards.
    x, y, w0 = rect_of(p, '#icicle .fr[data-name="fib"]')
    node = p.eval('document.querySelector(\'#icicle .fr[data-name="fib"]\').getAttribute("data-node")')
    p.move_to(x, y)
    tip = p.eval('document.getElementById("tip").hidden ? "" : document.getElementById("tip").textContent')
    check('hovering a frame shows calls and time', ' call' in tip and 'total' in tip, tip)
    p.click_at(x, y)
    st = p.eval('honeView.state()')
    check('clicking a frame zooms to it', str(st['zoom']) == node, (st, node))
    w1 = p.eval('document.querySelector(\'#icicle .fr[data-node="%s"]\').getBoundingClientRect().width' % node)
    box = p.eval('document.getElementById("icicle").clientWidth')
    check('the zoomed frame spans the chart', w1 > 0.95 * (box - 2) and w1 > w0, (w0, w1, box))
    det = p.eval('document.getElementById("details").textContent')
    check('clicking shows callers and callees', 'Callers' in det and 'Callees' in det, det[:200])
    x, y, _ = rect_of(p, '#reset')
    p.click_at(x, y)
    check('reset zoom returns to the root', p.eval('honeView.state().zoom') == 0)

    # Callers/callees of leaf: caller_a (2 calls), caller_b (3), worker (4).
    x, y, _ = rect_of(p, '#stats tbody tr[data-func="%s"]' % p.eval(
        'Array.from(document.querySelectorAll("#stats tbody tr")).find(function(t){return /\\(leaf\\)$/.test(t.lastChild.textContent)}).getAttribute("data-func")'))
    p.click_at(x, y)
    det = p.eval('Array.from(document.querySelectorAll("#details table.nb tbody tr")).map(function(t){'
                 'return [t.cells[0].textContent.split(" ")[0], t.cells[1].textContent]})')
    check('leaf\'s callers: caller_a 2, caller_b 3, worker 4',
          sorted(det) == [['caller_a', '2'], ['caller_b', '3'], ['worker', '4']], det)

    # Threads: one of the two is the worker's, with worker and leaf only.
    nopt = p.eval('document.getElementById("thread").options.length')
    check('thread selector: all + 2 threads', nopt == 3, nopt)
    per = []
    for t in range(nopt - 1):
        p.eval('honeView.setThread(%d)' % t)
        per.append(sorted(n.split('(')[-1][:-1] for n in p.eval(
            'Array.from(document.querySelectorAll("#stats td.fn")).map(function(t){return t.textContent})')))
    check('per-thread view: the worker thread holds leaf and worker', ['leaf', 'worker'] in per, per)
    p.eval('honeView.setThread(-1)')

    # "My code only": a filter on a file that holds nothing hides every function; the fixture's
    # own file keeps them all.
    p.eval('honeView.setFilter("no/such/dir/")')
    check('filter to another directory: no rows', p.eval('honeView.state().rows') == 0)
    p.eval('honeView.setFilter("fixture.c")')
    check('filter to fixture.c: the 8 functions', p.eval('honeView.state().rows') == 8)
    p.eval('honeView.setFilter("")')

    # Highlight by name.
    p.eval('var s=document.getElementById("search"); s.value="^fib$"; s.dispatchEvent(new Event("input"))')
    hits = p.eval('document.querySelectorAll("#icicle .fr.hit").length')
    check('highlight marks the fib frames', hits >= 1, hits)
    p.eval('s.value=""; s.dispatchEvent(new Event("input"))')
    x, y, _ = rect_of(p, '#stats tbody tr[data-func]')
    p.click_at(x, y)
    p.screenshot(os.path.join(art, 'view.png'))


def test_svg(b, name, icicle):
    p = b.new_page(1200, 600)
    secs = p.goto(url(name), SVG_READY)
    print('     %s ready in %.3f s' % (name, secs))
    names = p.eval('Array.from(document.querySelectorAll("g.frame")).map(function(g){return g.getAttribute("data-name")})')
    for f in FUNCS:
        check('%s: a frame for %s' % (name, f), f in names, names)
    check('%s: nothing fetched' % name, fetched(p) == [], fetched(p))
    ys = p.eval('(function(){function y(n){return +document.querySelector(\'g.frame[data-name="\'+n+\'"] rect\').getAttribute("y")}'
                'return [y("all"), y("main"), y("fib")]})()')
    if icicle:
        check('%s: icicle, the root on top' % name, ys[0] < ys[1] < ys[2], ys)
    else:
        check('%s: flame, the root at the bottom' % name, ys[0] > ys[1] > ys[2], ys)
    x, y, w0 = rect_of(p, 'g.frame[data-name="fib"]')
    p.move_to(x, y)
    det = p.eval('document.getElementById("details").textContent')
    check('%s: hover shows function, file:line, calls, time' % name,
          det.startswith('fib (') and 'fixture.c:' in det and ' call' in det and '%' in det, det)
    node = p.eval('document.querySelector(\'g.frame[data-name="fib"]\').getAttribute("data-node")')
    p.click_at(x, y)
    z = p.eval('document.documentElement.getAttribute("data-zoom")')
    w1 = p.eval('document.querySelector(\'g.frame[data-node="%s"] rect\').getBoundingClientRect().width' % node)
    check('%s: clicking fib zooms to it' % name, z == node and w1 > 0.95 * 1180 and w1 > w0, (z, node, w0, w1))
    p.eval('honeFlame.search("^(leaf|worker)$")')
    m = p.eval('document.getElementById("matched").textContent')
    hits = p.eval('Array.from(document.querySelectorAll("g.frame rect")).filter(function(r){return r.getAttribute("fill")=="rgb(230,0,230)"}).length')
    check('%s: search highlights and reports the matched share' % name, m.startswith('Matched: ') and hits == 0, (m, hits))
    p.eval('honeFlame.zoom(0)')
    hits = p.eval('Array.from(document.querySelectorAll("g.frame rect")).filter(function(r){return r.getAttribute("fill")=="rgb(230,0,230)"}).length')
    check('%s: after unzoom the leaf and worker frames are highlighted' % name, hits >= 3, hits)
    p.screenshot(os.path.join(art, name.replace('.svg', '.png')))


def test_diff(b):
    p = b.new_page(1400, 1100)
    secs = p.goto(url('diff.html'), HTML_READY)
    print('     diff.html ready in %.3f s' % secs)
    row = p.eval('(function(){var r=Array.from(document.querySelectorAll("#stats tbody tr")).find(function(t){'
                 'return /\\(fib\\)$/.test(t.lastChild.textContent)}); return r && Array.from(r.cells).map(function(c){return c.textContent})})()')
    check('diff: fib has 465 calls in B, +288 against A', row and row[0] == '465' and row[1] == '+288', row)
    deltas = [abs(seconds(t)) for t in p.eval('Array.from(document.querySelectorAll("#stats tbody tr")).map(function(r){return r.cells[4].textContent})')]
    check('diff: sorted by the size of the change of own time', deltas == sorted(deltas, reverse=True), deltas)
    paths = p.eval('document.querySelectorAll("#paths tbody tr").length')
    check('diff: per-path changes listed', paths > 0, paths)
    p.screenshot(os.path.join(art, 'diff.png'))


def test_big(b):
    p = b.new_page(1400, 1000)
    secs = p.goto(url('big.html'), HTML_READY, timeout=60)
    ms = p.eval('performance.now()')
    summ = p.eval('document.getElementById("summary").textContent')
    check('big.html: 111,110 call paths (and main) loaded', '111,111 call paths' in summ, summ)
    print('     big.html (111,111 call paths, %.1f MB) ready in %.3f s' % (os.path.getsize(os.path.join(work, 'big.html')) / 1e6, secs))
    p.screenshot(os.path.join(art, 'big.png'))
    p = b.new_page(1200, 600)
    secs = p.goto(url('big.svg'), SVG_READY, timeout=60)
    n = p.eval('honeFlame.tree.n')
    check('big.svg: the merged tree holds every path', n == 111112, n)
    print('     big.svg ready in %.3f s' % secs)


try:
    browser = cdp.Browser()
except cdp.Unavailable as e:
    print('SKIP: %s' % e)
    sys.exit(77)
with browser as b:
    print('     %s' % b.version)
    test_html(b)
    test_svg(b, 'flame.svg', False)
    test_svg(b, 'icicle.svg', True)
    test_diff(b)
    test_big(b)
print('screenshots in %s' % art)
sys.exit(1 if failed else 0)
