/* symbols.c: libhone-symbols — address -> (function, file, line of definition) with libdw (see
 * hone/symbols.h). One Dwfl per mapping, created the first time an address falls in it: mappings
 * of one run never overlap, and keeping them apart lets a missing or rebuilt object fail alone. */
#include "hone/symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/htab.h"

enum { MAP_UNTRIED, MAP_OK, MAP_FAILED };

/* The state of one recorded mapping, found by the mapping's address. */
typedef struct map {
  const hone_prof_mapping *m;
  int state;
  Dwfl *dwfl;
  Dwfl_Module *mod;
} map;

struct hone_symbols {
  map *maps;
  size_t nmaps, cap;
  hone__htab ht; /* over maps, keyed by the mapping pointer */
  hone_symbols_warn_fn warn;
  void *ctx;
  char path[4096];
};

static char *debuginfo_path;
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

hone_symbols *hone_symbols_new(hone_symbols_warn_fn warn, void *ctx) {
  hone_symbols *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  hone__htab_init(&s->ht);
  s->warn = warn;
  s->ctx = ctx;
  return s;
}

void hone_symbols_free(hone_symbols *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nmaps; i++)
    if (s->maps[i].dwfl) dwfl_end(s->maps[i].dwfl);
  free(s->maps);
  hone__htab_fini(&s->ht);
  free(s);
}

static bool map_eq(const void *ctx, uint32_t i) {
  const struct {
    const hone_symbols *s;
    const hone_prof_mapping *m;
  } *k = ctx;
  return k->s->maps[i].m == k->m;
}

/* The state of mapping m, created untried when new; NULL on ENOMEM. */
static map *map_of(hone_symbols *s, const hone_prof_mapping *m) {
  uint64_t h = hone__hash_u64((uint64_t)(uintptr_t)m);
  struct {
    const hone_symbols *s;
    const hone_prof_mapping *m;
  } k = {s, m};
  int64_t i = hone__htab_find(&s->ht, h, map_eq, &k);
  if (i >= 0) return &s->maps[i];
  if (s->nmaps == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    map *nm = realloc(s->maps, cap * sizeof *nm);
    if (!nm) return NULL;
    s->maps = nm;
    s->cap = cap;
  }
  if (hone__htab_insert(&s->ht, h, (uint32_t)s->nmaps)) return NULL;
  s->maps[s->nmaps] = (map){.m = m, .state = MAP_UNTRIED};
  return &s->maps[s->nmaps++];
}

static void warnf(hone_symbols *s, const map *m, const char *fmt, ...) HONE_PRINTF(3, 4);
static void warnf(hone_symbols *s, const map *m, const char *fmt, ...) {
  if (!s->warn) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  s->warn(s->ctx, m->m, msg);
}

/* Opens the mapping's object at its recorded bias and checks it is the recorded build. */
static void open_map(hone_symbols *s, map *m) {
  m->state = MAP_FAILED;
  const char *path = m->m->path ? m->m->path : "";
  if (path[0] != '/') return; /* [vdso] and the like: nothing on disk to read */
  if (!(m->dwfl = dwfl_begin(&offline_callbacks))) {
    warnf(s, m, "%s: cannot start libdw (%s); its functions are shown as addresses", path,
          dwfl_errmsg(-1));
    return;
  }
  dwfl_report_begin(m->dwfl);
  /* add_p_vaddr: the recorded base is the load bias (dlpi_addr), not the first segment's start. */
  m->mod = dwfl_report_elf(m->dwfl, path, path, -1, m->m->base, true);
  dwfl_report_end(m->dwfl, NULL, NULL);
  if (!m->mod) {
    warnf(s, m, "%s: cannot be read (%s); its functions are shown as addresses", path,
          dwfl_errmsg(-1));
    return;
  }
  if (m->m->build_id && m->m->build_id_len) {
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m->mod, &bits, &vaddr);
    if (len <= 0 || (size_t)len != m->m->build_id_len ||
        memcmp(bits, m->m->build_id, (size_t)len)) {
      warnf(s, m,
            "%s: not the file that was recorded (its build-id differs); its functions are "
            "shown as addresses",
            path);
      return;
    }
  }
  m->state = MAP_OK;
}

