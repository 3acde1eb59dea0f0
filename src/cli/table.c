/* table.c: tables of strings, printed aligned for people or as CSV (RFC 4180 quoting, \\n line
 * ends) for machines. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct hone__table {
  size_t ncols, nrows, cap;
  char **headers;
  char *align;
  char **cells; /* nrows * ncols, row-major */
};

hone__table *hone__table_new(size_t ncols, const char *const *headers, const char *align) {
  hone__table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ncols = ncols;
  t->headers = calloc(ncols, sizeof *t->headers);
  t->align = calloc(ncols + 1, 1);
  if (!t->headers || !t->align) goto fail;
  for (size_t i = 0; i < ncols; i++) {
    if (!(t->headers[i] = strdup(headers[i]))) goto fail;
    t->align[i] = align && strlen(align) > i ? align[i] : 'l';
  }
  return t;
fail:
  hone__table_free(t);
  return NULL;
}

void hone__table_free(hone__table *t) {
  if (!t) return;
  for (size_t i = 0; i < t->ncols && t->headers; i++) free(t->headers[i]);
  for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
  free(t->headers);
  free(t->align);
  free(t->cells);
  free(t);
}

int hone__table_add(hone__table *t, const char *const *cells) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
    if (!c) return HONE_ENOMEM;
    t->cells = c;
    t->cap = cap;
  }
  char **row = t->cells + t->nrows * t->ncols;
  for (size_t i = 0; i < t->ncols; i++) {
    if (!(row[i] = strdup(cells[i] ? cells[i] : ""))) {
      while (i--) free(row[i]);
      return HONE_ENOMEM;
    }
  }
  t->nrows++;
  return 0;
}

int hone__table_addf(hone__table *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *line = NULL;
  int n = vasprintf(&line, fmt, ap);
  va_end(ap);
  if (n < 0) return HONE_ENOMEM;
  const char **cells = calloc(t->ncols, sizeof *cells);
  if (!cells) {
    free(line);
    return HONE_ENOMEM;
  }
  char *p = line;
  for (size_t i = 0; i < t->ncols; i++) {
    cells[i] = p ? p : "";
    if (p && (p = strchr(p, '\t'))) *p++ = '\0';
  }
  int rc = hone__table_add(t, cells);
  free(cells);
  free(line);
  return rc;
}

void hone__table_print(const hone__table *t, FILE *out) {
  size_t *w = calloc(t->ncols, sizeof *w);
  if (!w) return;
  for (size_t c = 0; c < t->ncols; c++) {
    w[c] = strlen(t->headers[c]);
    for (size_t r = 0; r < t->nrows; r++) {
      size_t l = strlen(t->cells[r * t->ncols + c]);
      if (l > w[c]) w[c] = l;
    }
  }
  for (size_t r = 0; r <= t->nrows; r++) {
    char *const *row = r == 0 ? t->headers : t->cells + (r - 1) * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
      int last = c + 1 == t->ncols;
      if (t->align[c] == 'r')
        fprintf(out, "%*s", (int)w[c], row[c]);
      else if (last)
        fputs(row[c], out);
      else
        fprintf(out, "%-*s", (int)w[c], row[c]);
      fputs(last ? "\n" : "  ", out);
    }
  }
  free(w);
}

static void csv_cell(const char *s, FILE *out) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

void hone__table_print_csv(const hone__table *t, FILE *out) {
  for (size_t r = 0; r <= t->nrows; r++) {
    char *const *row = r == 0 ? t->headers : t->cells + (r - 1) * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
      if (c) fputc(',', out);
      csv_cell(row[c], out);
    }
    fputc('\n', out);
  }
}
