/* viewer.h: what `hone flame` (flame.c) and `hone view` (view.c) share: their options and one
 * run: read the stats files into a report (hone/report.h, names by libhone-symbols) and write
 * one export of the registry (hone/export.h) to the output path, atomically. */
#ifndef HONE_CLI_VIEWER_H
#define HONE_CLI_VIEWER_H

#include <stdbool.h>

typedef struct hone__viewer_opts {
  const char *cmd;    /* "flame" or "view", for messages */
  const char *format; /* the export: "svg", "svg-icicle", "html", "html-diff" */
  const char *output; /* path; "-" for standard output */
  const char *title;  /* NULL: the first file's name */
  bool raw, strip_dirs;
  bool diff; /* exactly two files, A then B, of one program */
} hone__viewer_opts;

/* Reads files[0..n) and writes the export; returns an enum hone_exit value, messages printed. */
int hone__viewer_run(const hone__viewer_opts *o, char **files, int n);

#endif /* HONE_CLI_VIEWER_H */
