/* flame.js: draws the interactive flame graph of an SVG written by `hone flame` (svg.c) from the
 * profile embedded in it (common.js). Hover: function, file:line, calls, time and share, in a
 * tooltip and on the details line. Click: zoom to the frame (click the root or "Reset zoom" to
 * zoom out). Search (the "Search" button, Ctrl-F or "/"): frames whose name matches a regular
 * expression turn magenta and the matched share is shown. Everything is drawn here, offline. */
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  var svg = document.documentElement;
  var doc = hone.load('hone-data');
  var P = hone.prep(doc.profiles[0]);
  var T = hone.merge(P, -1, null);
  var icicle = !!doc.options.reverse;
  var W = +svg.getAttribute('width'), FH = 17, TOP = 48, BOTTOM = 30, MINW = 0.3;
  var frames = document.getElementById('frames');
  var details = document.getElementById('details').firstChild;
  var matchedText = document.getElementById('matched').firstChild;
  var zoom = 0, query = null;

  function el(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function label(i) {
    var f = T.func[i], share = T.total[0] > 0 ? T.total[i] / T.total[0] : 0;
    var s = hone.name(P, f);
    var w = hone.where(P, f);
    if (w) s += ' (' + w + ')';
    if (i > 0) s += ' \u2014 ' + hone.fmtCount(T.calls[i]) + (T.calls[i] === 1 ? ' call' : ' calls');
    s += ', ' + hone.fmtTime(T.total[i]) + ', ' + hone.fmtPct(share);
    if (i > 0) s += ', self ' + hone.fmtTime(T.self[i]);
    if (T.unsure[i]) s += ' (estimate unsure)';
    return s;
  }
  function matches(i) { return query && i > 0 && query.test(hone.name(P, T.func[i])); }

  /* Visible frames: the zoomed node's ancestors at full width, its subtree scaled to it. */
  function render() {
    while (frames.firstChild) frames.removeChild(frames.firstChild);
    var chain = [], a, i;
    for (a = zoom; a >= 0; a = T.parent[a]) chain.push(a);
    var scale = T.total[zoom] > 0 ? (W - 20) / T.total[zoom] : 0;
    var depthMax = T.depth[zoom], list = [];
    for (i = chain.length - 1; i >= 1; i--) list.push([chain[i], 10, W - 20]);
    var stack = [[zoom, 10]];
    while (stack.length) {
      var it = stack.pop(), v = it[0], x = it[1], w = T.total[v] * scale;
      if (w < MINW && v !== zoom) continue;
      list.push([v, x, w]);
      if (T.depth[v] > depthMax) depthMax = T.depth[v];
      var cx = x;
      for (var k = T.kidStart[v]; k < T.kidStart[v + 1]; k++) {
        var c = T.kidList[k];
        stack.push([c, cx]);
        cx += T.total[c] * scale;
      }
    }
    var H = TOP + (depthMax + 1) * FH + BOTTOM;
    svg.setAttribute('height', H);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    document.getElementById('background').setAttribute('height', H);
    document.getElementById('details').setAttribute('y', H - 10);
    var frag = document.createDocumentFragment(), matched = 0;
    for (i = 0; i < list.length; i++) {
      v = list[i][0]; x = list[i][1]; w = list[i][2];
      var d = T.depth[v];
      var y = icicle ? TOP + d * FH : TOP + (depthMax - d) * FH;
      var nm = hone.name(P, T.func[v]);
      var g = el('g', {'class': 'frame', 'data-node': v, 'data-name': nm});
      var t = el('title', {});
      t.textContent = label(v);
      g.appendChild(t);
      var fill = matches(v) ? 'rgb(230,0,230)' : v === 0 ? 'rgb(200,200,205)' : hone.colour(nm);
      var r = el('rect', {x: x.toFixed(2), y: y, width: Math.max(w - 0.5, 0.1).toFixed(2),
        height: FH - 1, fill: fill, rx: 2});
      if (T.depth[v] < T.depth[zoom]) r.setAttribute('fill-opacity', '0.5');
      g.appendChild(r);
      if (w > 30) {
        var tx = el('text', {x: (x + 3).toFixed(2), y: y + FH - 5});
        var fit = Math.floor((w - 6) / 7);
        tx.textContent = nm.length <= fit ? nm : nm.slice(0, Math.max(fit - 2, 0)) + '..';
        g.appendChild(tx);
      }
      frag.appendChild(g);
    }
    frames.appendChild(frag);
    if (query) {
      /* The share of matched time, counting a match under another match once. */
      var on = new Uint8Array(T.n);
      for (i = 1; i < T.n; i++) {
        on[i] = on[T.parent[i]] || matches(i) ? 1 : 0;
        if (on[i] && !on[T.parent[i]]) matched += T.total[i];
      }
      matchedText.nodeValue = 'Matched: ' + hone.fmtPct(T.total[0] > 0 ? matched / T.total[0] : 0);
    } else {
      matchedText.nodeValue = '';
    }
    document.getElementById('unzoom').style.display = zoom ? '' : 'none';
    svg.setAttribute('data-zoom', zoom);
  }

  frames.addEventListener('click', function (e) {
    var g = e.target.closest('g.frame');
    if (!g) return;
    var v = +g.getAttribute('data-node');
    zoom = v === zoom ? T.parent[v] < 0 ? 0 : T.parent[v] : v;
    render();
  });
  frames.addEventListener('mouseover', function (e) {
    var g = e.target.closest('g.frame');
    if (g) details.nodeValue = label(+g.getAttribute('data-node'));
  });
  frames.addEventListener('mouseout', function () { details.nodeValue = ' '; });
  document.getElementById('unzoom').addEventListener('click', function () { zoom = 0; render(); });

  function search(re) {
    if (re === null || re === undefined || re === '') query = null;
    else {
      try { query = new RegExp(re); } catch (err) { query = null; }
    }
    document.getElementById('search').firstChild.nodeValue = query ? 'Reset search' : 'Search';
    render();
  }
  document.getElementById('search').addEventListener('click', function () {
    search(query ? null : window.prompt('Search for (regular expression):', ''));
  });
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey && e.key === 'f') || e.key === '/') {
      e.preventDefault();
      search(window.prompt('Search for (regular expression):', ''));
    }
  });

  var fallback = document.getElementById('noscript');
  if (fallback) fallback.parentNode.removeChild(fallback);
  window.honeFlame = {
    zoom: function (v) { zoom = v; render(); }, search: search, tree: T,
    state: function () { return {zoom: zoom, frames: frames.childNodes.length}; }
  };
  render();
  svg.setAttribute('data-ready', '1');
})();
