/* snippet.c: generates the C translation unit of a `hone timeit` snippet, compiles it into a
 * shared object with the user's compiler, maps the compiler's diagnostics back to the user's
 * setup and statement, and keeps compiled objects in a cache directory.
 *
 * Cache layout: DIR/timeit/KEY/{snippet.c,snippet.so,meta}. KEY is the SHA-256 of everything that
 * decides the object: the generated source, the compiler (resolved path, inode, size and mtime —
 * read with stat, never by running it, so a warm run runs no compiler), its extra arguments, the
 * flags, the link options and the CPATH, C_INCLUDE_PATH and LIBRARY_PATH variables. An entry is
 * built in DIR/timeit/.tmp-XXXXXX and renamed into place whole, so a reader never sees half an
 * entry; `meta` (read by entry_meta.c) records the SHA-256 of snippet.so and the identity (inode,
 * size, mtime) of every header the compiler read (its -MD list, read by makedeps.c) and of every
 * static archive -l linked in, and an entry whose object does not match (truncated,
 * overwritten) or whose files changed is thrown away and rebuilt. SHA-256 is sha256.c, the file
 * helpers fsutil.c.
 */
#include "snippet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache_files.h"
#include "fsutil.h"
#include "cli.h"
#include "hone/error.h"

extern char **environ;

/* ---- string lists ---- */

int hone__strv_push(hone__strv *s, const char *str) {
  if (s->n + 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    char **v = realloc(s->v, cap * sizeof *v);
    if (!v) return HONE_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  char *copy = strdup(str);
  if (!copy) return HONE_ENOMEM;
  s->v[s->n++] = copy;
  s->v[s->n] = NULL;
  return 0;
}

void hone__strv_free(hone__strv *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

int hone__strv_split(hone__strv *s, const char *words) {
  const char *p = words ? words : "";
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    if (!*p) break;
    const char *e = p;
    while (*e && *e != ' ' && *e != '\t' && *e != '\n') e++;
    char *w = strndup(p, (size_t)(e - p));
    if (!w) return HONE_ENOMEM;
    int rc = hone__strv_push(s, w);
    free(w);
    if (rc) return rc;
    p = e;
  }
  return 0;
}

/* ---- the generated source ---- */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s) {
  size_t l = strlen(s);
  if (b->oom) return;
  if (b->n + l + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (b->n + l + 1 > cap) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, l + 1);
  b->n += l;
}

static void sb_addf(sbuf *b, const char *fmt, ...) HONE_PRINTF(2, 3);
static void sb_addf(sbuf *b, const char *fmt, ...) {
  char *tmp = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&tmp, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  sb_add(b, tmp);
  free(tmp);
}

/* The file name of every generated line: diagnostics that point there are dropped. */
#define GEN "<hone>"

char *hone__snippet_source(const hone__snippet_spec *spec) {
  static const char *const headers[] = {
      "assert.h",  "ctype.h",  "errno.h",  "float.h", "inttypes.h", "limits.h", "math.h",
      "stdbool.h", "stddef.h", "stdint.h", "stdio.h", "stdlib.h",   "string.h", "time.h"};
  sbuf b = {0};
  sb_add(&b, "#line 1 \"" GEN "\"\n");
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
    sb_addf(&b, "#include <%s>\n", headers[i]);
  if (spec->includes) {
    for (size_t i = 0; i < spec->includes->n; i++) {
      const char *h = spec->includes->v[i];
      sb_addf(&b, "#line %zu \"-i\"\n", i + 1);
      if (h[0] == '<' || h[0] == '"')
        sb_addf(&b, "#include %s\n", h);
      else
        sb_addf(&b, "#include <%s>\n", h);
    }
    sb_add(&b, "#line 100 \"" GEN "\"\n");
  }
  /* keep(x): x's value is computed and considered used; clobber(): memory is considered read.
   * An input operand that may be a register or memory takes any expression: a variable, a const,
   * an rvalue, an array, a struct. */
  sb_add(&b, "#define keep(x) __asm__ volatile(\"\" : : \"r,m\"(x) : \"memory\")\n"
             "#define clobber() __asm__ volatile(\"\" : : : \"memory\")\n");
  sb_addf(&b,
          "typedef struct hone__snippet_driver {\n"
          "  uint32_t abi;\n"
          "  void *run;\n"
          "  uint64_t (*next)(void *run);\n"
          "  void (*start)(void *run);\n"
          "  void (*stop)(void *run);\n"
          "} hone__snippet_driver;\n"
          "int %s(const hone__snippet_driver *hone__d);\n"
          "int %s(const hone__snippet_driver *hone__d) {\n"
          "  if (hone__d->abi != %d) return -1;\n"
          "  void *const hone__run = hone__d->run;\n"
          "  uint64_t (*const hone__next)(void *) = hone__d->next;\n"
          "  void (*const hone__start)(void *) = hone__d->start;\n"
          "  void (*const hone__stop)(void *) = hone__d->stop;\n"
          "  uint64_t hone__n;\n",
          HONE__SNIPPET_SYMBOL, HONE__SNIPPET_SYMBOL, HONE__SNIPPET_ABI);
  /* Python's timeit runs the setup before every trial (autorange's included), so that a
   * statement that changes its data starts each trial from a fresh setup: setup, the timed loop
   * and the teardown are one block, entered once per trial. */
  sb_add(&b, "  while ((hone__n = hone__next(hone__run)) > 0) {\n"
             "#line 1 \"setup\"\n");
  sb_add(&b, spec->setup ? spec->setup : "");
  sb_add(&b, "\n#line 1000 \"" GEN "\"\n"
             "  ;\n"
             "    hone__start(hone__run);\n"
             "    for (uint64_t hone__i = 0; hone__i < hone__n; hone__i++) {\n"
             "#line 1 \"stmt\"\n");
  sb_add(&b, spec->stmt ? spec->stmt : "");
  sb_add(&b, "\n#line 2000 \"" GEN "\"\n"
             "      ;\n"
             "    }\n"
             "    hone__stop(hone__run);\n"
             "#line 1 \"teardown\"\n");
  sb_add(&b, spec->teardown ? spec->teardown : "");
  sb_add(&b, "\n#line 3000 \"" GEN "\"\n"
             "  ;\n"
             "  }\n"
             "  return 0;\n"
             "}\n");
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* ---- running programs ---- */

/* Finds prog in PATH (or takes it as a path when it has a '/'); malloc'd or NULL. */
static char *find_program(const char *prog) {
  if (!prog || !*prog) return NULL;
  if (strchr(prog, '/')) return access(prog, X_OK) == 0 ? strdup(prog) : NULL;
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  const char *p = path;
  while (1) {
    const char *e = strchr(p, ':');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    char *dir = l ? strndup(p, l) : strdup(".");
    if (!dir) return NULL;
    char *full = hone__path_join(dir, prog);
    free(dir);
    if (!full) return NULL;
    struct stat st;
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) return full;
    free(full);
    if (!e) break;
    p = e + 1;
  }
  return NULL;
}

