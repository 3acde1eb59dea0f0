/* prof_symbols.h: runtime address -> function name, source file and the line where the function
 * is defined, for `hone report`, with elfutils' libdw. Each recorded mapping (path, load bias,
 * build-id) is opened lazily, offline, at its recorded bias, so static functions and PIE
 * executables resolve without -rdynamic; a file that is gone or whose build-id differs from the
 * recording is reported once through the warning callback and its functions fall back to
 * addresses (the object's path and the offset in it, so runs of one binary still merge).
 * Internal to the hone command; not thread-safe. */
#ifndef HONE_CLI_PROF_SYMBOLS_H
#define HONE_CLI_PROF_SYMBOLS_H

#include <stdint.h>

#include "hone/profdata.h"

typedef struct hone__syms hone__syms;

/* What an address resolved to. Strings stay valid until the next hone__syms_resolve() or
 * hone__syms_free(). `file` is "~" and `line` 0 when the address is in no recorded mapping. */
typedef struct hone__sym {
  const char *name;
  const char *file;
  unsigned line;
} hone__sym;

typedef void (*hone__syms_warn_fn)(void *ctx, const char *msg);

/* A resolver; warn (may be NULL) receives one message per unusable object. NULL on ENOMEM. */
hone__syms *hone__syms_new(hone__syms_warn_fn warn, void *ctx);
void hone__syms_free(hone__syms *s);
/* Adds a recorded mapping (copied). Returns 0 or HONE_ENOMEM. */
int hone__syms_add_mapping(hone__syms *s, const hone_prof_mapping *m);
/* Resolves a runtime address. Returns 0 or HONE_ENOMEM; always fills *out otherwise. */
int hone__syms_resolve(hone__syms *s, uint64_t addr, hone__sym *out);

#endif /* HONE_CLI_PROF_SYMBOLS_H */
