/* bench_split.c: command lines split into words as sh would, without starting a shell, and
 * {NAME} substitution of benchmark parameters. */
#include <stdlib.h>
#include <string.h>

#include "hone/bench.h"

typedef struct word_buf {
  char *s;
  size_t len, cap;
} word_buf;

static int push_char(word_buf *w, char c) {
  if (w->len + 2 > w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 32;
    char *s = realloc(w->s, cap);
    if (!s) return HONE_ENOMEM;
    w->s = s;
    w->cap = cap;
  }
  w->s[w->len++] = c;
  w->s[w->len] = '\0';
  return 0;
}

static int push_word(char ***argv, int *argc, word_buf *w) {
  char **v = realloc(*argv, ((size_t)*argc + 2) * sizeof *v);
  if (!v) return HONE_ENOMEM;
  *argv = v;
  v[(*argc)++] = w->s ? w->s : strdup("");
  v[*argc] = NULL;
  if (!v[*argc - 1]) return HONE_ENOMEM;
  *w = (word_buf){0};
  return 0;
}

void hone_bench_argv_free(char **argv) {
  if (!argv) return;
  for (char **p = argv; *p; p++) free(*p);
  free(argv);
}

static int is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}

/* Characters that mean something to a shell when unquoted and that a plain exec would pass on
 * literally: refusing them keeps `a | b` from silently running `a` with arguments "|" and "b". */
static const char *shell_syntax(char c) {
  switch (c) {
  case '|':
    return "a pipe '|' needs a shell (use --shell sh)";
  case '&':
    return "'&' needs a shell (use --shell sh)";
  case ';':
    return "';' needs a shell (use --shell sh)";
  case '<':
  case '>':
    return "a redirection needs a shell (use --shell sh)";
  case '`':
    return "a command substitution needs a shell (use --shell sh)";
  case '$':
    return "a '$' expansion needs a shell (use --shell sh)";
  case '*':
  case '?':
  case '[':
    return "a glob (* ? [) needs a shell (use --shell sh)";
  case '(':
  case ')':
    return "parentheses need a shell (use --shell sh)";
  default:
    return NULL;
  }
}

int hone_bench_split(const char *line, char ***argv_out, int *argc_out, const char **what) {
  const char *dummy;
  if (!what) what = &dummy;
  *what = NULL;
  if (!argv_out) return HONE_EINVAL;
  *argv_out = NULL;
  if (argc_out) *argc_out = 0;
  if (!line) return HONE_EINVAL;
  char **argv = NULL;
  int argc = 0, rc = 0;
  word_buf w = {0};
  bool in_word = false;
  for (const char *p = line;; p++) {
    char c = *p;
    if (c == '\0' || is_blank(c)) {
      if (in_word && (rc = push_word(&argv, &argc, &w)) < 0) goto fail;
      in_word = false;
      if (c == '\0') break;
      continue;
    }
    if (c == '#' && !in_word) break; /* a comment, as in sh */
    bool word_start = !in_word;
    in_word = true; /* even '' makes a word (an empty one: push_word) */
    if (c == '\'') {
      const char *end = strchr(p + 1, '\'');
      if (!end) {
        *what = "a single quote is not closed";
        rc = HONE_EINVAL;
        goto fail;
      }
      for (const char *q = p + 1; q < end; q++)
        if ((rc = push_char(&w, *q)) < 0) goto fail;
      p = end;
    } else if (c == '"') {
      const char *q = p + 1;
      for (; *q && *q != '"'; q++) {
        if (*q == '\\' && q[1] && strchr("\"\\$`\n", q[1]))
          q++;
        else if (*q == '$' || *q == '`') {
          *what = "an expansion inside double quotes needs a shell (use --shell sh)";
          rc = HONE_EINVAL;
          goto fail;
        }
        if ((rc = push_char(&w, *q)) < 0) goto fail;
      }
      if (!*q) {
        *what = "a double quote is not closed";
        rc = HONE_EINVAL;
        goto fail;
      }
      p = q;
    } else if (c == '\\') {
      if (p[1] == '\0') {
        *what = "the line ends with a backslash";
        rc = HONE_EINVAL;
        goto fail;
      }
      p++;
      if (*p != '\n' && (rc = push_char(&w, *p)) < 0) goto fail;
    } else if ((*what = shell_syntax(c)) != NULL) {
      rc = HONE_EINVAL;
      goto fail;
    } else {
      if (c == '~' && word_start && (p[1] == '\0' || p[1] == '/' || is_blank(p[1]))) {
        *what = "'~' needs a shell (use --shell sh, or write the path)";
        rc = HONE_EINVAL;
        goto fail;
      }
      if ((rc = push_char(&w, c)) < 0) goto fail;
    }
  }
  if (argc == 0) {
    *what = "the command is empty";
    rc = HONE_EINVAL;
    goto fail;
  }
  *argv_out = argv;
  if (argc_out) *argc_out = argc;
  return 0;
fail:
  free(w.s);
  hone_bench_argv_free(argv);
  if (rc == HONE_ENOMEM && !*what) *what = "out of memory";
  return rc;
}

int hone_bench_substitute(const char *tmpl, const char *name, const char *value, char **out) {
  if (!out) return HONE_EINVAL;
  *out = NULL;
  if (!tmpl || !name || !*name || !value) return HONE_EINVAL;
  size_t nlen = strlen(name), vlen = strlen(value), count = 0;
  for (const char *p = tmpl; (p = strchr(p, '{')) != NULL; p++)
    if (strncmp(p + 1, name, nlen) == 0 && p[1 + nlen] == '}') count++;
  size_t len = strlen(tmpl) + count * vlen + 1;
  char *s = malloc(len), *d = s;
  if (!s) return HONE_ENOMEM;
  for (const char *p = tmpl; *p;) {
    if (*p == '{' && strncmp(p + 1, name, nlen) == 0 && p[1 + nlen] == '}') {
      memcpy(d, value, vlen);
      d += vlen;
      p += nlen + 2;
    } else {
      *d++ = *p++;
    }
  }
  *d = '\0';
  *out = s;
  return 0;
}
