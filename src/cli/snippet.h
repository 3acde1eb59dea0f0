/* snippet.h: C snippets for `hone timeit` — the generated translation unit, the compiler
 * invocation (diagnostics mapped back to the user's setup and statement), and the cache of compiled
 * shared objects under $XDG_CACHE_HOME/hone. Internal to the CLI.
 *
 * The generated object exports one function, HONE__SNIPPET_SYMBOL, taking a
 * hone__snippet_driver: the timing loop inside the object calls the driver's next/start/stop
 * through these pointers, so the object links nothing of hone's. Errors are printed here
 * ("hone timeit: ..."); functions return an enum hone_exit value.
 */
#ifndef HONE_CLI_SNIPPET_H
#define HONE_CLI_SNIPPET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

/* Bumped whenever the generated code or the driver struct changes: part of every cache key. */
#define HONE__SNIPPET_ABI 2 /* 2: setup and teardown run once per trial */
#define HONE__SNIPPET_SYMBOL "hone__timeit_main"

/* What the generated function receives; the generated source declares the same layout. */
typedef struct hone__snippet_driver {
  uint32_t abi; /* HONE__SNIPPET_ABI */
  void *run;
  uint64_t (*next)(void *run);
  void (*start)(void *run);
  void (*stop)(void *run);
} hone__snippet_driver;
typedef int (*hone__snippet_fn)(const hone__snippet_driver *driver);

/* A growable list of strings (owned copies). */
typedef struct hone__strv {
  char **v;
  size_t n, cap;
} hone__strv;
int hone__strv_push(hone__strv *s, const char *str); /* 0 or HONE_ENOMEM */
void hone__strv_free(hone__strv *s);
/* Splits on blanks (no quoting) and appends each word. */
int hone__strv_split(hone__strv *s, const char *words);

/* What to compile. */
typedef struct hone__snippet_spec {
  const char *setup;          /* lines of setup, run before every trial; "" for none */
  const char *stmt;           /* lines of the statement; "" for the empty statement */
  const char *teardown;       /* lines run after every trial, in setup's scope; "" or NULL */
  const hone__strv *includes; /* -i: "name.h", "<name.h>" or "\"name.h\"" */
} hone__snippet_spec;

/* How to compile it. */
typedef struct hone__compile_opts {
  const char *cc;         /* compiler command: a program, maybe followed by arguments */
  const char *cflags;     /* blank-separated flags */
  const hone__strv *libs; /* -l */
  const hone__strv *libdirs;
  const hone__strv *incdirs;
  const char *quote_dir; /* -iquote: where "name.h" is also looked for (the current directory) */
  const hone__strv *sources; /* -x: C files compiled into the object, as the user named them */
  bool use_cache;            /* false: compile into a temporary directory removed by _release */
  bool show_warnings;        /* print the compiler's (mapped) warnings of a successful build */
  /* A compiler that fails without a word may be replaced by the snippet's cached build by
   * another compiler (CC=false on a warm run); false when compilers are being compared. */
  bool allow_fallback;
} hone__compile_opts;

/* A compiled snippet, ready to dlopen. */
typedef struct hone__snippet_obj {
  char *so_path;    /* the shared object */
  char *entry_dir;  /* the cache entry or temporary directory holding it */
  char *cc_path;    /* the compiler, resolved */
  char *cc_version; /* first line of `CC --version` (recorded when compiled) */
  char key[65];     /* cache key (hex SHA-256) */
  bool cache_hit;
  bool temporary;         /* entry_dir is removed by hone__snippet_release */
  double compile_seconds; /* 0 on a cache hit */
} hone__snippet_obj;

/* The generated translation unit (malloc'd, caller frees), or NULL when out of memory. */
char *hone__snippet_source(const hone__snippet_spec *spec);

/* Builds (or finds in the cache) the object for spec compiled by opts. Returns HONE_EXIT_OK, or
 * HONE_EXIT_USAGE after printing why (compile error against setup:/stmt:, no compiler, bad flag,
 * missing library), or HONE_EXIT_FAILURE (I/O). */
int hone__snippet_build(const char *cmd, const hone__snippet_spec *spec,
                        const hone__compile_opts *opts, hone__snippet_obj *out);
/* Throws a cache entry away (found corrupt: dlopen failed) so the next build remakes it. */
void hone__snippet_invalidate(hone__snippet_obj *obj);
/* Frees obj's strings and removes a temporary build. */
void hone__snippet_release(hone__snippet_obj *obj);

/* The cache directory ($XDG_CACHE_HOME/hone or ~/.cache/hone), malloc'd; NULL without HOME. */
char *hone__cache_dir(void);
/* Creates dir and missing parents with mode 0700. 0 or -errno. */
int hone__mkdir_p(const char *dir);
/* Removes a file or directory tree; 0 or -errno of the first failure. */
int hone__rm_rf(const char *path);

#endif /* HONE_CLI_SNIPPET_H */
