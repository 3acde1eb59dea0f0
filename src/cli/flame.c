/* flame.c: `hone flame` — an interactive flame graph (or icicle) of recorded profiles as one
 * self-contained SVG: the registry's "svg" / "svg-icicle" exports (src/profile/export/svg.c). */
#include <stdio.h>

#include "cli.h"
#include "viewer.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: hone flame [options] -o OUT.svg FILE...\n"
          "\n"
          "Writes an interactive flame graph of the profile recorded by `hone record` (several\n"
          "files are merged) as one self-contained SVG that any web browser opens offline:\n"
          "hover a frame for its function, file:line, calls, time and share; click to zoom;\n"
          "Search (or Ctrl-F) highlights functions matching a regular expression. Widths are\n"
          "the estimated inclusive times of `hone report` (the profiler's cost removed).\n"
          "\n"
          "Options:\n"
          "  -o, --output FILE   the SVG to write (atomically); '-' for standard output\n"
          "  -r, --reverse       an icicle: the roots at the top, callees below\n"
          "  -t, --title TEXT    the graph's title (default: the first file's name)\n"
          "      --strip-dirs    drop directories from file names\n"
          "      --raw           times as measured, the profiler's cost included\n"
          "  -h, --help          this help\n");
}

int hone__cmd_flame(int argc, char **argv) {
  static const hone__viewer_cmd spec = {.cmd = "flame",
                                        .format = "svg",
                                        .mode_long = "reverse",
                                        .mode_short = 'r',
                                        .mode_format = "svg-icicle",
                                        .out_hint = "OUT.svg",
                                        .usage = usage};
  return hone__viewer_main(&spec, argc, argv);
}