/* Runs argv[0] (a path) with stdin from /dev/null and stdout+stderr into out_path. Returns the
 * wait status, or -1 when it could not be started. */
static int run_to_file(char *const argv[], const char *out_path) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) return -1;
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return status;
}

/* ---- diagnostics ---- */

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Line `n` (1-based) of text, as a pointer and length; false when text is shorter. */
static bool nth_line(const char *text, long n, const char **line, size_t *len) {
  const char *p = text ? text : "";
  for (long i = 1; i < n; i++) {
    p = strchr(p, '\n');
    if (!p) return false;
    p++;
  }
  *line = p;
  *len = strcspn(p, "\n");
  return true;
}

/* Under a diagnostic "setup:L:C: ..." shows the user's line L with a caret at column C (the
 * compiler cannot: the "file" it names is the user's command line). */
static void show_excerpt(const char *diag, const hone__snippet_spec *spec, FILE *out) {
  const char *text = NULL;
  const char *rest = NULL;
  if (starts_with(diag, "setup:"))
    text = spec->setup, rest = diag + 6;
  else if (starts_with(diag, "teardown:"))
    text = spec->teardown, rest = diag + 9;
  else if (starts_with(diag, "stmt:"))
    text = spec->stmt, rest = diag + 5;
  else
    return;
  char *end;
  long ln = strtol(rest, &end, 10);
  if (end == rest || *end != ':') return;
  long col = strtol(end + 1, &end, 10);
  const char *line;
  size_t len;
  if (ln < 1 || !nth_line(text, ln, &line, &len)) return;
  fprintf(out, "%5ld | %.*s\n", ln, (int)len, line);
  if (col < 1) return;
  fprintf(out, "      | ");
  for (long i = 0; i + 1 < col && (size_t)i < len; i++) fputc(line[i] == '\t' ? '\t' : ' ', out);
  fprintf(out, "^\n");
}

/* The length of the file name a compiler diagnostic is located in ("FILE:LINE:..." or
 * "FILE: In function ..."), or 0 when the line names no place ("cc1: error: ...",
 * "/usr/bin/ld: ..."). */
static size_t located_in(const char *line) {
  for (const char *c = strchr(line, ':'); c && c > line; c = strchr(c + 1, ':')) {
    const char *d = c + 1;
    while (*d >= '0' && *d <= '9') d++;
    if ((d > c + 1 && *d == ':') || starts_with(c, ": In function ") ||
        starts_with(c, ": At top level:"))
      return (size_t)(c - line);
  }
  return 0;
}

static bool named(const char *line, size_t len, const char *name) {
  return strlen(name) == len && strncmp(line, name, len) == 0;
}

/* Prints the compiler's output with every reference to the generated code removed: lines located
 * in GEN and what follows them up to the next located line (source excerpts, notes), "In
 * function" headers of the generated function and summaries. Diagnostics located in the user's
 * text (setup:, stmt:, -i:) get our own excerpt of it; those located in a real file (a header
 * of the user's) are shown as the compiler wrote them, excerpt included. Returns true when
 * something located in the user's text or files was printed. */
static bool print_mapped(const char *text, const hone__snippet_spec *spec, FILE *out) {
  bool user = false, show = false;
  const char *p = text;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    char *line = strndup(p, l);
    p = e ? e + 1 : p + l;
    if (!line) break;
    size_t fl = located_in(line);
    bool context = strstr(line, ": In function ") || strstr(line, ": At top level:");
    if (named(line, fl, "setup") || named(line, fl, "stmt") || named(line, fl, "teardown") ||
        named(line, fl, "-i")) {
      show = false; /* the compiler cannot show the user's command line: show_excerpt does */
      if (!context) {
        user = true;
        fprintf(out, "%s\n", line);
        if (!strstr(line, ": note: ")) show_excerpt(line, spec, out);
      }
    } else if (fl > 0) {
      show = !named(line, fl, GEN);
      if (show) {
        user = true;
        fprintf(out, "%s\n", line);
      }
    } else if (starts_with(line, "In file included from ")) {
      show = false;
      if (strstr(line, " -i:")) fprintf(out, "%s\n", line);
    } else if (show && !strstr(line, " generated.") && strcmp(line, "compilation terminated.")) {
      fprintf(out, "%s\n", line);
    }
    free(line);
  }
  return user;
}

