/* speedscope.c: the "speedscope" export — speedscope's own JSON file format
 * (https://www.speedscope.app/file-format-schema.json, named in the file's "$schema"): the
 * report's functions as shared frames (name, file, line), and one evented profile per thread
 * whose open/close events lay the calling-context tree out on a time line (layout.c): a node's
 * children one after the other from its start, its own time after them. So speedscope's
 * "Left Heavy" and "Sandwich" views show the report's figures; the "Time Order" view is that
 * layout, not the order the calls happened in (the profiler keeps no trace). Unit: nanoseconds
 * of estimated time, or with weight=calls unit "none" and a node's calls plus its descendants'.
 * The file is proportional to the tree (two events per node). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../report/jsonw.h"
#include "writer.h"

#define SCHEMA "https://www.speedscope.app/file-format-schema.json"

/* One walk writes every thread's profile: a thread's nodes are contiguous, so its events are
 * too; a profile is opened at its thread's first node and closed (with its endValue, the end of
 * its last root) when the next thread starts or the walk ends. */
typedef struct sink {
  hone__jw *w;
  double scale; /* seconds (or calls) to the profile's unit */
  bool calls;
  uint32_t thread; /* of the open profile, UINT32_MAX: none */
  double end;
  double last; /* the last event's time: events never go back, even by a rounding */
} sink;

static void close_profile(sink *k) {
  if (k->thread == UINT32_MAX) return;
  hone__jw_end(k->w); /* events */
  hone__jw_key(k->w, "endValue");
  hone__jw_num(k->w, k->end * k->scale);
  hone__jw_end(k->w);
  k->thread = UINT32_MAX;
}

static void open_profile(sink *k, const hone_report *r, uint32_t t) {
  const hone_report_thread *th = hone_report_thread_info(r, t);
  char name[512];
  snprintf(name, sizeof name, "%s thread %" PRIu64 "%s%s%s",
           hone_report_file_info(r, th->file)->label, th->tid, th->name[0] ? " (" : "", th->name,
           th->name[0] ? ")" : "");
  hone__jw_object(k->w);
  hone__jw_key(k->w, "type");
  hone__jw_str(k->w, "evented");
  hone__jw_key(k->w, "name");
  hone__jw_str(k->w, name);
  hone__jw_key(k->w, "unit");
  hone__jw_str(k->w, k->calls ? "none" : "nanoseconds");
  hone__jw_key(k->w, "startValue");
  hone__jw_u64(k->w, 0);
  hone__jw_key(k->w, "events");
  hone__jw_array(k->w);
  k->thread = t;
  k->end = 0;
  k->last = 0;
}

static void event(sink *k, const hone_report_node *nd, const char *type, double at) {
  if (at < k->last) at = k->last;
  k->last = at;
  hone__jw_object(k->w);
  hone__jw_key(k->w, "type");
  hone__jw_str(k->w, type);
  hone__jw_key(k->w, "frame");
  hone__jw_u64(k->w, nd->func);
  hone__jw_key(k->w, "at");
  hone__jw_num(k->w, at * k->scale);
  hone__jw_end(k->w);
}

static int enter(void *ctx, const hone_report *r, uint32_t node, double at, double len) {
  sink *k = ctx;
  size_t n;
  const hone_report_node *nd = &hone_report_nodes(r, &n)[node];
  if (nd->thread != k->thread) {
    close_profile(k);
    open_profile(k, r, nd->thread);
  }
  if (nd->parent == HONE_REPORT_NO_PARENT && at + len > k->end) k->end = at + len;
  event(k, nd, "O", at);
  return 0;
}

static int leave(void *ctx, const hone_report *r, uint32_t node, double at, double len) {
  size_t n;
  event(ctx, &hone_report_nodes(r, &n)[node], "C", at + len);
  return 0;
}

int hone__export_speedscope(const hone_report *r, size_t section, const hone_export_options *o,
                            FILE *out, char *errbuf, size_t errlen) {
  (void)errbuf;
  (void)errlen;
  bool calls = o->weight == HONE_EXPORT_WEIGHT_CALLS;
  hone__jw w;
  hone__jw_init(&w, out, false);
  hone__jw_object(&w);
  hone__jw_key(&w, "$schema");
  hone__jw_str(&w, SCHEMA);
  char exporter[64];
  snprintf(exporter, sizeof exporter, "hone %s", hone_version());
  hone__jw_key(&w, "exporter");
  hone__jw_str(&w, exporter);
  const hone_report_file *f0 = hone_report_file_info(r, 0);
  hone__jw_key(&w, "name");
  hone__jw_str(&w, o->title ? o->title : f0 ? f0->label : "hone profile");
  hone__jw_key(&w, "activeProfileIndex");
  hone__jw_u64(&w, 0);
  hone__jw_key(&w, "shared");
  hone__jw_object(&w);
  hone__jw_key(&w, "frames");
  hone__jw_array(&w);
  for (uint32_t i = 0; i < hone_report_func_count(r); i++) {
    const hone_report_func *f = hone_report_func_info(r, i);
    hone__jw_object(&w);
    hone__jw_key(&w, "name");
    hone__jw_str(&w, f->name);
    if (strcmp(f->file, "~") != 0) {
      hone__jw_key(&w, "file");
      hone__jw_str(&w, f->file);
    }
    if (f->line) {
      hone__jw_key(&w, "line");
      hone__jw_u64(&w, f->line);
    }
    hone__jw_end(&w);
  }
  hone__jw_end(&w);
  hone__jw_end(&w);
  hone__jw_key(&w, "profiles");
  hone__jw_array(&w);
  sink k = {.w = &w, .scale = calls ? 1.0 : 1e9, .calls = calls, .thread = UINT32_MAX};
  hone__export_visit v = {enter, leave};
  int rc = hone__export_walk(r, section, o->weight, &v, &k);
  close_profile(&k);
  hone__jw_end(&w);
  hone__jw_end(&w);
  fputc('\n', out);
  return rc;
}
