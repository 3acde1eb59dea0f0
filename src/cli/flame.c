/* flame.c: `hone flame` — an interactive flame graph (or icicle) of recorded profiles as one
 * self-contained SVG: the registry's "svg" / "svg-icicle" exports (src/profile/export/svg.c). */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "viewer.h"

#define CMD "flame"

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

enum { OPT_STRIP = 256, OPT_RAW };

int hone__cmd_flame(int argc, char **argv) {
  static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                           {"reverse", no_argument, NULL, 'r'},
                                           {"title", required_argument, NULL, 't'},
                                           {"strip-dirs", no_argument, NULL, OPT_STRIP},
                                           {"raw", no_argument, NULL, OPT_RAW},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  hone__viewer_opts o = {.cmd = CMD, .format = "svg"};
  int c;
  opterr = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, ":o:rt:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'o':
      o.output = optarg;
      break;
    case 'r':
      o.format = "svg-icicle";
      break;
    case 't':
      o.title = optarg;
      break;
    case OPT_STRIP:
      o.strip_dirs = true;
      break;
    case OPT_RAW:
      o.raw = true;
      break;
    case 'h':
      usage(stdout);
      return HONE_EXIT_OK;
    case ':':
      return hone__cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
    default:
      return hone__cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return hone__cli_usage_error(CMD, "no stats file given");
  if (!o.output) return hone__cli_usage_error(CMD, "no output given: -o OUT.svg");
  return hone__viewer_run(&o, argv + optind, argc - optind);
}