/* The first "error:" message of the compiler or linker that is not about the user's text, for a
 * one-line report; malloc'd or NULL. */
static char *first_tool_error(const char *text, const char *cc) {
  const char *m = strstr(text, "cannot find -l");
  if (m) {
    const char *e = m + strlen("cannot find ");
    size_t l = strcspn(e, ": \n");
    char *lib = strndup(e, l);
    char *msg = NULL;
    if (lib && asprintf(&msg, "library not found: %s", lib) < 0) msg = NULL;
    free(lib);
    return msg;
  }
  m = strstr(text, "undefined reference to");
  if (m) {
    size_t l = strcspn(m, "\n");
    char *ref = strndup(m, l), *msg = NULL;
    if (ref && asprintf(&msg, "link error: %s (a missing -l LIB?)", ref) < 0) msg = NULL;
    free(ref);
    return msg;
  }
  const char *p = text;
  while (*p) {
    size_t l = strcspn(p, "\n");
    char *line = strndup(p, l);
    if (!line) return NULL;
    char *err = strstr(line, "error: ");
    if (err && located_in(line) == 0 && !strstr(line, "ld returned") &&
        !strstr(line, "linker command failed")) {
      char *msg = NULL;
      if (asprintf(&msg, "%s: %s", cc, err + strlen("error: ")) < 0) msg = NULL;
      free(line);
      return msg;
    }
    free(line);
    p += l;
    if (*p) p++;
  }
  return NULL;
}

/* ---- cache entries ---- */

typedef struct cc_identity {
  char *path;       /* resolved (realpath) */
  hone__strv words; /* the CC string split: words.v[0] is the program as named */
  struct stat st;
} cc_identity;

static void cc_identity_free(cc_identity *id) {
  free(id->path);
  hone__strv_free(&id->words);
}

static void key_add(hone__sha256 *c, const char *tag, const char *s) {
  hone__sha256_update(c, tag, strlen(tag) + 1);
  hone__sha256_update(c, s, strlen(s) + 1);
}

/* What names a snippet whatever compiler builds it: source, flags and link options. */
static void key_add_snippet(hone__sha256 *c, const char *source, const hone__strv *flags,
                            const hone__compile_opts *o) {
  char abi[64];
  snprintf(abi, sizeof abi, "hone-timeit-snippet abi %d", HONE__SNIPPET_ABI);
  key_add(c, "abi", abi);
  key_add(c, "source", source);
  for (size_t i = 0; i < flags->n; i++) key_add(c, "flag", flags->v[i]);
  const hone__strv *lists[3] = {o->incdirs, o->libdirs, o->libs};
  const char *tags[3] = {"-I", "-L", "-l"};
  for (int k = 0; k < 3; k++)
    if (lists[k])
      for (size_t i = 0; i < lists[k]->n; i++) key_add(c, tags[k], lists[k]->v[i]);
  if (o->quote_dir) key_add(c, "-iquote", o->quote_dir);
  /* -x files: where they are (their directory is searched for headers too) and what they hold. */
  if (o->sources)
    for (size_t i = 0; i < o->sources->n; i++) {
      char *abs = realpath(o->sources->v[i], NULL);
      char sum[65] = "unreadable";
      key_add(c, "-x", abs ? abs : o->sources->v[i]);
      key_add(c, "-x as given", o->sources->v[i]); /* diagnostics name it so */
      if (abs) hone__file_sha256(abs, sum, NULL);
      key_add(c, "-x sha256", sum);
      free(abs);
    }
  /* The compiler reads these too: another CPATH finds other headers (which the entry's recorded
   * headers cannot tell), another LIBRARY_PATH other libraries. Unset differs from empty. */
  static const char *const env[] = {"CPATH", "C_INCLUDE_PATH", "LIBRARY_PATH"};
  for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
    const char *v = getenv(env[i]);
    key_add(c, env[i], v ? "set" : "unset");
    if (v) key_add(c, env[i], v);
  }
}

/* The cache key: the snippet and the compiler's identity (its file, read without running it). */
static void compute_key(const char *source, const cc_identity *id, const hone__strv *flags,
                        const hone__compile_opts *o, char out[65]) {
  hone__sha256 c;
  hone__sha256_init(&c);
  key_add_snippet(&c, source, flags, o);
  key_add(&c, "cc", id->path);
  char st[128];
  snprintf(st, sizeof st, "%llu %llu %lld %lld.%09ld", (unsigned long long)id->st.st_dev,
           (unsigned long long)id->st.st_ino, (long long)id->st.st_size,
           (long long)id->st.st_mtim.tv_sec, (long)id->st.st_mtim.tv_nsec);
  key_add(&c, "cc-stat", st);
  for (size_t i = 1; i < id->words.n; i++) key_add(&c, "cc-arg", id->words.v[i]);
  hone__sha256_hex(&c, out);
}

static bool entry_valid(const char *dir, hone__snippet_obj *obj);

/* The key of a snippet whatever compiler builds it. It names the last entry built for it
 * (timeit/by-snippet/SKEY -> ../KEY), the fallback when the compiler asked for cannot run. */
