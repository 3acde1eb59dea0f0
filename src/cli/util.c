/* util.c: error and progress output, number parsing and duration formatting for the CLI. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

HONE_PRINTF(2, 0) static void vreport(const char *cmd, const char *fmt, va_list ap) {
  hone__cli_progress_done();
  fprintf(stderr, "hone %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int hone__cli_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(cmd, fmt, ap);
  va_end(ap);
  return HONE_EXIT_FAILURE;
}

int hone__cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(cmd, fmt, ap);
  va_end(ap);
  fprintf(stderr, "Try 'hone %s --help'.\n", cmd);
  return HONE_EXIT_USAGE;
}

static int progress_shown;

bool hone__cli_progress_enabled(void) {
  static int enabled = -1;
  if (enabled < 0) {
    const char *off = getenv("HONE_NO_PROGRESS");
    enabled = isatty(STDERR_FILENO) && !(off && *off);
  }
  return enabled;
}

void hone__cli_progress(const char *fmt, ...) {
  if (!hone__cli_progress_enabled()) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("\r\033[K", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fflush(stderr);
  progress_shown = 1;
}

void hone__cli_progress_done(void) {
  if (!progress_shown) return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  progress_shown = 0;
}

/* Digits only: strtoull would skip leading blanks and then accept a sign (" -1" is 2^64 - 1). */
bool hone__cli_parse_u64(const char *s, unsigned long long *out) {
  if (!s || !isdigit((unsigned char)*s)) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return false;
  *out = v;
  return true;
}

/* No leading blank (strtod skips them: " 1" is as wrong as "1 ") and no '+'; a '-' is read, for
 * the caller's range check to refuse or take. */
bool hone__cli_parse_double(const char *s, double *out) {
  if (!s || !*s || isspace((unsigned char)*s) || *s == '+') return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v)) return false;
  *out = v;
  return true;
}

char *hone__cli_fmt_ns(double ns, char *buf, size_t len) {
  static const struct {
    const char *unit;
    double scale;
  } units[] = {{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}};
  size_t i = 0;
  while (i + 1 < sizeof units / sizeof units[0] && fabs(ns) < units[i].scale) i++;
  double v = ns / units[i].scale;
  int decimals = fabs(v) >= 100 ? 1 : fabs(v) >= 10 ? 2 : 3;
  snprintf(buf, len, "%.*f %s", decimals, v, units[i].unit);
  return buf;
}
