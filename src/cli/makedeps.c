/* makedeps.c: the reader of the compiler's -MD dependency lists (cache_files.h). */
#include <stdbool.h>
#include <stdlib.h>

#include "cache_files.h"

/* A NUL byte is a separator too: a name handed out is never cut short by one. */
static bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

int hone__makedeps_parse(const char *text, size_t len, int (*fn)(void *arg, const char *path),
                         void *arg) {
  char *tok = malloc(len + 1);
  if (!tok) return -1;
  const char *p = text, *end = text + len;
  bool after_target = false;
  int rc = 0;
  while (p < end && rc == 0) {
    /* Blanks and line continuations between names. */
    while (p < end && (blank(*p) || (*p == '\\' && p + 1 < end && p[1] == '\n')))
      p += *p == '\\' ? 2 : 1;
    size_t n = 0;
    while (p < end && !blank(*p) && !(*p == '\\' && p + 1 < end && p[1] == '\n')) {
      if (p + 1 < end &&
          ((*p == '\\' && (p[1] == ' ' || p[1] == '#')) || (*p == '$' && p[1] == '$')))
        p++;
      tok[n++] = *p++;
    }
    tok[n] = '\0';
    if (n == 0) continue;
    if (!after_target) {
      after_target = tok[n - 1] == ':';
      continue;
    }
    rc = fn(arg, tok);
  }
  free(tok);
  return rc;
}
