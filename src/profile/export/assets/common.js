/* common.js: the part of hone's viewers shared by the flame graph (flame.js, inside an SVG) and
 * the HTML report (view.js). It reads the embedded profile (schema "hone-view", documented in
 * docs/view-data.md), merges calling-context trees (across threads, hiding frames filtered out)
 * and derives pstats' per-function figures. No network, no dependency: inlined by libhone. */
'use strict';
var hone = (function () {
  /* The embedded JSON document. */
  function load(id) {
    var doc = JSON.parse(document.getElementById(id).textContent);
    if (doc.schema !== 'hone-view' || doc.version !== 1)
      throw new Error('hone: unknown data schema ' + doc.schema + ' version ' + doc.version);
    return doc;
  }

  /* One profile's columnar arrays as typed arrays, plus the children of every node (CSR). */
  function prep(p) {
    var nd = p.nodes, n = nd.func.length, i;
    var P = {
      name: p.name, total_seconds: p.total_seconds, funcs: p.funcs, threads: p.threads, n: n,
      func: Int32Array.from(nd.func), parent: Int32Array.from(nd.parent),
      thread: Int32Array.from(nd.thread), calls: Float64Array.from(nd.calls),
      self: Float64Array.from(nd.self), total: Float64Array.from(nd.total),
      unsure: nd.unsure ? Uint8Array.from(nd.unsure) : new Uint8Array(n)
    };
    for (i = 0; i < n; i++)
      if (P.parent[i] >= i) throw new Error('hone: node ' + i + ' does not follow its parent');
    P.nfuncs = p.funcs.name.length;
    /* primitive[i] = 1 when no ancestor of node i runs the same function (pstats' primitive
     * call; cumulative time counts only those, so recursion is never counted twice). */
    var kids = csr(P.parent, n);
    P.kidStart = kids.start;
    P.kidList = kids.list;
    P.primitive = new Uint8Array(n);
    var active = new Int32Array(P.nfuncs), stack = [], it = [];
    for (i = 0; i < n; i++) {
      if (P.parent[i] >= 0) continue;
      stack.push(i); it.push(-1);
      while (stack.length) {
        var top = stack.length - 1, v = stack[top];
        if (it[top] < 0) {
          P.primitive[v] = active[P.func[v]] === 0 ? 1 : 0;
          active[P.func[v]]++;
          it[top] = P.kidStart[v];
        }
        if (it[top] < P.kidStart[v + 1]) {
          stack.push(P.kidList[it[top]++]); it.push(-1);
        } else {
          active[P.func[v]]--;
          stack.pop(); it.pop();
        }
      }
    }
    return P;
  }

  function csr(parent, n) {
    var start = new Int32Array(n + 2), list = new Int32Array(n), i;
    for (i = 0; i < n; i++) if (parent[i] >= 0) start[parent[i] + 2]++;
    for (i = 0; i < n; i++) start[i + 2] += start[i + 1];
    for (i = 0; i < n; i++) if (parent[i] >= 0) list[start[parent[i] + 1]++] = i;
    return {start: start.subarray(0, n + 1), list: list};
  }

  /* A merged tree: the nodes of the selected thread (thread < 0: all of them) with the same
   * function under the same merged parent added up; frames whose function fails keep(f) are
   * hidden: their own time goes to the nearest shown ancestor, their children move up to it.
   * Node 0 is the root ("all"). Children are sorted by total time, largest first. */
  function merge(P, thread, keep) {
    var cap = P.n + 1;
    var T = {
      P: P, func: new Int32Array(cap), parent: new Int32Array(cap), calls: new Float64Array(cap),
      self: new Float64Array(cap), total: new Float64Array(cap), unsure: new Uint8Array(cap),
      depth: new Int32Array(cap), n: 1
    };
    T.func[0] = -1; T.parent[0] = -1;
    var map = new Int32Array(P.n), look = new Map(), nf = P.nfuncs, i;
    for (i = 0; i < P.n; i++) {
      if (thread >= 0 && P.thread[i] !== thread) { map[i] = -1; continue; }
      var pa = P.parent[i], m = pa < 0 ? 0 : map[pa], f = P.func[i];
      if (m < 0) { map[i] = -1; continue; }
      if (pa < 0) T.total[0] += P.total[i];
      if (keep && !keep(f)) {
        map[i] = m;
        T.self[m] += P.self[i];
        continue;
      }
      var key = m * nf + f, c = look.get(key);
      if (c === undefined) {
        c = T.n++;
        look.set(key, c);
        T.func[c] = f; T.parent[c] = m; T.depth[c] = T.depth[m] + 1;
      }
      map[i] = c;
      T.calls[c] += P.calls[i]; T.self[c] += P.self[i]; T.total[c] += P.total[i];
      T.unsure[c] |= P.unsure[i];
    }
    var kids = csr(T.parent, T.n);
    T.kidStart = kids.start; T.kidList = kids.list;
    for (i = 0; i < T.n; i++) {
      var s = T.kidStart[i], e = T.kidStart[i + 1];
      if (e - s > 1) {
        var sub = Array.from(T.kidList.subarray(s, e));
        sub.sort(function (a, b) { return T.total[b] - T.total[a] || a - b; });
        T.kidList.set(sub, s);
      }
    }
    T.maxDepth = 0;
    for (i = 0; i < T.n; i++) if (T.depth[i] > T.maxDepth) T.maxDepth = T.depth[i];
    return T;
  }

  /* pstats' figures per function over the selected thread: ncalls, primitive calls, tottime
   * (own time) and cumtime (with the children, recursive frames counted once). */
  function stats(P, thread) {
    var nf = P.nfuncs, S = {nc: new Float64Array(nf), cc: new Float64Array(nf),
      tt: new Float64Array(nf), ct: new Float64Array(nf), unsure: new Uint8Array(nf)}, i;
    for (i = 0; i < P.n; i++) {
      if (thread >= 0 && P.thread[i] !== thread) continue;
      var f = P.func[i];
      S.nc[f] += P.calls[i];
      S.tt[f] += P.self[i];
      S.unsure[f] |= P.unsure[i];
      if (P.primitive[i]) { S.cc[f] += P.calls[i]; S.ct[f] += P.total[i]; }
    }
    return S;
  }

  /* Callers (by = 'callers') or callees of function f: [{func, calls, time}] where time is the
   * callee side's inclusive time along those paths (func -1 = the thread's start). */
  function neighbours(P, thread, f, by) {
    var acc = new Map(), i;
    for (i = 0; i < P.n; i++) {
      if (thread >= 0 && P.thread[i] !== thread) continue;
      var pa = P.parent[i], g;
      if (by === 'callers') {
        if (P.func[i] !== f) continue;
        g = pa < 0 ? -1 : P.func[pa];
      } else {
        if (pa < 0 || P.func[pa] !== f) continue;
        g = P.func[i];
      }
      var a = acc.get(g);
      if (!a) acc.set(g, a = {func: g, calls: 0, time: 0});
      a.calls += P.calls[i];
      if (P.primitive[i] || by === 'callers') a.time += P.total[i];
    }
    return Array.from(acc.values()).sort(function (x, y) { return y.time - x.time; });
  }

  function fmtTime(s) {
    if (s === 0) return '0 s';
    var a = Math.abs(s);
    if (a >= 1) return s.toFixed(3) + ' s';
    if (a >= 1e-3) return (s * 1e3).toFixed(3) + ' ms';
    if (a >= 1e-6) return (s * 1e6).toFixed(3) + ' \u00b5s';
    return (s * 1e9).toFixed(1) + ' ns';
  }
  function fmtPct(x) { return (100 * x).toFixed(x < 0.001 ? 3 : 2) + '%'; }
  function fmtCount(x) { return String(Math.round(x)).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }

  function where(P, f) {
    if (f < 0) return '';
    var file = P.funcs.file[f], line = P.funcs.line[f];
    if (!file) return P.funcs.object[f] || '';
    return line ? file + ':' + line : file;
  }
  function name(P, f) { return f < 0 ? 'all' : P.funcs.name[f]; }

  /* A warm colour per function name, stable across renders (flamegraph's palette). */
  function colour(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    h >>>= 0;
    var r = 205 + (h % 50), g = 90 + ((h >>> 8) % 130), b = 40 + ((h >>> 16) % 50);
    return 'rgb(' + r + ',' + g + ',' + b + ')';
  }

  return {load: load, prep: prep, merge: merge, stats: stats, neighbours: neighbours,
    fmtTime: fmtTime, fmtPct: fmtPct, fmtCount: fmtCount, where: where, name: name,
    colour: colour};
})();
