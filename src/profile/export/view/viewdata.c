/* viewdata.c: the profile data of the viewers, the "hone-view" JSON document (docs/view-data.md):
 * per profile a function table, a thread table and the calling-context tree as columns (one
 * array per field), so that the size follows the number of distinct call paths, never the
 * number of calls, and the page parses it in one JSON.parse. */
#include "viewdata.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* JSON text of s, safe inside <script> and CDATA: the markup characters as \u escapes. */
static void jstr(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
    switch (*c) {
    case '"':
      fputs("\\\"", out);
      break;
    case '\\':
      fputs("\\\\", out);
      break;
    case '\n':
      fputs("\\n", out);
      break;
    case '\t':
      fputs("\\t", out);
      break;
    case '<':
    case '>':
    case '&':
      fprintf(out, "\\u%04x", *c);
      break;
    default:
      if (*c < 0x20)
        fprintf(out, "\\u%04x", *c);
      else
        fputc(*c, out);
    }
  }
  fputc('"', out);
}

void hone__view_write_xml_text(FILE *out, const char *s) {
  for (const char *c = s ? s : ""; *c; c++) {
    switch (*c) {
    case '<':
      fputs("&lt;", out);
      break;
    case '>':
      fputs("&gt;", out);
      break;
    case '&':
      fputs("&amp;", out);
      break;
    case '"':
      fputs("&quot;", out);
      break;
    default:
      fputc(*c, out);
    }
  }
}

/* Seconds to six significant digits: finer than any figure the pages show (they print at most
 * six), and a node costs a few bytes less than at full precision. */
static void num(FILE *out, double v) {
  if (v == 0 || !(v == v))
    fputc('0', out);
  else
    fprintf(out, "%.6g", v);
}

/* Does thread t belong to this profile? want_file < 0: every thread (of the section). */
static bool thread_in(const hone_report *r, uint32_t t, long want_file, uint32_t sec_thread) {
  if (sec_thread != HONE_REPORT_NO_PARENT && t != sec_thread) return false;
  if (want_file < 0) return true;
  const hone_report_thread *th = hone_report_thread_info(r, t);
  return th && (long)th->file == want_file;
}

/* One profile: the nodes whose thread passes thread_in, renumbered from 0. */
static int write_profile(const hone_report *r, long want_file, uint32_t sec_thread, FILE *out) {
  size_t n, nth = hone_report_thread_count(r), nf = hone_report_func_count(r);
  const hone_report_node *nodes = hone_report_nodes(r, &n);
  uint32_t *map = malloc((n ? n : 1) * sizeof *map);
  uint32_t *tmap = malloc((nth ? nth : 1) * sizeof *tmap);
  if (!map || !tmap) {
    free(map);
    free(tmap);
    return HONE_ENOMEM;
  }
  const hone_report_file *file = hone_report_file_info(r, want_file < 0 ? 0 : (size_t)want_file);
  double total = 0;
  if (want_file >= 0 && file && file->info && file->info->ticks_per_second > 0) {
    total = (double)file->info->total_ticks / file->info->ticks_per_second;
  } else {
    for (size_t i = 0; i < hone_report_file_count(r); i++) {
      const hone_report_file *fi = hone_report_file_info(r, i);
      if (fi && fi->info && fi->info->ticks_per_second > 0)
        total += (double)fi->info->total_ticks / fi->info->ticks_per_second;
    }
  }
  fputs("{\"name\":", out);
  if (want_file < 0 && hone_report_file_count(r) > 1) {
    char buf[64];
    snprintf(buf, sizeof buf, "%zu files", hone_report_file_count(r));
    jstr(out, buf);
  } else {
    jstr(out, file ? file->label : "");
  }
  fputs(",\"total_seconds\":", out);
  num(out, total);

  fputs(",\n\"funcs\":{\"name\":[", out);
  for (size_t i = 0; i < nf; i++) {
    if (i) fputc(',', out);
    jstr(out, hone_report_func_info(r, (uint32_t)i)->name);
  }
  fputs("],\n\"file\":[", out);
  for (size_t i = 0; i < nf; i++) {
    const hone_report_func *f = hone_report_func_info(r, (uint32_t)i);
    if (i) fputc(',', out);
    jstr(out, strcmp(f->file, "~") == 0 ? "" : f->file);
  }
  fputs("],\n\"line\":[", out);
  for (size_t i = 0; i < nf; i++)
    fprintf(out, "%s%u", i ? "," : "", hone_report_func_info(r, (uint32_t)i)->line);
  fputs("],\n\"object\":[", out);
  for (size_t i = 0; i < nf; i++) {
    if (i) fputc(',', out);
    jstr(out, hone_report_func_info(r, (uint32_t)i)->object);
  }

  fputs("]},\n\"threads\":{\"tid\":[", out);
  uint32_t nt = 0;
  for (size_t t = 0; t < nth; t++) {
    tmap[t] = UINT32_MAX;
    if (!thread_in(r, (uint32_t)t, want_file, sec_thread)) continue;
    tmap[t] = nt;
    fprintf(out, "%s%" PRIu64, nt++ ? "," : "", hone_report_thread_info(r, t)->tid);
  }
  fputs("],\"name\":[", out);
  for (size_t t = 0, k = 0; t < nth; t++) {
    if (tmap[t] == UINT32_MAX) continue;
    if (k++) fputc(',', out);
    jstr(out, hone_report_thread_info(r, t)->name);
  }
  fputs("]},\n\"nodes\":{", out);

  uint32_t m = 0;
  for (size_t i = 0; i < n; i++)
    map[i] = nodes[i].thread < nth && tmap[nodes[i].thread] != UINT32_MAX ? m++ : UINT32_MAX;
  static const char *const cols[] = {"func", "parent", "thread", "calls",
                                     "self", "total",  "unsure"};
  for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
    fprintf(out, "%s\"%s\":[", c ? "],\n" : "", cols[c]);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
      if (map[i] == UINT32_MAX) continue;
      const hone_report_node *d = &nodes[i];
      if (!first) fputc(',', out);
      first = false;
      switch (c) {
      case 0:
        fprintf(out, "%" PRIu32, d->func);
        break;
      case 1:
        if (d->parent == HONE_REPORT_NO_PARENT || map[d->parent] == UINT32_MAX)
          fputs("-1", out);
        else
          fprintf(out, "%" PRIu32, map[d->parent]);
        break;
      case 2:
        fprintf(out, "%" PRIu32, tmap[d->thread]);
        break;
      case 3:
        fprintf(out, "%" PRIu64, d->calls);
        break;
      case 4:
        num(out, d->self_s);
        break;
      case 5:
        num(out, d->total_s);
        break;
      default:
        fputc(d->flags & HONE_REPORT_NODE_UNSURE ? '1' : '0', out);
      }
    }
  }
  fputs("]}}", out);
  free(map);
  free(tmap);
  return 0;
}

