/* hone/symbols.h: libhone-symbols, the symbol resolver for reports (hone/report.h) on elfutils'
 * libdw: a runtime address -> function name, source file and the line where the function is
 * defined. Each recorded mapping (path, load bias, build-id) is opened lazily, offline, at its
 * recorded bias, so static functions and PIE executables resolve without -rdynamic. An object
 * that is gone or whose build-id differs from the recording is reported once through the warning
 * callback, and its functions are left to the report, which names them by their address in the
 * object (so runs of one binary still merge).
 *
 * Link with -lhone-symbols (pkg-config hone-symbols, CMake hone::hone-symbols); it depends on
 * libhone and libdw. libhone itself never needs it.
 *
 *     hone_symbols *sy = hone_symbols_new(warn, ctx);
 *     hone_report_options o = {.resolve = hone_symbols_resolve, .resolve_ctx = sy,
 *                              .resolve_sample = hone_symbols_resolve_inline};
 *     ... build and use reports ...
 *     hone_symbols_free(sy);   (after the last hone_report_add/read that uses it)
 *
 * Ownership: the resolver keeps per-mapping state keyed by the mapping's pointer, so the
 * profiles whose mappings it resolved must outlive its use. Not thread-safe: one resolver per
 * thread (a report calls it only from the thread that adds profiles). */
#ifndef HONE_SYMBOLS_H
#define HONE_SYMBOLS_H

#include "hone/profdata.h"
#include "hone/report.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_symbols hone_symbols;

/* Receives one message per unusable object m (never for [vdso] and the like). */
typedef void (*hone_symbols_warn_fn)(void *ctx, const hone_prof_mapping *m, const char *msg);

/* A resolver; warn may be NULL. NULL on ENOMEM. */
HONE_API hone_symbols *hone_symbols_new(hone_symbols_warn_fn warn, void *ctx);
/* Frees the resolver; NULL is a no-op. */
HONE_API void hone_symbols_free(hone_symbols *s);
/* A hone_resolve_fn: ctx is a hone_symbols. Returns 0 with *out filled, HONE_ENOENT when the
 * address cannot be named (no mapping, unreadable or rebuilt object), HONE_ENOMEM. */
HONE_API int hone_symbols_resolve(void *ctx, const hone_prof_mapping *m, uint64_t addr,
                                  hone_symbol *out);
/* The same, but an address in code the compiler inlined names the inlined function (its name,
 * file and line), not the one it was inlined into: for hone_report_options.resolve_sample, so
 * that a plain build's samples in an inlined function's code go to that function, as the
 * instrumented build (whose hooks run around inlined bodies too) records it. */
HONE_API int hone_symbols_resolve_inline(void *ctx, const hone_prof_mapping *m, uint64_t addr,
                                         hone_symbol *out);

#ifdef __cplusplus
}
#endif
#endif /* HONE_SYMBOLS_H */
