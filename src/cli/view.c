/* view.c: `hone view` — the recorded profile as a single-file interactive HTML report (SnakeViz's
 * idea, offline): the registry's "html" export, or "html-diff" for --diff A B
 * (src/profile/export/html.c). */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "viewer.h"

#define CMD "view"

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

enum { OPT_STRIP = 256, OPT_RAW };

int hone__cmd_view(int argc, char **argv) {
  static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                           {"diff", no_argument, NULL, 'd'},
                                           {"title", required_argument, NULL, 't'},
                                           {"strip-dirs", no_argument, NULL, OPT_STRIP},
                                           {"raw", no_argument, NULL, OPT_RAW},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  hone__viewer_opts o = {.cmd = CMD, .format = "html"};
  int c;
  opterr = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, ":o:dt:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'o':
      o.output = optarg;
      break;
    case 'd':
      o.diff = true;
      o.format = "html-diff";
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
  int n = argc - optind;
  if (n < 1) return hone__cli_usage_error(CMD, "no stats file given");
  if (o.diff && n != 2)
    return hone__cli_usage_error(CMD, "--diff compares exactly two files (A B), got %d", n);
  if (!o.output) return hone__cli_usage_error(CMD, "no output given: -o OUT.html");
  return hone__viewer_run(&o, argv + optind, n);
}
