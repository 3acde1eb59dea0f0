/* hone/export.h: writers of a report (hone/report.h) in other tools' formats, behind one
 * registry: a format is a name ("folded", "pstats", "callgrind", "speedscope", "chrome", ...)
 * and a writer, one per file under src/profile/export/. hone_report_export writes to a path
 * atomically (a temporary file in the same directory, renamed over the path once complete: a
 * reader never sees half a file, and a failure leaves what was there); hone_report_export_file
 * writes to an open stream. Every format is documented in docs/exports.md with its version or
 * schema reference.
 *
 * Thread-safety: the registry is immutable. Exporting only reads the report (see its rules). */
#ifndef HONE_EXPORT_H
#define HONE_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "hone/error.h"
#include "hone/report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the widths of a flame graph measure, for the formats that have one weight (folded,
 * speedscope; chrome's durations; callgrind always has both). */
typedef enum hone_export_weight {
  HONE_EXPORT_WEIGHT_TIME = 0, /* estimated seconds (folded: integer microseconds) */
  HONE_EXPORT_WEIGHT_CALLS,    /* call counts: a path's weight is its node's calls */
} hone_export_weight;

/* Options common to every writer; zero-initialised (or NULL) means the defaults. */
typedef struct hone_export_options {
  const char *title; /* a name for the profile where the format has one (NULL: the first file) */
  int section;       /* which section of a per-thread report (-1 or 0: the first / merged) */
  hone_export_weight weight;
} hone_export_options;

/* The weight named "time" or "calls"; -1 for another word. */
HONE_API int hone_export_weight_from_name(const char *name);

/* A registered format. */
typedef struct hone_export_format {
  const char *name;        /* "folded" */
  const char *description; /* one line: who reads it */
  const char *extension;   /* usual file name ending, ".folded" */
  int binary;              /* 1: not text */
} hone_export_format;

/* The registered formats, i < count; NULL when out of range. */
HONE_API size_t hone_export_format_count(void);
HONE_API const hone_export_format *hone_export_format_at(size_t i);
/* The format named `name`, or NULL. */
HONE_API const hone_export_format *hone_export_find(const char *name);

/* Writes report r in `format` to `path`, atomically. Returns 0, HONE_EINVAL (unknown format:
 * message names the known ones), HONE_EIO / HONE_ENOENT / HONE_EPERM (the file system),
 * HONE_ENOMEM, or the writer's error; errbuf (may be NULL) receives a one-line message. */
HONE_API HONE_NODISCARD int hone_report_export(hone_report *r, const char *format, const char *path,
                                               const hone_export_options *o, char *errbuf,
                                               size_t errlen);
/* The same to an open stream (not atomic; the caller owns `out`). */
HONE_API HONE_NODISCARD int hone_report_export_file(hone_report *r, const char *format, FILE *out,
                                                    const hone_export_options *o, char *errbuf,
                                                    size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* HONE_EXPORT_H */
