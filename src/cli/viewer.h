/* viewer.h: what `hone flame` (flame.c) and `hone view` (view.c) share: their options and one
 * run: read the stats files into a report (hone/report.h, names by libhone-symbols) and write
 * one export of the registry (hone/export.h) to the output path, atomically. */
#ifndef HONE_CLI_VIEWER_H
#define HONE_CLI_VIEWER_H

#include <stdbool.h>
#include <stdio.h>

typedef struct hone__viewer_opts {
  const char *cmd;    /* "flame" or "view", for messages */
  const char *format; /* the export: "svg", "svg-icicle", "html", "html-diff" */
  const char *output; /* path; "-" for standard output */
  const char *title;  /* NULL: the first file's name */
  bool raw, strip_dirs;
  bool diff; /* exactly two files, A then B, of one program */
} hone__viewer_opts;

/* What differs between the two commands: the one option of their own (`-r/--reverse` of flame,
 * `-d/--diff` of view), which switches the export to `mode_format`. */
typedef struct hone__viewer_cmd {
  const char *cmd;         /* "flame" or "view" */
  const char *format;      /* the export without the option */
  const char *mode_long;   /* "reverse" or "diff" */
  char mode_short;         /* 'r' or 'd' */
  const char *mode_format; /* the export with it */
  bool mode_is_diff;       /* the option compares two files */
  const char *out_hint;    /* "OUT.svg", for the missing -o message */
  void (*usage)(FILE *out);
} hone__viewer_cmd;

/* The whole command: parses argv (getopt), then reads the files and writes the export; returns an
 * enum hone_exit value, messages printed. */
int hone__viewer_main(const hone__viewer_cmd *spec, int argc, char **argv);

#endif /* HONE_CLI_VIEWER_H */
