/* cache_files.h: the readers of the two files a `hone timeit` cache entry is made from besides
 * the object — the compiler's make-style dependency list (-MD) and the entry's `meta` — taking
 * bytes, so that they can be fuzzed (tests/fuzz/fuzz_makedeps.c, fuzz_entry_meta.c). The cache
 * directory is the user's, and anything may have been written there: both readers refuse what
 * is malformed and never read past the length given. Internal to the CLI.
 */
#ifndef HONE_CLI_CACHE_FILES_H
#define HONE_CLI_CACHE_FILES_H

#include <stddef.h>

/* Calls fn(arg, path) for every prerequisite in text[0, len), a rule list in make's syntax as
 * gcc and clang -MD write it: "target: dep dep \<newline> dep", a blank or '#' in a name escaped
 * with a backslash, '$' doubled; the target itself is not passed. Returns 0, -1 when out of
 * memory, or the first non-zero value fn returned. */
int hone__makedeps_parse(const char *text, size_t len, int (*fn)(void *arg, const char *path),
                         void *arg);

/* The first line of an entry's meta file. 2: the headers read are recorded ("dep" lines); an
 * entry of version 1, which has none, is rebuilt. */
#define HONE__ENTRY_MAGIC "hone-timeit-entry 2\n"

/* A file the object was built from, and what it was then ("dev:ino:size:mtime", no blanks). */
typedef struct hone__entry_dep {
  char *stamp;
  char *path;
} hone__entry_dep;

/* What meta says. Strings are malloc'd; hone__entry_meta_free releases them. */
typedef struct hone__entry_meta {
  char so_sha256[65]; /* 64 lowercase hex digits */
  char *cc_path;      /* NULL when absent */
  char *cc_version;   /* NULL when absent ("" when recorded empty) */
  hone__entry_dep *deps;
  size_t ndeps;
} hone__entry_meta;

/* Reads meta: "key value" lines after HONE__ENTRY_MAGIC; "dep STAMP PATH" lines (PATH absolute,
 * to the end of the line). Returns 0, -1 when it is not an intact meta (another magic, a NUL
 * byte, no so_sha256 or one that is not 64 hex digits, a malformed dep line), or -2 when out of
 * memory; *out is then empty. */
int hone__entry_meta_parse(const char *bytes, size_t len, hone__entry_meta *out);
void hone__entry_meta_free(hone__entry_meta *m);

#endif /* HONE_CLI_CACHE_FILES_H */