static void compute_snippet_key(const char *source, const hone__strv *flags,
                                const hone__compile_opts *o, char out[65]) {
  hone__sha256 c;
  hone__sha256_init(&c);
  key_add_snippet(&c, source, flags, o);
  hone__sha256_hex(&c, out);
}

/* Points timeit/by-snippet/SKEY at entry KEY (atomically: a new link renamed over the old). */
static void index_entry(const char *tdir, const char *skey, const char *key) {
  char *idir = hone__path_join(tdir, "by-snippet");
  char *link = NULL, *tmp = NULL, *target = NULL;
  if (!idir || hone__mkdir_p(idir) != 0) goto out;
  if (asprintf(&link, "%s/%s", idir, skey) < 0) link = NULL;
  if (asprintf(&tmp, "%s/.tmp-%s-%ld", idir, skey, (long)getpid()) < 0) tmp = NULL;
  if (asprintf(&target, "../%s", key) < 0) target = NULL;
  if (!link || !tmp || !target) goto out;
  unlink(tmp);
  if (symlink(target, tmp) == 0 && rename(tmp, link) != 0) unlink(tmp);
out:
  free(idir);
  free(link);
  free(tmp);
  free(target);
}

/* The entry last built for SKEY by any compiler, when it is intact: its directory, or NULL. */
static char *indexed_entry(const char *tdir, const char *skey, hone__snippet_obj *obj) {
  char *link = NULL;
  if (asprintf(&link, "%s/by-snippet/%s", tdir, skey) < 0) return NULL;
  char *dir = realpath(link, NULL);
  free(link);
  if (dir && !entry_valid(dir, obj)) {
    free(dir);
    dir = NULL;
  }
  return dir;
}

/* Whether every file recorded in meta is still the file the object was compiled from: the
 * generated source names headers, not their contents. */
static bool deps_unchanged(const hone__entry_meta *m) {
  for (size_t i = 0; i < m->ndeps; i++) {
    char now[128];
    if (!hone__file_stamp(m->deps[i].path, now, sizeof now) || strcmp(now, m->deps[i].stamp) != 0)
      return false;
  }
  return true;
}

/* Whether dir holds a complete, intact entry; fills obj's paths and version when it does. */
static bool entry_valid(const char *dir, hone__snippet_obj *obj) {
  char *meta_path = hone__path_join(dir, "meta");
  char *so_path = hone__path_join(dir, "snippet.so");
  size_t len = 0;
  char *text = meta_path ? hone__read_whole(meta_path, &len) : NULL;
  hone__entry_meta m;
  bool ok = false;
  if (text && so_path && hone__entry_meta_parse(text, len, &m) == 0) {
    char have[65];
    if (hone__file_sha256(so_path, have, NULL) && strcmp(m.so_sha256, have) == 0 &&
        deps_unchanged(&m)) {
      ok = true;
      if (obj) {
        free(obj->so_path);
        obj->so_path = so_path;
        so_path = NULL;
        free(obj->cc_version);
        obj->cc_version = m.cc_version;
        m.cc_version = NULL;
        /* The compiler that built it: the one asked for on a hit by key, another one when
         * hone__snippet_build falls back on the snippet's build by any compiler. */
        if (m.cc_path) {
          free(obj->cc_path);
          obj->cc_path = m.cc_path;
          m.cc_path = NULL;
        }
      }
    }
    hone__entry_meta_free(&m);
  }
  free(text);
  free(meta_path);
  free(so_path);
  return ok;
}

static char *compiler_version(const char *cc_path, const char *tmpdir) {
  char *out_path = hone__path_join(tmpdir, "version.txt");
  if (!out_path) return NULL;
  char *argv[] = {(char *)cc_path, "--version", NULL};
  int st = run_to_file(argv, out_path);
  char *text = st >= 0 ? hone__read_whole(out_path, NULL) : NULL;
  unlink(out_path);
  free(out_path);
  if (!text) return NULL;
  text[strcspn(text, "\n")] = '\0';
  return text;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* compile_in's status for a compiler that failed without printing anything (CC=false, a broken
 * wrapper): not a diagnosis of the snippet, so hone__snippet_build decides what to say. */
#define HONE__CC_SILENT 100

/* The compiler, its arguments, the flags and the header search options every compilation of a
 * snippet shares. The directory of each -x file is searched after the system's (-idirafter),
 * for both "" and <> includes, so that `-x mysort.c -i mysort.h` finds the header next to its
 * source without shadowing a system header. 0 or HONE_ENOMEM. */
static int push_common(hone__strv *argv, const cc_identity *id, const hone__strv *flags,
                       const hone__compile_opts *o) {
  bool oom = hone__strv_push(argv, id->path) != 0;
  for (size_t i = 1; i < id->words.n; i++) oom |= hone__strv_push(argv, id->words.v[i]) != 0;
  for (size_t i = 0; i < flags->n; i++) oom |= hone__strv_push(argv, flags->v[i]) != 0;
  if (o->incdirs)
    for (size_t i = 0; i < o->incdirs->n; i++) {
      oom |= hone__strv_push(argv, "-I") != 0;
      oom |= hone__strv_push(argv, o->incdirs->v[i]) != 0;
    }
  if (o->quote_dir) {
    oom |= hone__strv_push(argv, "-iquote") != 0;
    oom |= hone__strv_push(argv, o->quote_dir) != 0;
  }
  for (size_t i = 0; o->sources && i < o->sources->n; i++) {
    char *abs = realpath(o->sources->v[i], NULL);
    char *slash = abs ? strrchr(abs, '/') : NULL;
    if (slash) *slash = '\0';
    oom |= hone__strv_push(argv, "-idirafter") != 0;
    oom |= hone__strv_push(argv, slash ? (slash == abs ? "/" : abs) : ".") != 0;
    free(abs);
  }
  return oom ? HONE_ENOMEM : 0;
}

