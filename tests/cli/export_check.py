#!/usr/bin/env python3
"""export_check.py: reads hone's exports with the real readers and compares them with
`hone report --json` (the figures of record). Used by tests/cli/export.sh.

  export_check.py pstats REPORT.json CALLERS.json FILE.pstats
      Python's own pstats loads the file; every function's ncalls, primitive calls, times and
      callers (with their counts) equal the report's (CALLERS.json: --json --callers .).
  export_check.py callgrind REPORT.json CALLEES.json FILE.callgrind ANNOTATE_OUTPUT
      every calls= line equals the report's edge count; callgrind_annotate's inclusive cost of
      each non-recursive function equals the report's cumtime (ns, rounding aside).
  export_check.py speedscope REPORT.json FILE.json SCHEMA.json [calls]
      the file validates against speedscope's published schema; with calls (exported with
      --weight calls) each frame's own weight adds up to the report's ncalls.
  export_check.py folded REPORT.json FILE.folded        (exported with --weight calls)
  export_check.py chrome REPORT.json FILE.json
      the paths' (events') call counts add up to the report's ncalls per function.
Exit status 0 when everything agrees; otherwise the differences on stderr, status 1."""
import json
import re
import sys
from collections import defaultdict

problems = []


def bad(msg):
    problems.append(msg)


def report_rows(path):
    doc = json.load(open(path))
    rows = doc["reports"][0]["rows"]
    return {r["name"]: r for r in rows}


def report_callers(path):
    doc = json.load(open(path))
    out = {}
    for r in doc["reports"][0]["callers"]:
        out[r["name"]] = {c["name"]: (c["ncalls"], c["primitive_calls"]) for c in r["callers"]}
    return out


def std_name(file, line, name):
    return "%s:%d(%s)" % (file, line, name)


def check_pstats(rep, rep_callers, path):
    import pstats

    st = pstats.Stats(path)
    rows = report_rows(rep)
    callers = report_callers(rep_callers)
    got = {}
    for (file, line, name), (cc, nc, tt, ct, who) in st.stats.items():
        got[std_name(file, line, name)] = (nc, cc, tt, ct, who)
    if set(got) != set(rows):
        bad("pstats functions %s != report's %s" % (sorted(got), sorted(rows)))
    for k, r in rows.items():
        if k not in got:
            continue
        nc, cc, tt, ct, who = got[k]
        if (nc, cc) != (r["ncalls"], r["primitive_calls"]):
            bad("%s: pstats ncalls %d/%d, report %d/%d" % (k, nc, cc, r["ncalls"], r["primitive_calls"]))
        if abs(tt - r["tottime"]) > 1e-12 or abs(ct - r["cumtime"]) > 1e-12:
            bad("%s: pstats times %r %r, report %r %r" % (k, tt, ct, r["tottime"], r["cumtime"]))
        mine = {std_name(*f): (v[0], v[1]) for f, v in who.items()}
        if mine != callers.get(k, {}):
            bad("%s: pstats callers %r, report %r" % (k, mine, callers.get(k)))
    if st.total_calls != sum(r["ncalls"] for r in rows.values()):
        bad("pstats total_calls %d" % st.total_calls)
    if st.prim_calls != sum(r["primitive_calls"] for r in rows.values()):
        bad("pstats prim_calls %d" % st.prim_calls)