int hone__view_write_data(const hone_report *r, const hone__view_spec *spec,
                          const hone_export_options *o, FILE *out, char *errbuf, size_t errlen) {
  const hone_report_section *s = hone_report_section_info(r, spec->section);
  if (!s) return HONE_EINVAL;
  if (spec->diff && hone_report_file_count(r) != 2) {
    if (errbuf && errlen)
      snprintf(errbuf, errlen, "a diff needs a report of exactly two files (A, B), not %zu",
               hone_report_file_count(r));
    return HONE_EINVAL;
  }
  fputs("{\"schema\":\"hone-view\",\"version\":1,\"title\":", out);
  const hone_report_file *f0 = hone_report_file_info(r, 0);
  jstr(out, o && o->title ? o->title : f0 ? f0->label : "");
  fputs(",\"note\":", out);
  const hone_prof_info *in0 = f0 ? f0->info : NULL;
  if (strcmp(hone_report_estimate(r), "plain") == 0) {
    jstr(out, "times from a sampled run of the plain build (a time of k samples is uncertain by"
              " about 2*sqrt(k)); counts from the instrumented run");
  } else if (in0 && in0->times && strncmp(in0->times, "sampled", 7) == 0 &&
             in0->sample_period_s > 0) {
    /* Times from samples: say so, and how coarse they are (one sample is one period). */
    char note[320];
    int len = snprintf(note, sizeof note,
                       "times sampled, one sample per %.0f us of CPU time (a time of k samples is"
                       " uncertain by about 2*sqrt(k)); counts exact",
                       in0->sample_period_s * 1e6);
    double per_call;
    if (hone_report_times_unreliable(r, &per_call) && len > 0 && (size_t)len < sizeof note)
      snprintf(note + len, sizeof note - (size_t)len,
               "; unreliable: %.1f ns of program time per call (below 10 ns the"
               " instrumentation's calls to the hooks, sampled as the program's, distort the"
               " times)",
               per_call);
    jstr(out, note);
  } else if (f0 && f0->cost_ns_per_call > 0) {
    char note[96];
    snprintf(note, sizeof note, "times exclude the profiler's cost, %.1f ns per call",
             f0->cost_ns_per_call);
    jstr(out, note);
  } else {
    jstr(out, "");
  }
  fputs(",\"options\":", out);
  fputs(spec->options_json ? spec->options_json : "{}", out);
  fputs(",\n\"profiles\":[", out);
  int rc;
  if (spec->diff) {
    rc = write_profile(r, 0, HONE_REPORT_NO_PARENT, out);
    if (!rc) {
      fputs(",\n", out);
      rc = write_profile(r, 1, HONE_REPORT_NO_PARENT, out);
    }
  } else {
    rc = write_profile(r, hone_report_file_count(r) == 1 ? 0 : -1, s->thread, out);
  }
  fputs("]}\n", out);
  return rc;
}
