/* viewer.c: the run shared by `hone flame` and `hone view` (see viewer.h): the report API reads
 * and merges the files, the export registry writes the SVG or HTML. Nothing is computed here. */
#include "viewer.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hone/export.h"
#include "hone/report.h"
#include "hone/symbols.h"

typedef struct warn_ctx {
  const char *cmd, *path;
} warn_ctx;

static void warn_cb(void *ctx, const hone_prof_mapping *m, const char *msg) {
  (void)m;
  const warn_ctx *w = ctx;
  fprintf(stderr, "hone %s: warning: %s: %s\n", w->cmd, w->path, msg);
}

/* The program a file recorded: the base name of its argv[0] ("" unknown). */
static const char *program(const hone_report *r, size_t i, char *buf, size_t len) {
  const hone_report_file *f = hone_report_file_info(r, i);
  buf[0] = '\0';
  if (f && f->info && f->info->argc > 0 && f->info->argv[0]) {
    snprintf(buf, len, "%s", f->info->argv[0]);
    const char *b = strrchr(buf, '/');
    if (b) memmove(buf, b + 1, strlen(b + 1) + 1);
  }
  return buf;
}

static int run(const hone__viewer_opts *o, char **files, int n) {
  int rc = 0;
  warn_ctx wc = {o->cmd, NULL};
  hone_symbols *syms = hone_symbols_new(warn_cb, &wc);
  hone_report *r = NULL;
  hone_report_options ro = {.resolve = hone_symbols_resolve,
                            .resolve_ctx = syms,
                            .resolve_sample = hone_symbols_resolve_inline,
                            .raw = o->raw,
                            .strip_dirs = o->strip_dirs};
  if (!syms || hone_report_new(&ro, &r)) {
    rc = hone__cli_error(o->cmd, "%s", hone_strerror(HONE_ENOMEM));
    goto out;
  }
  for (int i = 0; i < n; i++) {
    char msg[640] = "";
    wc.path = files[i];
    if (hone_report_read(r, files[i], msg, sizeof msg) < 0) {
      rc = hone__cli_error(o->cmd, "%s", msg);
      goto out;
    }
  }
  if (o->diff) {
    char a[256], b[256];
    program(r, 0, a, sizeof a);
    program(r, 1, b, sizeof b);
    if (strcmp(a, b) != 0) {
      rc = hone__cli_error(o->cmd,
                           "--diff: %s recorded '%s' but %s recorded '%s': a diff compares two "
                           "runs of one program",
                           files[0], a, files[1], b);
      goto out;
    }
  }
  int err = hone_report_build(r);
  if (err) {
    rc = hone__cli_error(o->cmd, "%s", hone_strerror(err));
    goto out;
  }
  size_t nn = 0;
  (void)hone_report_nodes(r, &nn);
  if (!nn)
    fprintf(stderr,
            "hone %s: no function calls were recorded; build the program with "
            "-finstrument-functions -g (and record it with `hone record`)\n",
            o->cmd);
  hone_export_options eo = {.title = o->title, .section = 0};
  char emsg[640] = "";
  if (strcmp(o->output, "-") == 0)
    err = hone_report_export_file(r, o->format, stdout, &eo, emsg, sizeof emsg);
  else
    err = hone_report_export(r, o->format, o->output, &eo, emsg, sizeof emsg);
  if (err) rc = hone__cli_error(o->cmd, "%s", emsg[0] ? emsg : hone_strerror(err));

out:
  hone_report_free(r);
  hone_symbols_free(syms);
  return rc;
}

enum { OPT_STRIP = 256, OPT_RAW };

int hone__viewer_main(const hone__viewer_cmd *spec, int argc, char **argv) {
  const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                    {spec->mode_long, no_argument, NULL, spec->mode_short},
                                    {"title", required_argument, NULL, 't'},
                                    {"strip-dirs", no_argument, NULL, OPT_STRIP},
                                    {"raw", no_argument, NULL, OPT_RAW},
                                    {"help", no_argument, NULL, 'h'},
                                    {NULL, 0, NULL, 0}};
  char shortopts[] = ":o:?t:h";
  shortopts[3] = spec->mode_short;
  hone__viewer_opts o = {.cmd = spec->cmd, .format = spec->format};
  int c;
  opterr = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
    if (c == spec->mode_short) {
      o.format = spec->mode_format;
      o.diff = spec->mode_is_diff;
      continue;
    }
    switch (c) {
    case 'o':
      o.output = optarg;
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
      spec->usage(stdout);
      return HONE_EXIT_OK;
    case ':':
      return hone__cli_usage_error(spec->cmd, "option '%s' needs a value", argv[optind - 1]);
    default:
      return hone__cli_usage_error(spec->cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  int n = argc - optind;
  if (n < 1) return hone__cli_usage_error(spec->cmd, "no stats file given");
  if (o.diff && n != 2)
    return hone__cli_usage_error(spec->cmd, "--diff compares exactly two files (A B), got %d", n);
  if (!o.output) return hone__cli_usage_error(spec->cmd, "no output given: -o %s", spec->out_hint);
  return run(&o, argv + optind, n);
}
