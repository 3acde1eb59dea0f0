/* writer.h: what an export writer is (registered in formats.def, one file per format). A writer
 * gets the report (built: hone_report_build has succeeded), the section to write, the options
 * and an open stream; it uses the public report API only, so a new format needs nothing else.
 * It returns 0 or a negative hone_err and, on failure, writes a one-line reason to errbuf (may be
 * NULL). Stream errors are caught by the registry (ferror). Internal to libhone. */
#ifndef HONE_PROFILE_EXPORT_WRITER_H
#define HONE_PROFILE_EXPORT_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hone/export.h"
#include "hone/report.h"

typedef int (*hone__export_fn)(const hone_report *r, size_t section, const hone_export_options *o,
                               FILE *out, char *errbuf, size_t errlen);

/* A depth-first walk of a section's forest on a time line (layout.c): enter on a node's way
 * down, leave on its way up, with its start and length (seconds, or calls with
 * HONE_EXPORT_WEIGHT_CALLS); each thread's time line starts at 0. A callback's non-zero return
 * stops the walk and is returned. */
typedef struct hone__export_visit {
  int (*enter)(void *ctx, const hone_report *r, uint32_t node, double at, double len);
  int (*leave)(void *ctx, const hone_report *r, uint32_t node, double at, double len);
} hone__export_visit;
int hone__export_walk(const hone_report *r, size_t section, hone_export_weight weight,
                      const hone__export_visit *v, void *ctx);

#define HONE_EXPORT(name, fn, ext, binary, desc)                                                   \
  int fn(const hone_report *r, size_t section, const hone_export_options *o, FILE *out,            \
         char *errbuf, size_t errlen);
#include "formats.def"
#undef HONE_EXPORT

#endif /* HONE_PROFILE_EXPORT_WRITER_H */
