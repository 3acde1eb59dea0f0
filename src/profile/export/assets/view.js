/* view.js: `hone view`'s single-file report (view.html), in the spirit of SnakeViz: an icicle of
 * the calling-context tree (click zooms), the sortable pstats table, callers and callees of the
 * selected function, a per-thread view, folding away every function outside a file or directory
 * ("my code only"), and, with two profiles embedded (`hone view --diff A B`), the per-function
 * and per-path change from A to B. Data and helpers: common.js. */
(function () {
  var t0 = performance.now();
  var doc = hone.load('hone-data');
  var diff = doc.profiles.length === 2;
  var PA = diff ? hone.prep(doc.profiles[0]) : null;
  var P = hone.prep(doc.profiles[diff ? 1 : 0]);
  var $ = function (id) { return document.getElementById(id); };
  var st = {thread: -1, filter: '', search: null, zoom: 0, sel: -1, sortKey: diff ? 'dtt' : 'ct',
    asc: false, rows: 200};
  var T, S, rows, TA, SA, keyA, fkeyA, deltaNode, maxDelta;
  var ROW = 18;

  function fkey(Q, f) { return Q.funcs.name[f] + '\u0000' + (Q.funcs.file[f] || ''); }
  function keepFn(Q) {
    if (!st.filter) return null;
    var s = st.filter;
    return function (f) {
      return (Q.funcs.file[f] || '').indexOf(s) >= 0 || (Q.funcs.object[f] || '').indexOf(s) >= 0;
    };
  }

  /* ---- data for the current thread and filter -------------------------------------------- */
  function rebuild() {
    T = hone.merge(P, st.thread, keepFn(P));
    S = hone.stats(P, st.thread);
    var keep = keepFn(P), i;
    rows = [];
    for (i = 0; i < P.nfuncs; i++) if (S.nc[i] > 0 && (!keep || keep(i))) rows.push(i);
    if (diff) {
      TA = hone.merge(PA, -1, keepFn(PA));
      SA = hone.stats(PA, -1);
      fkeyA = new Map();
      for (i = 0; i < PA.nfuncs; i++) fkeyA.set(fkey(PA, i), i);
      /* Paths are matched by their chain of function names (and files). */
      var ka = pathKeys(TA, PA), kb = pathKeys(T, P);
      keyA = new Map();
      for (i = 0; i < TA.n; i++) keyA.set(ka[i], i);
      deltaNode = new Float64Array(T.n);
      maxDelta = 0;
      for (i = 0; i < T.n; i++) {
        var j = keyA.get(kb[i]);
        deltaNode[i] = T.total[i] - (j === undefined ? 0 : TA.total[j]);
        if (i > 0 && Math.abs(deltaNode[i]) > maxDelta) maxDelta = Math.abs(deltaNode[i]);
      }
      pathsTable(ka, kb);
    }
    st.zoom = 0;
  }
  function pathKeys(Q, Pq) {
    var k = new Array(Q.n);
    k[0] = '';
    for (var i = 1; i < Q.n; i++) k[i] = k[Q.parent[i]] + '\n' + fkey(Pq, Q.func[i]);
    return k;
  }
  function aFigures(f) {
    var j = fkeyA.get(fkey(P, f));
    return j === undefined ? {nc: 0, tt: 0, ct: 0} : {nc: SA.nc[j], tt: SA.tt[j], ct: SA.ct[j]};
  }

  /* ---- the icicle ------------------------------------------------------------------------ */
  var box = $('icicle'), tip = $('tip');
  function frameColour(i) {
    if (i === 0) return '#c8c8cd';
    if (!diff) return hone.colour(hone.name(P, T.func[i]));
    var r = maxDelta > 0 ? deltaNode[i] / maxDelta : 0, a = Math.min(1, Math.abs(r));
    var c = r > 0 ? [220, 50, 47] : [38, 110, 200], w = 238;
    return 'rgb(' + c.map(function (x) { return Math.round(w + (x - w) * (0.15 + 0.85 * a)); }) + ')';
  }
  function drawIcicle() {
    var W = box.clientWidth - 2, z = st.zoom, i, v;
    var scale = T.total[z] > 0 ? W / T.total[z] : 0, html = [], chain = [];
    for (v = z; v >= 0; v = T.parent[v]) chain.push(v);
    for (i = chain.length - 1; i >= 1; i--) html.push(frameHtml(chain[i], 0, W, 'anc'));
    var stack = [z, 0];
    while (stack.length) {
      var x = stack.pop(); v = stack.pop();
      var w = T.total[v] * scale;
      if (w < 0.5 && v !== z) continue;
      html.push(frameHtml(v, x, w, ''));
      var cx = x;
      for (var k = T.kidStart[v]; k < T.kidStart[v + 1]; k++) {
        var c = T.kidList[k];
        stack.push(c, cx);
        cx += T.total[c] * scale;
      }
    }
    box.innerHTML = html.join('');
    /* As tall as the deepest visible row, within limits (it scrolls beyond). */
    var rowsShown = 0;
    for (i = 0; i < box.childNodes.length; i++) {
      var tp = parseFloat(box.childNodes[i].style.top);
      if (tp > rowsShown) rowsShown = tp;
    }
    box.style.height = Math.min(Math.max(rowsShown + ROW + 6, 120), 460) + 'px';
    var crumbs = chain.reverse().map(function (n) { return esc(hone.name(P, T.func[n])); });
    $('crumbs').innerHTML = crumbs.join(' \u203a ') + (z ? '' : ' \u2014 click a frame to zoom');
    $('reset').disabled = z === 0;
    document.body.setAttribute('data-zoom', z);
  }
  function frameHtml(v, x, w, cls) {
    var f = T.func[v], nm = hone.name(P, f);
    if (st.search && v > 0 && st.search.test(nm)) cls += ' hit';
    if (f >= 0 && f === st.sel) cls += ' sel';
    return '<div class="fr ' + cls + '" data-node="' + v + '" data-name="' + esc(nm) + '" style="left:' + x.toFixed(1) +
      'px;width:' + Math.max(w, 1).toFixed(1) + 'px;top:' + T.depth[v] * ROW + 'px;background:' +
      frameColour(v) + '">' + (w > 24 ? esc(nm) : '') + '</div>';
  }
  box.addEventListener('click', function (e) {
    var d = e.target.closest('.fr');
    if (!d) return;
    var v = +d.getAttribute('data-node');
    st.zoom = v === st.zoom && v > 0 ? T.parent[v] : v;
    if (T.func[v] >= 0) select(T.func[v], false);
    drawIcicle();
  });
  box.addEventListener('mousemove', function (e) {
    var d = e.target.closest('.fr');
    if (!d) { tip.hidden = true; return; }
    var v = +d.getAttribute('data-node'), f = T.func[v];
    var s = '<b>' + esc(hone.name(P, f)) + '</b>';
    var w = hone.where(P, f);
    if (w) s += '<br>' + esc(w);
    if (v > 0) s += '<br>' + hone.fmtCount(T.calls[v]) + (T.calls[v] === 1 ? ' call' : ' calls');
    s += '<br>total ' + hone.fmtTime(T.total[v]) + ' (' + hone.fmtPct(T.total[0] ? T.total[v] / T.total[0] : 0) +
      ')' + (v > 0 ? ', self ' + hone.fmtTime(T.self[v]) : '');
    if (T.unsure[v]) s += '<br><span class="unsure">estimated time unsure</span>';
    if (diff) s += '<br>change on this path: ' + signed(deltaNode[v]);
    tip.innerHTML = s;
    tip.hidden = false;
    var r = $('chart-box').getBoundingClientRect();
    var x = e.clientX - r.left + 14, y = e.clientY - r.top + 14;
    if (x + tip.offsetWidth > r.width) x = Math.max(0, e.clientX - r.left - tip.offsetWidth - 10);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  });
  box.addEventListener('mouseleave', function () { tip.hidden = true; });

  /* ---- the pstats table ------------------------------------------------------------------ */
  var cols = diff ? [
    ['nc', 'ncalls B'], ['dnc', '\u0394 ncalls'], ['tta', 'tottime A'], ['tt', 'tottime B'],
    ['dtt', '\u0394 tottime'], ['cta', 'cumtime A'], ['ct', 'cumtime B'], ['dct', '\u0394 cumtime'],
    ['fn', 'filename:lineno(function)']
  ] : [
    ['nc', 'ncalls'], ['tt', 'tottime'], ['ptt', 'percall'], ['ct', 'cumtime'], ['pct', 'percall'],
    ['fn', 'filename:lineno(function)']
  ];
  function value(f, k) {
    switch (k) {
      case 'nc': return S.nc[f];
      case 'tt': return S.tt[f];
      case 'ct': return S.ct[f];
      case 'ptt': return S.nc[f] ? S.tt[f] / S.nc[f] : 0;
      case 'pct': return S.cc[f] ? S.ct[f] / S.cc[f] : 0;
      case 'fn': return hone.name(P, f);
    }
    var a = aFigures(f);
    switch (k) {
      case 'tta': return a.tt;
      case 'cta': return a.ct;
      case 'dnc': return S.nc[f] - a.nc;
      case 'dtt': return Math.abs(S.tt[f] - a.tt);
      case 'dct': return Math.abs(S.ct[f] - a.ct);
    }
    return 0;
  }
  function sortRows() {
    var k = st.sortKey, sign = st.asc ? 1 : -1;
    var val = rows.map(function (f) { return value(f, k); }), idx = rows.map(function (_, i) { return i; });
    idx.sort(function (x, y) {
      var a = val[x], b = val[y];
      if (k === 'fn') return a < b ? -1 : a > b ? 1 : 0;
      return (a - b) * sign || rows[x] - rows[y];
    });
    rows = idx.map(function (i) { return rows[i]; });
  }
  function drawHead() {
    $('stats').tHead.innerHTML = '<tr>' + cols.map(function (c) {
      return '<th data-key="' + c[0] + '" class="' + (c[0] === 'fn' ? 'fn ' : '') +
        (c[0] === st.sortKey ? 'sorted' + (st.asc ? ' asc' : '') : '') + '">' + c[1] + '</th>';
    }).join('') + '</tr>';
  }
  function ncalls(f) {
    return S.cc[f] !== S.nc[f] ? hone.fmtCount(S.nc[f]) + '/' + hone.fmtCount(S.cc[f]) : hone.fmtCount(S.nc[f]);
  }
  function fnCell(Q, f) {
    var w = hone.where(Q, f);
    /* Long paths may wrap after a '/', never inside the function's name. */
    return '<td class="fn">' + (w ? '<span class="loc">' + esc(w).replace(/\//g, '/<wbr>') + '</span><wbr>(' : '') + esc(hone.name(Q, f)) +
      (w ? ')' : '') + (S.unsure && Q === P && S.unsure[f] ? ' <span class="unsure" title="estimated time unsure">?</span>' : '') + '</td>';
  }
  function drawTable() {
    var out = [], n = Math.min(rows.length, st.rows);
    for (var r = 0; r < n; r++) {
      var f = rows[r], tds;
      if (diff) {
        var a = aFigures(f);
        tds = '<td>' + hone.fmtCount(S.nc[f]) + '</td><td>' + signedCount(S.nc[f] - a.nc) + '</td><td>' +
          hone.fmtTime(a.tt) + '</td><td>' + hone.fmtTime(S.tt[f]) + '</td><td>' + signed(S.tt[f] - a.tt) +
          '</td><td>' + hone.fmtTime(a.ct) + '</td><td>' + hone.fmtTime(S.ct[f]) + '</td><td>' +
          signed(S.ct[f] - a.ct) + '</td>';
      } else {
        tds = '<td>' + ncalls(f) + '</td><td>' + hone.fmtTime(S.tt[f]) + '</td><td>' +
          hone.fmtTime(value(f, 'ptt')) + '</td><td>' + hone.fmtTime(S.ct[f]) + '</td><td>' +
          hone.fmtTime(value(f, 'pct')) + '</td>';
      }
      out.push('<tr data-func="' + f + '"' + (f === st.sel ? ' class="sel"' : '') + '>' + tds + fnCell(P, f) + '</tr>');
    }
    $('stats').tBodies[0].innerHTML = out.join('');
    $('more').hidden = rows.length <= st.rows;
    $('more').textContent = 'Show more (' + hone.fmtCount(rows.length - st.rows) + ' further functions)';
  }
  $('stats').tHead.addEventListener('click', function (e) {
    var th = e.target.closest('th');
    if (!th) return;
    var k = th.getAttribute('data-key');
    if (k === st.sortKey) st.asc = !st.asc;
    else { st.sortKey = k; st.asc = k === 'fn'; }
    sortRows(); drawHead(); drawTable();
  });
  $('stats').tBodies[0].addEventListener('click', function (e) {
    var tr = e.target.closest('tr');
    if (tr) select(+tr.getAttribute('data-func'), true);
  });
  $('more').addEventListener('click', function () { st.rows += 1000; drawTable(); });

  /* ---- callers and callees --------------------------------------------------------------- */
  function select(f, zoomToIt) {
    st.sel = f;
    var th = st.thread, s = '<h2>' + esc(hone.name(P, f)) + '</h2>';
    var w = hone.where(P, f);
    s += '<div class="loc">' + esc(w) + (P.funcs.object[f] ? ' \u2014 ' + esc(P.funcs.object[f]) : '') + '</div>';
    s += '<dl><dt>calls</dt><dd>' + ncalls(f) + '</dd><dt>own time</dt><dd>' + hone.fmtTime(S.tt[f]) +
      '</dd><dt>with callees</dt><dd>' + hone.fmtTime(S.ct[f]) + ' (' +
      hone.fmtPct(T.total[0] ? S.ct[f] / T.total[0] : 0) + ')</dd>';
    if (diff) {
      var a = aFigures(f);
      s += '<dt>own time A\u2192B</dt><dd>' + signed(S.tt[f] - a.tt) + '</dd><dt>with callees A\u2192B</dt><dd>' +
        signed(S.ct[f] - a.ct) + '</dd>';
    }
    s += '</dl>';
    s += neighbourTable('Callers', hone.neighbours(P, th, f, 'callers'), 'time in ' + esc(hone.name(P, f)));
    s += neighbourTable('Callees', hone.neighbours(P, th, f, 'callees'), 'time in callee');
    $('details').innerHTML = s;
    drawTable();
    if (zoomToIt) {
      /* Zoom to the heaviest path of the function in the chart. */
      var best = -1;
      for (var i = 1; i < T.n; i++) if (T.func[i] === f && (best < 0 || T.total[i] > T.total[best])) best = i;
      if (best > 0) st.zoom = best;
    }
    drawIcicle();
  }
  function neighbourTable(title, list, what) {
    if (!list.length) return '<h3>' + title + '</h3><p class="hint">none</p>';
    var s = '<h3>' + title + '</h3><table class="nb"><thead><tr><th>function</th><th>calls</th><th>' + what +
      '</th></tr></thead><tbody>';
    list.slice(0, 50).forEach(function (r) {
      s += '<tr data-func="' + r.func + '"><td>' + (r.func < 0 ? '<i>(thread start)</i>' : esc(hone.name(P, r.func)) +
        ' <span class="loc">' + esc(hone.where(P, r.func)) + '</span>') + '</td><td>' + hone.fmtCount(r.calls) +
        '</td><td>' + hone.fmtTime(r.time) + '</td></tr>';
    });
    return s + '</tbody></table>' + (list.length > 50 ? '<p class="hint">and ' + (list.length - 50) + ' more</p>' : '');
  }
  $('details').addEventListener('click', function (e) {
    var tr = e.target.closest('tr[data-func]');
    if (tr && +tr.getAttribute('data-func') >= 0) select(+tr.getAttribute('data-func'), true);
  });

  /* ---- the diff's path table ------------------------------------------------------------- */
  function pathsTable(ka, kb) {
    var selfA = new Map(), i, list = [];
    for (i = 1; i < TA.n; i++) selfA.set(ka[i], i);
    var seen = new Set();
    for (i = 1; i < T.n; i++) {
      var j = selfA.get(kb[i]);
      seen.add(kb[i]);
      list.push({path: kb[i], a: j === undefined ? 0 : TA.self[j], b: T.self[i]});
    }
    for (i = 1; i < TA.n; i++) if (!seen.has(ka[i])) list.push({path: ka[i], a: TA.self[i], b: 0});
    list.sort(function (x, y) { return Math.abs(y.b - y.a) - Math.abs(x.b - x.a); });
    $('paths').tHead.innerHTML = '<tr><th>own time A</th><th>own time B</th><th>\u0394</th><th class="fn">call path</th></tr>';
    $('paths').tBodies[0].innerHTML = list.slice(0, 30).map(function (r) {
      var names = r.path.split('\n').slice(1).map(function (k) { return esc(k.split('\u0000')[0]); });
      return '<tr><td>' + hone.fmtTime(r.a) + '</td><td>' + hone.fmtTime(r.b) + '</td><td>' + signed(r.b - r.a) +
        '</td><td class="fn">' + names.join(' \u203a ') + (r.a === 0 ? ' <i>(new)</i>' : r.b === 0 ? ' <i>(gone)</i>' : '') + '</td></tr>';
    }).join('');
    $('paths-box').hidden = false;
  }

  /* ---- controls -------------------------------------------------------------------------- */
  function signed(x) {
    return '<span class="' + (x > 0 ? 'pos' : x < 0 ? 'neg' : '') + '">' + (x > 0 ? '+' : '') + hone.fmtTime(x) + '</span>';
  }
  function signedCount(x) {
    return '<span class="' + (x > 0 ? 'pos' : x < 0 ? 'neg' : '') + '">' + (x > 0 ? '+' : x < 0 ? '\u2212' : '') +
      hone.fmtCount(Math.abs(x)) + '</span>';
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c];
    });
  }
  function all() { rebuild(); sortRows(); drawHead(); drawTable(); if (st.sel >= 0) select(st.sel, false); else drawIcicle(); }

  var sel = $('thread');
  sel.innerHTML = '<option value="-1">all threads (merged)</option>' + P.threads.tid.map(function (tid, i) {
    var nm = P.threads.name[i];
    return '<option value="' + i + '">' + esc((nm ? nm + ' ' : '') + 'tid ' + tid) + '</option>';
  }).join('');
  sel.disabled = diff;
  sel.addEventListener('change', function () { st.thread = +sel.value; all(); });
  var timer = 0;
  $('filter').addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { st.filter = $('filter').value.trim(); all(); }, 150);
  });
  $('search').addEventListener('input', function () {
    var v = $('search').value;
    try { st.search = v ? new RegExp(v) : null; } catch (err) { st.search = null; }
    drawIcicle();
  });
  $('reset').addEventListener('click', function () { st.zoom = 0; drawIcicle(); });
  window.addEventListener('resize', function () { drawIcicle(); });

  var title = doc.title || 'hone view';
  $('title').textContent = diff ? 'hone view --diff: ' + PA.name + ' \u2192 ' + P.name : title;
  document.title = $('title').textContent;
  var calls = 0, i;
  for (i = 0; i < P.n; i++) calls += P.calls[i];
  $('summary').textContent = hone.fmtCount(calls) + ' function calls, ' + hone.fmtCount(P.nfuncs) +
    ' functions, ' + hone.fmtCount(P.n) + ' call paths, ' + P.threads.tid.length + ' thread' +
    (P.threads.tid.length === 1 ? '' : 's') + '; ' + hone.fmtTime(P.total_seconds) + ' recorded' +
    (doc.note ? ' \u2014 ' + doc.note : '') + (diff ? ' (B); A: ' + PA.name : '');
  all();
  window.honeView = {
    state: function () { return {zoom: st.zoom, sel: st.sel, frames: box.childNodes.length, rows: rows.length}; },
    setFilter: function (s) { $('filter').value = s; st.filter = s; all(); },
    setThread: function (t) { sel.value = t; st.thread = t; all(); },
    select: select, tree: function () { return T; }
  };
  document.body.setAttribute('data-ready', (performance.now() - t0).toFixed(1));
})();
