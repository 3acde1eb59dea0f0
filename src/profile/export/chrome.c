/* chrome.c: the "chrome" export — the Trace Event Format's JSON object form, which Perfetto
 * (ui.perfetto.dev) and chrome://tracing open: one complete event ("ph": "X") per node of the
 * calling-context tree, laid out on each thread's time line as layout.c does (children one after
 * the other from the node's start, its own time after them; the profiler keeps no trace, so the
 * order is not the order of the calls), with the node's calls, own time and source position in
 * "args"; metadata events name the processes and threads. Timestamps and durations are in
 * microseconds, as the format defines them. "otherData" names this writer's version:
 * {"format": "hone chrome", "version": 1}. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../report/jsonw.h"
#include "writer.h"

typedef struct sink {
  hone__jw *w;
  double scale; /* seconds (or calls) to microseconds */
} sink;

static int enter(void *ctx, const hone_report *r, uint32_t node, double at, double len) {
  sink *k = ctx;
  size_t n;
  const hone_report_node *nd = &hone_report_nodes(r, &n)[node];
  const hone_report_thread *th = hone_report_thread_info(r, nd->thread);
  const hone_report_func *f = hone_report_func_info(r, nd->func);
  hone__jw *w = k->w;
  hone__jw_object(w);
  hone__jw_key(w, "name");
  hone__jw_str(w, f->name);
  hone__jw_key(w, "cat");
  hone__jw_str(w, "function");
  hone__jw_key(w, "ph");
  hone__jw_str(w, "X");
  hone__jw_key(w, "ts");
  hone__jw_num(w, at * k->scale);
  hone__jw_key(w, "dur");
  hone__jw_num(w, len * k->scale);
  hone__jw_key(w, "pid");
  hone__jw_u64(w, hone_report_file_info(r, th->file)->info->pid);
  hone__jw_key(w, "tid");
  hone__jw_u64(w, th->tid);
  hone__jw_key(w, "args");
  hone__jw_object(w);
  hone__jw_key(w, "calls");
  hone__jw_u64(w, nd->calls);
  hone__jw_key(w, "self_s");
  hone__jw_num(w, nd->self_s);
  hone__jw_key(w, "total_s");
  hone__jw_num(w, nd->total_s);
  hone__jw_key(w, "function");
  hone__jw_str(w, f->std);
  hone__jw_end(w);
  hone__jw_end(w);
  return 0;
}

static void meta(hone__jw *w, const char *what, uint64_t pid, uint64_t tid, const char *name) {
  hone__jw_object(w);
  hone__jw_key(w, "name");
  hone__jw_str(w, what);
  hone__jw_key(w, "ph");
  hone__jw_str(w, "M");
  hone__jw_key(w, "pid");
  hone__jw_u64(w, pid);
  hone__jw_key(w, "tid");
  hone__jw_u64(w, tid);
  hone__jw_key(w, "args");
  hone__jw_object(w);
  hone__jw_key(w, "name");
  hone__jw_str(w, name);
  hone__jw_end(w);
  hone__jw_end(w);
}

int hone__export_chrome(const hone_report *r, size_t section, const hone_export_options *o,
                        FILE *out, char *errbuf, size_t errlen) {
  (void)errbuf;
  (void)errlen;
  hone__jw w;
  hone__jw_init(&w, out, false);
  hone__jw_object(&w);
  hone__jw_key(&w, "otherData");
  hone__jw_object(&w);
  hone__jw_key(&w, "format");
  hone__jw_str(&w, "hone chrome");
  hone__jw_key(&w, "version");
  hone__jw_u64(&w, 1);
  hone__jw_key(&w, "weight");
  hone__jw_str(&w, o->weight == HONE_EXPORT_WEIGHT_CALLS ? "calls" : "time");
  hone__jw_end(&w);
  hone__jw_key(&w, "displayTimeUnit");
  hone__jw_str(&w, "ns");
  hone__jw_key(&w, "traceEvents");
  hone__jw_array(&w);
  for (size_t i = 0; i < hone_report_file_count(r); i++) {
    const hone_report_file *f = hone_report_file_info(r, i);
    meta(&w, "process_name", f->info->pid, 0, f->label);
  }
  for (size_t t = 0; t < hone_report_thread_count(r); t++) {
    const hone_report_thread *th = hone_report_thread_info(r, t);
    char name[300];
    snprintf(name, sizeof name, "%s%s%" PRIu64, th->name, th->name[0] ? " " : "tid ", th->tid);
    meta(&w, "thread_name", hone_report_file_info(r, th->file)->info->pid, th->tid, name);
  }
  sink k = {&w, o->weight == HONE_EXPORT_WEIGHT_CALLS ? 1.0 : 1e6};
  hone__export_visit v = {enter, NULL};
  int rc = hone__export_walk(r, section, o->weight, &v, &k);
  hone__jw_end(&w);
  hone__jw_end(&w);
  fputc('\n', out);
  return rc;
}