/* The innermost subprogram DIE around `addr` (with `inlined`, an inlined instance counts too:
 * the innermost function whose code it is), from libdw's scopes. */
static bool find_subprogram(Dwfl_Module *mod, Dwarf_Addr addr, bool inlined, Dwarf_Die *out,
                            Dwarf_Die *cu_out) {
  Dwarf_Addr bias = 0;
  Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
  /* Without .debug_aranges (clang emits none) libdw's lookup finds no unit: ask each one. */
  if (!cu) {
    while ((cu = dwfl_module_nextcu(mod, cu, &bias)) && dwarf_haspc(cu, addr - bias) <= 0) {
    }
  }
  if (!cu) return false;
  *cu_out = *cu;
  Dwarf_Die *scopes = NULL;
  int n = dwarf_getscopes(cu, addr - bias, &scopes);
  bool found = false;
  for (int i = 0; i < n && !found; i++) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_subprogram || (inlined && tag == DW_TAG_inlined_subroutine)) {
      *out = scopes[i];
      found = true;
    }
  }
  free(scopes);
  return found;
}

/* The file a subprogram is declared in. libdw answers NULL for DWARF 5's file 0 (clang uses it),
 * which is the unit's primary source file: the unit's name, under its compilation directory. */
static const char *decl_file(hone_symbols *s, Dwarf_Die *sub, Dwarf_Die *cu) {
  const char *f = dwarf_decl_file(sub);
  if (f) return f;
  Dwarf_Attribute a;
  Dwarf_Word idx;
  if (!dwarf_attr_integrate(sub, DW_AT_decl_file, &a) || dwarf_formudata(&a, &idx) != 0 || idx)
    return NULL;
  const char *name = dwarf_diename(cu);
  if (!name || name[0] == '/') return name;
  Dwarf_Attribute ca;
  const char *dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &ca));
  if (!dir) return name;
  snprintf(s->path, sizeof s->path, "%s/%s", dir, name);
  return s->path;
}

static int resolve(void *ctx, const hone_prof_mapping *mp, uint64_t addr, bool inlined,
                   hone_symbol *out) {
  hone_symbols *s = ctx;
  if (!s || !mp) return HONE_ENOENT;
  map *m = map_of(s, mp);
  if (!m) return HONE_ENOMEM;
  if (m->state == MAP_UNTRIED) open_map(s, m);
  if (m->state != MAP_OK) return HONE_ENOENT;
  *out = (hone_symbol){.name = NULL, .file = mp->path, .line = 0};

  Dwarf_Die sub, cu;
  if (find_subprogram(m->mod, addr, inlined, &sub, &cu)) {
    /* An inlined instance's name and declaration are its abstract origin's: libdw's attribute
     * lookups follow DW_AT_abstract_origin. */
    const char *name = dwarf_diename(&sub);
    const char *file = decl_file(s, &sub, &cu);
    int line = 0;
    if (name) out->name = name;
    if (file) out->file = file;
    if (dwarf_decl_line(&sub, &line) == 0 && line > 0) out->line = (unsigned)line;
    if (name) return 0;
  }
  /* No debug information: the ELF symbol table still names the function (static ones too). */
  GElf_Off off = 0;
  GElf_Sym sym;
  const char *name = dwfl_module_addrinfo(m->mod, addr, &off, &sym, NULL, NULL, NULL);
  if (!name) return HONE_ENOENT;
  out->name = name;
  return 0;
}

int hone_symbols_resolve(void *ctx, const hone_prof_mapping *mp, uint64_t addr, hone_symbol *out) {
  return resolve(ctx, mp, addr, false, out);
}

int hone_symbols_resolve_inline(void *ctx, const hone_prof_mapping *mp, uint64_t addr,
                                hone_symbol *out) {
  return resolve(ctx, mp, addr, true, out);
}
