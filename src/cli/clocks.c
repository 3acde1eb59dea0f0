/* clocks.c: `hone clocks` — every clock hone can read, what it counts, its resolution and its
 * measured cost per read, and the cycle counter's frequency and invariance. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "hone/clock.h"

#define CMD "clocks"

static void usage(FILE *out) {
  fprintf(out, "usage: hone clocks [--json | --csv]\n"
               "\n"
               "Every clock hone can time with: what it counts (does it include sleep? is it\n"
               "monotonic?), its resolution and its measured cost per read; then the cycle\n"
               "counter's frequency and whether it is invariant.\n"
               "\n"
               "  --json      a JSON object\n"
               "  --csv       the table as CSV (figures in ns, unrounded)\n"
               "  -h, --help  show this help\n");
}

static const char *yes_no(bool b) {
  return b ? "yes" : "no";
}

static void print_table(const hone_clock_info *info) {
  static const char *headers[] = {"clock",      "source",    "sleep",         "monotonic",
                                  "resolution", "cost/read", "what it counts"};
  hone__table *t = hone__table_new(7, headers, "llllrrl");
  if (!t) return;
  for (int i = 0; i < HONE_CLOCK_COUNT; i++) {
    const hone_clock_info *c = &info[i];
    char res[32], cost[32];
    if (!c->available) {
      hone__table_addf(t, "%s\t%s\t-\t-\t-\t-\tnot available on this machine", c->name, c->source);
      continue;
    }
    hone__table_addf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s", c->name, c->source, yes_no(c->counts_sleep),
                     yes_no(c->monotonic), hone__cli_fmt_ns(c->resolution_ns, res, sizeof res),
                     hone__cli_fmt_ns(c->cost_ns, cost, sizeof cost), c->description);
  }
  hone__table_print(t, stdout);
  hone__table_free(t);

  const hone_clock_info *cy = &info[HONE_CLOCK_CYCLES];
  if (!cy->available) {
    printf("\ncycle counter: none on this machine\n");
    return;
  }
  bool stated = strcmp(cy->source, "cntvct_el0") == 0;
  printf("\ncycle counter: %s ticks at %.4f GHz (%s)\n", cy->source, cy->frequency_hz / 1e9,
         stated ? "as cntfrq_el0 states" : "calibrated against CLOCK_MONOTONIC");
  if (cy->invariant)
    printf("invariant: yes (constant rate whatever the CPU frequency, ticking in sleep states)\n");
  else
    printf("invariant: no (the rate may follow the CPU frequency and stop in sleep states;\n"
           "           use it only for short intervals on one CPU)\n");
}

static void print_csv(const hone_clock_info *info) {
  static const char *headers[] = {"clock",        "source",    "available",     "counts_sleep",
                                  "monotonic",    "cpu_time",  "resolution_ns", "cost_ns",
                                  "frequency_hz", "invariant", "unit",          "description"};
  hone__table *t = hone__table_new(12, headers, NULL);
  if (!t) return;
  for (int i = 0; i < HONE_CLOCK_COUNT; i++) {
    const hone_clock_info *c = &info[i];
    hone__table_addf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%.6g\t%.6g\t%.10g\t%s\t%s\t%s", c->name, c->source,
                     yes_no(c->available), yes_no(c->counts_sleep), yes_no(c->monotonic),
                     yes_no(c->cpu_time), c->resolution_ns, c->cost_ns, c->frequency_hz,
                     yes_no(c->invariant), c->unit, c->description);
  }
  hone__table_print_csv(t, stdout);
  hone__table_free(t);
}

static int print_json(const hone_clock_info *info) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return hone__cli_error(CMD, "out of memory");
  cJSON_AddNumberToObject(root, "version", 1); /* of this JSON's layout */
  cJSON_AddStringToObject(root, "hone_version", hone_version());
  cJSON *list = cJSON_AddArrayToObject(root, "clocks");
  for (int i = 0; i < HONE_CLOCK_COUNT; i++) {
    const hone_clock_info *c = &info[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddStringToObject(o, "source", c->source);
    cJSON_AddStringToObject(o, "description", c->description);
    cJSON_AddStringToObject(o, "unit", c->unit);
    cJSON_AddBoolToObject(o, "available", c->available);
    cJSON_AddBoolToObject(o, "monotonic", c->monotonic);
    cJSON_AddBoolToObject(o, "counts_sleep", c->counts_sleep);
    cJSON_AddBoolToObject(o, "cpu_time", c->cpu_time);
    cJSON_AddBoolToObject(o, "invariant", c->invariant);
    cJSON_AddNumberToObject(o, "resolution_ns", c->resolution_ns);
    cJSON_AddNumberToObject(o, "cost_ns", c->cost_ns);
    cJSON_AddNumberToObject(o, "frequency_hz", c->frequency_hz);
    cJSON_AddItemToArray(list, o);
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) return hone__cli_error(CMD, "out of memory");
  puts(text);
  cJSON_free(text);
  return HONE_EXIT_OK;
}

int hone__cmd_clocks(int argc, char **argv) {
  static const struct option options[] = {
      {"json", no_argument, NULL, 'j'},
      {"csv", no_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool json = false, csv = false;
  int opt;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (opt) {
    case 'j':
      json = true;
      break;
    case 'c':
      csv = true;
      break;
    case 'h':
      usage(stdout);
      return HONE_EXIT_OK;
    default:
      return hone__cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return hone__cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
  if (json && csv) return hone__cli_usage_error(CMD, "--json and --csv exclude each other");

  hone_clock_info info[HONE_CLOCK_COUNT];
  for (int i = 0; i < HONE_CLOCK_COUNT; i++) {
    hone__cli_progress("measuring the %s clock...", hone_clock_name((hone_clock_id)i));
    int rc = hone_clock_info_get((hone_clock_id)i, &info[i]);
    if (rc < 0) {
      return hone__cli_error(CMD, "%s clock: %s", hone_clock_name((hone_clock_id)i),
                             hone_strerror(rc));
    }
  }
  hone__cli_progress_done();
  if (json) return print_json(info);
  if (csv)
    print_csv(info);
  else
    print_table(info);
  return HONE_EXIT_OK;
}
