/* pstats.c: the "pstats" export — the file Python's pstats.Stats loads (and so `python3 -m
 * pstats`, SnakeViz, gprof2dot, tuna): a marshal'ed dict, as cProfile's dump_stats writes it,
 *
 *   {(file, line, name): (primitive calls, calls, tottime, cumtime,
 *                         {(caller's file, line, name): (calls, primitive calls, tottime,
 *                                                        cumtime), ...}), ...}
 *
 * with the figures of `hone report` (the same functions, names, counts and estimated times).
 * Marshal, as Python 3.4+ reads it (marshal version >= 2; the types used are all of version 2):
 * '{' key value ... '0' for a dict, '(' int32 n items for a tuple, 'u' int32 n utf-8 bytes for a
 * str, 'i' int32 for a small int, 'l' int32 ndigits then 15-bit digits in 16-bit words for a
 * larger one, 'g' an IEEE double; integers are little-endian. The format carries no version of
 * its own; docs/exports.md names it "pstats 1" (Python's marshal, cProfile's stats dict). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"

static void put_u32(FILE *out, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  fwrite(b, 1, 4, out);
}

static void put_int(FILE *out, uint64_t v) {
  if (v <= INT32_MAX) {
    fputc('i', out);
    put_u32(out, (uint32_t)v);
    return;
  }
  /* A Python int of 15-bit digits, least significant first; ndigits > 0: positive. */
  uint16_t d[5];
  int n = 0;
  for (; v; v >>= 15) d[n++] = (uint16_t)(v & 0x7fff);
  fputc('l', out);
  put_u32(out, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    fputc(d[i] & 0xff, out);
    fputc(d[i] >> 8, out);
  }
}

static void put_float(FILE *out, double v) {
  uint64_t bits;
  if (!isfinite(v)) v = 0;
  memcpy(&bits, &v, sizeof bits);
  fputc('g', out);
  for (int i = 0; i < 8; i++) fputc((int)(bits >> (8 * i)) & 0xff, out);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s) {
  if (s[0] < 0x80) return 1;
  size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
  if (s[0] >= 0xf8) return 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return n;
}

/* A str. Python refuses malformed UTF-8 in marshal data, so bytes that are not UTF-8 (a file
 * name in another encoding) become '?'. */
static void put_str(FILE *out, const char *s) {
  size_t len = strlen(s);
  fputc('u', out);
  put_u32(out, (uint32_t)len);
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_len(p + i);
    if (!n || i + n > len) {
      fputc('?', out);
      i++;
    } else {
      fwrite(p + i, 1, n, out);
      i += n;
    }
  }
}

static void put_func(FILE *out, const hone_report_func *f) {
  fputc('(', out);
  put_u32(out, 3);
  put_str(out, f->file);
  put_int(out, f->line);
  put_str(out, f->name);
}

int hone__export_pstats(const hone_report *r, size_t section, const hone_export_options *o,
                        FILE *out, char *errbuf, size_t errlen) {
  (void)o;
  (void)errbuf;
  (void)errlen;
  size_t nrows;
  const uint32_t *rows = hone_report_rows(r, section, &nrows);
  fputc('{', out);
  for (size_t i = 0; i < nrows; i++) {
    const hone_report_func *f = hone_report_func_info(r, rows[i]);
    const hone_report_stat *st = hone_report_func_stat(r, section, rows[i]);
    const hone_report_edge **e;
    size_t ne;
    int rc = hone_report_func_edges(r, section, rows[i], true, &e, &ne);
    if (rc) return rc;
    put_func(out, f);
    fputc('(', out);
    put_u32(out, 5);
    put_int(out, st->pcalls);
    put_int(out, st->ncalls);
    put_float(out, st->tottime);
    put_float(out, st->cumtime);
    fputc('{', out);
    for (size_t j = 0; j < ne; j++) {
      put_func(out, hone_report_func_info(r, e[j]->caller));
      fputc('(', out);
      put_u32(out, 4);
      put_int(out, e[j]->stat.ncalls);
      put_int(out, e[j]->stat.pcalls);
      put_float(out, e[j]->stat.tottime);
      put_float(out, e[j]->stat.cumtime);
    }
    fputc('0', out);
    free(e);
  }
  fputc('0', out);
  return 0;
}