def check_callgrind(rep, rep_callees, path, annotate):
    rows = report_rows(rep)
    doc = json.load(open(rep_callees))
    edges = {}
    for r in doc["reports"][0]["callees"]:
        for c in r["callees"]:
            edges[(r["function"], c["function"])] = c["ncalls"]
    names = {}
    fn = None
    got = {}
    lines = open(path).read().splitlines()
    if lines[:2] != ["# callgrind format", "version: 1"]:
        bad("callgrind header: %r" % lines[:2])
    for i, ln in enumerate(lines):
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", ln)
        if m:
            if m.group(3) is not None:
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn":
                fn = names[m.group(2)]
            else:
                cfn = names[m.group(2)]
            continue
        m = re.match(r"^calls=(\d+) ", ln)
        if m:
            got[(fn, cfn)] = got.get((fn, cfn), 0) + int(m.group(1))
    if got != edges:
        bad("callgrind calls %r != report's %r" % (sorted(got.items()), sorted(edges.items())))
    # callgrind_annotate --inclusive=yes --threshold=100: "  1,234 (..%)  file:function [obj]"
    incl = {}
    for ln in open(annotate):
        m = re.match(r"^\s*([\d,]+) \([ \d.]+%\)\s+\S*?:(\S+)(?: \[.*\])?$", ln)
        if m:
            incl[m.group(2)] = int(m.group(1).replace(",", ""))
    for k, r in rows.items():
        if r["ncalls"] != r["primitive_calls"]:
            continue  # recursive: callgrind's tools add the recursive calls again
        # Each figure in the file is rounded to 1 ns on its own: callgrind_annotate sums a
        # function's self cost and its calls' costs, and for a called function it takes the
        # inclusive cost from its callers' call lines (920 from 915+2+3 where the self line says
        # 921), so the error can reach half a nanosecond per edge on either side.
        nedges = sum(1 for (a, b) in edges if r["function"] in (a, b))
        want = r["cumtime"] * 1e9
        have = incl.get(r["function"])
        if have is None:
            bad("callgrind_annotate lacks %s (%r)" % (r["function"], sorted(incl)))
        elif abs(have - want) > 1 + nedges:
            bad("%s: callgrind_annotate inclusive %d ns, report cumtime %.1f ns" % (k, have, want))


def self_weights_evented(profile):
    """Per frame, the weight of its own time: open-to-close minus the children's."""
    own = defaultdict(float)
    stack = []
    for e in profile["events"]:
        if e["type"] == "O":
            stack.append([e["frame"], e["at"], 0.0])
        else:
            frame, at, kids = stack.pop()
            if frame != e["frame"]:
                bad("speedscope: close of frame %d, open is %d" % (e["frame"], frame))
            dur = e["at"] - at
            own[frame] += dur - kids
            if stack:
                stack[-1][2] += dur
    if stack:
        bad("speedscope: %d frames left open" % len(stack))
    return own


def check_speedscope(rep, path, schema, calls):
    import jsonschema

    doc = json.load(open(path))
    jsonschema.validate(doc, json.load(open(schema)))
    if doc.get("$schema") != "https://www.speedscope.app/file-format-schema.json":
        bad("speedscope $schema: %r" % doc.get("$schema"))
    if not calls:
        return
    rows = report_rows(rep)
    frames = doc["shared"]["frames"]
    total = defaultdict(float)
    for p in doc["profiles"]:
        last = 0
        for e in p["events"]:
            if e["at"] < last:
                bad("speedscope: events go back in time")
            last = e["at"]
        for f, w in self_weights_evented(p).items():
            total[f] += w
    by_name = {}
    for f, w in total.items():
        fr = frames[f]
        by_name[std_name(fr.get("file", "~"), fr.get("line", 0), fr["name"])] = round(w)
    want = {k: r["ncalls"] for k, r in rows.items()}
    if by_name != want:
        bad("speedscope call weights %r != report's %r" % (by_name, want))


def check_folded(rep, path):
    rows = report_rows(rep)
    got = defaultdict(int)
    for ln in open(path):
        stack, w = ln.rstrip("\n").rsplit(" ", 1)
        got[stack.split(";")[-1]] += int(w)
    want = {k: r["ncalls"] for k, r in rows.items()}
    if dict(got) != want:
        bad("folded call weights %r != report's %r" % (dict(got), want))


def check_chrome(rep, path):
    rows = report_rows(rep)
    doc = json.load(open(path))
    if doc.get("otherData", {}).get("format") != "hone chrome":
        bad("chrome: no otherData.format")
    got = defaultdict(int)
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            got[e["args"]["function"]] += e["args"]["calls"]
            if e["dur"] < 0 or e["ts"] < 0:
                bad("chrome: negative time in %r" % e)
    want = {k: r["ncalls"] for k, r in rows.items()}
    if dict(got) != want:
        bad("chrome calls %r != report's %r" % (dict(got), want))


def main(argv):
    kind = argv[1]
    if kind == "pstats":
        check_pstats(argv[2], argv[3], argv[4])
    elif kind == "callgrind":
        check_callgrind(argv[2], argv[3], argv[4], argv[5])
    elif kind == "speedscope":
        check_speedscope(argv[2], argv[3], argv[4], len(argv) > 5 and argv[5] == "calls")
    elif kind == "folded":
        check_folded(argv[2], argv[3])
    elif kind == "chrome":
        check_chrome(argv[2], argv[3])
    else:
        bad("unknown check %s" % kind)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