/* Compiles each -x file, as the user named it (so that the compiler's messages name it so),
 * into dir/src-N.o, its -MD list in dir/src-N.d. common: push_common's arguments. Prints and
 * returns an exit status. */
static int compile_sources(const char *cmd, const char *dir, const hone__snippet_spec *spec,
                           const hone__strv *common, const hone__compile_opts *o) {
  char *log = hone__path_join(dir, "compiler-src.txt");
  if (!log) return hone__cli_error(cmd, "out of memory");
  int rc = HONE_EXIT_OK;
  for (size_t i = 0; i < o->sources->n && rc == HONE_EXIT_OK; i++) {
    const char *file = o->sources->v[i];
    hone__strv argv = {0};
    char *obj = NULL, *deps = NULL;
    if (asprintf(&obj, "%s/src-%zu.o", dir, i) < 0) obj = NULL;
    if (asprintf(&deps, "%s/src-%zu.d", dir, i) < 0) deps = NULL;
    bool oom = !obj || !deps;
    for (size_t k = 0; !oom && k < common->n; k++) oom |= hone__strv_push(&argv, common->v[k]) != 0;
    const char *fixed[] = {"-fPIC", "-c", "-MD", "-MF", deps, "-o", obj, file};
    for (size_t k = 0; !oom && k < sizeof fixed / sizeof fixed[0]; k++)
      oom |= hone__strv_push(&argv, fixed[k]) != 0;
    if (oom) {
      rc = hone__cli_error(cmd, "out of memory");
    } else {
      if (o->show_warnings) {
        hone__cli_progress_done();
        fprintf(stderr, "hone %s:", cmd);
        for (size_t k = 0; k < argv.n; k++) fprintf(stderr, " %s", argv.v[k]);
        fputc('\n', stderr);
      }
      int status = run_to_file(argv.v, log);
      char *text = hone__read_whole(log, NULL);
      bool ok = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (status < 0) {
        hone__cli_error(cmd, "cannot run the compiler %s: %s", argv.v[0], strerror(errno));
        rc = HONE_EXIT_USAGE;
      } else if (!ok) {
        hone__cli_progress_done();
        /* Messages located in the user's file (and its headers) are shown as the compiler wrote
         * them: that file is real, with the user's lines. */
        bool located = text && print_mapped(text, spec, stderr);
        char *msg = text && !located ? first_tool_error(text, common->v[0]) : NULL;
        if (msg)
          hone__cli_error(cmd, "%s", msg);
        else if (!located && text && *text)
          fputs(text, stderr);
        fprintf(stderr, "hone %s: %s does not compile\n", cmd, file);
        free(msg);
        rc = HONE_EXIT_USAGE;
      } else if (o->show_warnings && text && *text) {
        hone__cli_progress_done();
        print_mapped(text, spec, stderr);
      }
      free(text);
      unlink(log);
    }
    hone__strv_free(&argv);
    free(obj);
    free(deps);
  }
  free(log);
  return rc;
}

/* Compiles source in dir (snippet.c -> snippet.so). Prints and returns an exit status (or
 * HONE__CC_SILENT, unprinted). */
