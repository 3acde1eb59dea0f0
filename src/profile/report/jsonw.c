/* jsonw.c: the streaming JSON writer (see jsonw.h). */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void hone__jw_init(hone__jw *w, FILE *f, bool pretty) {
  memset(w, 0, sizeof *w);
  w->f = f;
  w->pretty = pretty;
}

static void newline(hone__jw *w) {
  if (!w->pretty) return;
  fputc('\n', w->f);
  for (int i = 0; i < w->depth; i++) fputs("  ", w->f);
}

/* Separator and indentation before a value or a key. */
static void before(hone__jw *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (w->depth == 0) return;
  if (w->has_items) fputc(',', w->f);
  newline(w);
  w->has_items = true;
}

static void open_container(hone__jw *w, char open, char close) {
  before(w);
  fputc(open, w->f);
  if (w->depth < HONE__JW_MAX_DEPTH) {
    w->close[w->depth] = close;
    w->items[w->depth] = w->has_items;
    w->depth++;
  }
  w->has_items = false;
}

void hone__jw_object(hone__jw *w) {
  open_container(w, '{', '}');
}

void hone__jw_array(hone__jw *w) {
  open_container(w, '[', ']');
}

void hone__jw_end(hone__jw *w) {
  if (w->depth == 0) return;
  bool had = w->has_items;
  w->depth--;
  if (had) newline(w);
  fputc(w->close[w->depth], w->f);
  w->has_items = w->items[w->depth];
  if (w->depth == 0 && w->pretty) fputc('\n', w->f);
}

void hone__jw_write_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    default:
      if (*p < 0x20)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

void hone__jw_key(hone__jw *w, const char *key) {
  before(w);
  hone__jw_write_string(w->f, key);
  fputs(w->pretty ? ": " : ":", w->f);
  w->after_key = true;
}

void hone__jw_str(hone__jw *w, const char *s) {
  before(w);
  hone__jw_write_string(w->f, s);
}

void hone__jw_u64(hone__jw *w, uint64_t v) {
  before(w);
  fprintf(w->f, "%" PRIu64, v);
}

void hone__jw_i64(hone__jw *w, int64_t v) {
  before(w);
  fprintf(w->f, "%" PRId64, v);
}

void hone__jw_num(hone__jw *w, double v) {
  before(w);
  if (!isfinite(v)) {
    fputs("null", w->f);
    return;
  }
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  fputs(buf, w->f);
}

void hone__jw_bool(hone__jw *w, bool v) {
  before(w);
  fputs(v ? "true" : "false", w->f);
}

void hone__jw_null(hone__jw *w) {
  before(w);
  fputs("null", w->f);
}
