/* view.c: `hone view` — the recorded profile as a single-file interactive HTML report (SnakeViz's
 * idea, offline): the registry's "html" export, or "html-diff" for --diff A B
 * (src/profile/export/html.c). */
#include <stdio.h>

#include "cli.h"
#include "viewer.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: hone view [options] -o OUT.html FILE...\n"
          "       hone view --diff [options] -o OUT.html A.prof B.prof\n"
          "\n"
          "Writes the profile recorded by `hone record` (several files are merged) as one HTML\n"
          "file that opens from disk, nothing fetched: an icicle of the calling-context tree\n"
          "(click zooms), pstats' sortable table, callers and callees of the selected function,\n"
          "one thread or all, and a filter that keeps only functions of a file or directory\n"
          "(\"my code only\"). With --diff, B against A: per-function and per-path change.\n"
          "\n"
          "Options:\n"
          "  -o, --output FILE   the HTML to write (atomically); '-' for standard output\n"
          "  -d, --diff          compare two runs of one program: A.prof (before), B.prof (after)\n"
          "  -t, --title TEXT    the report's title (default: the first file's name)\n"
          "      --strip-dirs    drop directories from file names\n"
          "      --raw           times as measured, the profiler's cost included\n"
          "  -h, --help          this help\n");
}

int hone__cmd_view(int argc, char **argv) {
  static const hone__viewer_cmd spec = {.cmd = "view",
                                        .format = "html",
                                        .mode_long = "diff",
                                        .mode_short = 'd',
                                        .mode_format = "html-diff",
                                        .mode_is_diff = true,
                                        .out_hint = "OUT.html",
                                        .usage = usage};
  return hone__viewer_main(&spec, argc, argv);
}