static int compile_in(const char *cmd, const char *dir, const char *source,
                      const hone__snippet_spec *spec, const cc_identity *id,
                      const hone__strv *flags, const hone__compile_opts *o) {
  char *src = hone__path_join(dir, "snippet.c"), *so = hone__path_join(dir, "snippet.so");
  char *log = hone__path_join(dir, "compiler.txt"), *deps = hone__path_join(dir, "deps.d");
  hone__strv argv = {0};
  int rc = HONE_EXIT_FAILURE;
  if (!src || !so || !log || !deps) goto out;
  int w = hone__write_whole(src, source, strlen(source));
  if (w) {
    hone__cli_error(cmd, "cannot write %s: %s", src, strerror(-w));
    goto out;
  }
  bool oom = push_common(&argv, id, flags, o) != 0;
  if (!oom && o->sources && o->sources->n) {
    rc = compile_sources(cmd, dir, spec, &argv, o);
    if (rc) goto out;
    rc = HONE_EXIT_FAILURE;
  }
  /* -MD: the list of headers read, which a cache hit checks for changes (write_meta). */
  const char *fixed[] = {"-fPIC", "-shared", "-Wl,-z,defs", "-MD", "-MF", deps, "-o", so, src};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    oom |= hone__strv_push(&argv, fixed[i]) != 0;
  if (o->libdirs)
    for (size_t i = 0; i < o->libdirs->n; i++) {
      char *a = NULL, *r = NULL;
      if (asprintf(&a, "-L%s", o->libdirs->v[i]) < 0) a = NULL;
      /* The object is dlopen'ed later: it must find its libraries where it was linked. */
      if (asprintf(&r, "-Wl,-rpath,%s", o->libdirs->v[i]) < 0) r = NULL;
      oom |= !a || !r || hone__strv_push(&argv, a) != 0 || hone__strv_push(&argv, r) != 0;
      free(a);
      free(r);
    }
  for (size_t i = 0; o->sources && i < o->sources->n; i++) {
    char *obj = NULL;
    if (asprintf(&obj, "%s/src-%zu.o", dir, i) < 0) obj = NULL;
    oom |= !obj || hone__strv_push(&argv, obj) != 0;
    free(obj);
  }
  if (o->libs)
    for (size_t i = 0; i < o->libs->n; i++) {
      char *a = NULL;
      if (asprintf(&a, "-l%s", o->libs->v[i]) < 0) a = NULL;
      oom |= !a || hone__strv_push(&argv, a) != 0;
      free(a);
    }
  oom |= hone__strv_push(&argv, "-lm") != 0;
  if (oom) {
    hone__cli_error(cmd, "out of memory");
    goto out;
  }
  if (o->show_warnings) {
    hone__cli_progress_done();
    fprintf(stderr, "hone %s:", cmd);
    for (size_t i = 0; i < argv.n; i++) fprintf(stderr, " %s", argv.v[i]);
    fputc('\n', stderr);
  }
  int status = run_to_file(argv.v, log);
  char *text = hone__read_whole(log, NULL);
  if (status < 0) {
    hone__cli_error(cmd, "cannot run the compiler %s: %s", id->path, strerror(errno));
    rc = HONE_EXIT_USAGE;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && access(so, R_OK) == 0) {
    if (o->show_warnings && text && *text) {
      hone__cli_progress_done();
      print_mapped(text, spec, stderr);
    }
    rc = HONE_EXIT_OK;
  } else {
    hone__cli_progress_done();
    rc = HONE_EXIT_USAGE;
    bool user = text && print_mapped(text, spec, stderr);
    char *msg = text ? first_tool_error(text, id->words.v[0]) : NULL;
    if (msg)
      hone__cli_error(cmd, "%s", msg);
    else if (user)
      fprintf(stderr, "hone %s: the snippet does not compile\n", cmd);
    else if (WIFSIGNALED(status))
      hone__cli_error(cmd, "the compiler %s was killed by signal %d", id->words.v[0],
                      WTERMSIG(status));
    else if (!text || !*text)
      rc = HONE__CC_SILENT; /* the caller may fall back on a cached build, or report it */
    else
      hone__cli_error(cmd, "the compiler '%s' failed (exit status %d)", id->words.v[0],
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    free(msg);
  }
  free(text);
  unlink(log);
out:
  hone__strv_free(&argv);
  free(src);
  free(so);
  free(log);
  free(deps);
  return rc;
}

typedef struct deps_ctx {
  const char *self; /* the snippet's own source, left out */
  sbuf *out;
} deps_ctx;

static int dep_line(void *arg, const char *path) {
  deps_ctx *c = arg;
  if (strcmp(path, c->self) == 0) return 0;
  char *abs = realpath(path, NULL);
  char stamp[128];
  if (abs && !strchr(abs, '\n') && hone__file_stamp(abs, stamp, sizeof stamp))
    sb_addf(c->out, "dep %s %s\n", stamp, abs);
  free(abs);
  return c->out->oom ? -1 : 0;
}

/* The headers the compiler read, from its -MD list in dir/deps.d (removed here), as meta lines
 * "dep STAMP PATH" with PATH made absolute and the snippet's own source left out; "" when there
 * is no list, NULL when out of memory. */
static char *deps_lines(const char *dir) {
  char *dpath = hone__path_join(dir, "deps.d"), *src = hone__path_join(dir, "snippet.c");
  size_t len = 0;
  char *text = dpath ? hone__read_whole(dpath, &len) : NULL;
  sbuf b = {0};
  sb_add(&b, "");
  if (text && src) {
    deps_ctx c = {src, &b};
    if (hone__makedeps_parse(text, len, dep_line, &c) != 0) b.oom = true;
  }
  /* The -x files' lists: src-0.d, src-1.d, ... (each names its own source, recorded too). */
  for (size_t i = 0; src && !b.oom; i++) {
    char *sp = NULL;
    if (asprintf(&sp, "%s/src-%zu.d", dir, i) < 0) {
      b.oom = true;
      break;
    }
    size_t sl = 0;
    char *st = hone__read_whole(sp, &sl);
    if (st) {
      deps_ctx c = {src, &b};
      if (hone__makedeps_parse(st, sl, dep_line, &c) != 0) b.oom = true;
      unlink(sp);
    }
    free(st);
    free(sp);
    if (!st) break;
  }
  if (dpath) unlink(dpath);
  free(text);
  free(dpath);
  free(src);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* Appends the directories of a PATH-like list (':'-separated; an empty entry is skipped). */
static void push_path_list(hone__strv *dirs, const char *list) {
  for (const char *p = list; p && *p;) {
    size_t l = strcspn(p, ":");
    if (l > 0) {
      char *d = strndup(p, l);
      if (d) hone__strv_push(dirs, d);
      free(d);
    }
    p += l;
    if (*p) p++;
  }
}

/* The directories the linker searches for -l, in its order: -L, LIBRARY_PATH, then the
 * compiler's own (`CC -print-search-dirs`, run at build time only). */
static void library_dirs(const char *cc_path, const char *tmpdir, const hone__compile_opts *o,
                         hone__strv *dirs) {
  if (o->libdirs)
    for (size_t i = 0; i < o->libdirs->n; i++) hone__strv_push(dirs, o->libdirs->v[i]);
  push_path_list(dirs, getenv("LIBRARY_PATH"));
  char *out_path = cc_path ? hone__path_join(tmpdir, "search-dirs.txt") : NULL;
  if (!out_path) return;
  char *argv[] = {(char *)cc_path, "-print-search-dirs", NULL};
  int st = run_to_file(argv, out_path);
  char *text =
      st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? hone__read_whole(out_path, NULL) : NULL;
  unlink(out_path);
  free(out_path);
  for (const char *p = text; p && *p;) {
    size_t l = strcspn(p, "\n");
    if (starts_with(p, "libraries: ")) {
      char *list = strndup(p + strlen("libraries: "), l - strlen("libraries: "));
      if (list) push_path_list(dirs, list[0] == '=' ? list + 1 : list);
      free(list);
    }
    p += l;
    if (*p) p++;
  }
  free(text);
}

/* The static archives the -l options linked in, as meta lines "dep STAMP PATH" (an archive is
 * copied into the object, so a rebuilt libfoo.a must rebuild it; a shared library is loaded at
 * run time and is not recorded). Each -l is resolved as the linker does: in each directory,
 * libNAME.so before libNAME.a; -l:FILE names the file. "" when there is none, NULL when out
 * of memory. */
static char *archive_lines(const char *cc_path, const char *tmpdir, const hone__compile_opts *o) {
  sbuf b = {0};
  sb_add(&b, "");
  if (!o->libs || o->libs->n == 0) return b.p;
  hone__strv dirs = {0};
  library_dirs(cc_path, tmpdir, o, &dirs);
  for (size_t i = 0; i < o->libs->n; i++) {
    const char *name = o->libs->v[i];
    for (size_t d = 0; d < dirs.n; d++) {
      char *cand[2] = {NULL, NULL};
      if (name[0] == ':') {
        if (asprintf(&cand[0], "%s/%s", dirs.v[d], name + 1) < 0) cand[0] = NULL;
      } else {
        if (asprintf(&cand[0], "%s/lib%s.so", dirs.v[d], name) < 0) cand[0] = NULL;
        if (asprintf(&cand[1], "%s/lib%s.a", dirs.v[d], name) < 0) cand[1] = NULL;
      }
      bool found = false;
      for (int k = 0; k < 2 && !found; k++) {
        struct stat st;
        if (!cand[k] || stat(cand[k], &st) != 0 || !S_ISREG(st.st_mode)) continue;
        found = true;
        size_t l = strlen(cand[k]);
        char *abs = realpath(cand[k], NULL);
        char stamp[128];
        if (l > 2 && strcmp(cand[k] + l - 2, ".a") == 0 && abs && !strchr(abs, '\n') &&
            hone__file_stamp(abs, stamp, sizeof stamp))
          sb_addf(&b, "dep %s %s\n", stamp, abs);
        free(abs);
      }
      free(cand[0]);
      free(cand[1]);
      if (found) break;
    }
  }
  hone__strv_free(&dirs);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

static int write_meta(const char *dir, const hone__snippet_obj *obj, const hone__compile_opts *o) {
  char *so = hone__path_join(dir, "snippet.so"), *meta_path = hone__path_join(dir, "meta");
  char sum[65];
  long long size = 0;
  int rc = -ENOMEM;
  if (so && meta_path) {
    rc = -EIO;
    char *deps = deps_lines(dir);
    char *archives = archive_lines(obj->cc_path, dir, o);
    if (!deps || !archives) {
      rc = -ENOMEM;
    } else if (hone__file_sha256(so, sum, &size)) {
      char *meta = NULL;
      int n = asprintf(&meta,
                       HONE__ENTRY_MAGIC "so_sha256 %s\nso_size %lld\ncc %s\ncc_path %s\n"
                                         "cc_version %s\ncflags %s\ncreated %lld\n%s%s",
                       sum, size, o->cc, obj->cc_path, obj->cc_version ? obj->cc_version : "",
                       o->cflags, (long long)time(NULL), deps, archives);
      rc = n < 0 ? -ENOMEM : hone__write_whole(meta_path, meta, (size_t)n);
      free(meta);
    }
    free(deps);
    free(archives);
  }
  free(so);
  free(meta_path);
  return rc;
}

static int resolve_cc(const char *cmd, const char *cc, cc_identity *id) {
  memset(id, 0, sizeof *id);
  if (hone__strv_split(&id->words, cc) != 0) return hone__cli_error(cmd, "out of memory");
  if (id->words.n == 0) return hone__cli_usage_error(cmd, "the compiler command is empty");
  char *found = find_program(id->words.v[0]);
  if (!found) {
    hone__cli_error(cmd, "compiler not found: '%s' (set CC or use --cc)", id->words.v[0]);
    return HONE_EXIT_USAGE;
  }
  char *real = realpath(found, NULL);
  /* Keep the name as found (cc -> gcc-12 would also do) but key on the file actually run. */
  id->path = found;
  if (!real || stat(real, &id->st) != 0) {
    free(real);
    hone__cli_error(cmd, "compiler not usable: '%s'", found);
    return HONE_EXIT_USAGE;
  }
  free(real);
  return HONE_EXIT_OK;
}

int hone__snippet_build(const char *cmd, const hone__snippet_spec *spec,
                        const hone__compile_opts *o, hone__snippet_obj *out) {
  memset(out, 0, sizeof *out);
  cc_identity id;
  int rc = resolve_cc(cmd, o->cc, &id);
  if (rc) {
    cc_identity_free(&id);
    return rc;
  }
  hone__strv flags = {0};
  char *source = hone__snippet_source(spec);
  char *root = NULL, *tdir = NULL, *tmp = NULL, *entry = NULL;
  char skey[65] = "";
  rc = HONE_EXIT_FAILURE;
  if (!source || hone__strv_split(&flags, o->cflags) != 0) {
    hone__cli_error(cmd, "out of memory");
    goto out;
  }
  out->cc_path = strdup(id.path);
  compute_key(source, &id, &flags, o, out->key);

  if (o->use_cache) {
    root = hone__cache_dir();
    if (!root) {
      hone__cli_error(cmd, "no cache directory: set HOME or XDG_CACHE_HOME, or use --no-cache");
      goto out;
    }
    tdir = hone__path_join(root, "timeit");
    entry = tdir ? hone__path_join(tdir, out->key) : NULL;
    if (!entry) goto oom;
    int m = hone__mkdir_p(tdir);
    if (m) {
      hone__cli_error(cmd, "cannot create the cache directory %s: %s", tdir, strerror(-m));
      goto out;
    }
    compute_snippet_key(source, &flags, o, skey);
    if (entry_valid(entry, out)) {
      out->cache_hit = true;
      index_entry(tdir, skey, out->key);
      out->entry_dir = entry;
      entry = NULL;
      rc = HONE_EXIT_OK;
      goto out;
    }
    if (asprintf(&tmp, "%s/.tmp-XXXXXX", tdir) < 0) tmp = NULL;
  } else {
    const char *t = getenv("TMPDIR");
    if (asprintf(&tmp, "%s/hone-timeit-XXXXXX", t && *t ? t : "/tmp") < 0) tmp = NULL;
  }
  if (!tmp) goto oom;
  if (!mkdtemp(tmp)) {
    hone__cli_error(cmd, "cannot create a directory %s: %s", tmp, strerror(errno));
    free(tmp);
    tmp = NULL;
    goto out;
  }
  double t0 = now_seconds();
  rc = compile_in(cmd, tmp, source, spec, &id, &flags, o);
  out->compile_seconds = now_seconds() - t0;
  if (rc == HONE__CC_SILENT) {
    /* The compiler cannot run at all (CC=false, a broken wrapper). When this very snippet with
     * these flags was built before by another compiler, use that build and say so, rather than
     * refuse to time what is already compiled. */
    hone__rm_rf(tmp);
    char *prev = o->use_cache && o->allow_fallback ? indexed_entry(tdir, skey, out) : NULL;
    if (prev) {
      out->cache_hit = true;
      out->entry_dir = prev;
      out->compile_seconds = 0;
      const char *base = strrchr(prev, '/');
      snprintf(out->key, sizeof out->key, "%s", base ? base + 1 : prev);
      hone__cli_progress_done();
      fprintf(stderr,
              "hone %s: note: the compiler '%s' failed without a word; timing the build of this "
              "snippet cached from %s\n",
              cmd, id.words.v[0],
              out->cc_version && *out->cc_version ? out->cc_version : "another compiler");
      rc = HONE_EXIT_OK;
    } else {
      hone__cli_error(cmd, "the compiler '%s' failed without a word (is it a C compiler?)",
                      id.words.v[0]);
      rc = HONE_EXIT_USAGE;
    }
    goto out;
  }
  if (rc) {
    hone__rm_rf(tmp);
    goto out;
  }
  out->cc_version = compiler_version(id.path, tmp);
  if (write_meta(tmp, out, o) != 0) {
    hone__cli_error(cmd, "cannot write the build's metadata in %s", tmp);
    hone__rm_rf(tmp);
    rc = HONE_EXIT_FAILURE;
    goto out;
  }
  if (o->use_cache) {
    if (rename(tmp, entry) != 0) {
      /* An entry exists: another run finished first (use it), or it is corrupt (replace it). */
      if (entry_valid(entry, NULL)) {
        hone__rm_rf(tmp);
      } else {
        char *trash = NULL;
        if (asprintf(&trash, "%s/.trash-%s-%ld", tdir, out->key, (long)getpid()) >= 0) {
          if (rename(entry, trash) == 0) hone__rm_rf(trash);
          free(trash);
        }
        if (rename(tmp, entry) != 0) {
          /* Lost a race again: keep our private copy for this run. */
          out->temporary = true;
          out->entry_dir = tmp;
          tmp = NULL;
        }
      }
    }
    if (!out->entry_dir) {
      out->entry_dir = entry;
      entry = NULL;
    }
    if (!out->temporary) index_entry(tdir, skey, out->key);
  } else {
    out->temporary = true;
    out->entry_dir = tmp;
    tmp = NULL;
  }
  free(out->so_path);
  out->so_path = hone__path_join(out->entry_dir, "snippet.so");
  if (!out->so_path) goto oom;
  rc = HONE_EXIT_OK;
  goto out;
oom:
  hone__cli_error(cmd, "out of memory");
  rc = HONE_EXIT_FAILURE;
out:
  free(tmp);
  free(entry);
  free(tdir);
  free(root);
  free(source);
  hone__strv_free(&flags);
  cc_identity_free(&id);
  if (rc) hone__snippet_release(out);
  return rc;
}

void hone__snippet_invalidate(hone__snippet_obj *obj) {
  if (!obj->entry_dir || obj->temporary) return;
  char *trash = NULL;
  if (asprintf(&trash, "%s.trash-%ld", obj->entry_dir, (long)getpid()) < 0) return;
  if (rename(obj->entry_dir, trash) == 0) hone__rm_rf(trash);
  free(trash);
}

void hone__snippet_release(hone__snippet_obj *obj) {
  if (obj->temporary && obj->entry_dir) hone__rm_rf(obj->entry_dir);
  free(obj->so_path);
  free(obj->entry_dir);
  free(obj->cc_path);
  free(obj->cc_version);
  memset(obj, 0, sizeof *obj);
}
