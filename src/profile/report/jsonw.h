/* jsonw.h: a small streaming JSON writer for libhone's outputs (the report's JSON, the speedscope
 * and chrome exports). libhone depends on libc only, so it cannot use cJSON; writing is the easy
 * half of JSON (no parsing here). Values are written as they come, with commas and indentation
 * handled by the writer; the caller keeps objects and arrays balanced. Output errors are sticky
 * in the FILE (check ferror). Not thread-safe: one writer per user. */
#ifndef HONE_PROFILE_JSONW_H
#define HONE_PROFILE_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HONE__JW_MAX_DEPTH 64

typedef struct hone__jw {
  FILE *f;
  bool pretty;                    /* newlines and two-space indentation */
  int depth;                      /* open containers */
  bool has_items;                 /* the innermost container has an item already */
  bool after_key;                 /* a key was written: the next value follows it */
  char close[HONE__JW_MAX_DEPTH]; /* the bracket each open container ends with */
  bool items[HONE__JW_MAX_DEPTH]; /* has_items of the enclosing containers */
} hone__jw;

void hone__jw_init(hone__jw *w, FILE *f, bool pretty);
void hone__jw_object(hone__jw *w);
void hone__jw_array(hone__jw *w);
void hone__jw_end(hone__jw *w); /* closes the innermost object or array (at most 64 deep) */
void hone__jw_key(hone__jw *w, const char *key);
void hone__jw_str(hone__jw *w, const char *s);
void hone__jw_u64(hone__jw *w, uint64_t v);
void hone__jw_i64(hone__jw *w, int64_t v);
void hone__jw_num(hone__jw *w, double v); /* shortest round-trip text; NaN and inf as null */
void hone__jw_bool(hone__jw *w, bool v);
void hone__jw_null(hone__jw *w);
/* A string as JSON text, quotes included (for writers that format lines themselves). */
void hone__jw_write_string(FILE *f, const char *s);

#endif /* HONE_PROFILE_JSONW_H */
