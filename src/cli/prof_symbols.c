/* prof_symbols.c: address -> (function, file, line of definition) with libdw (see
 * prof_symbols.h). One Dwfl per mapping, created the first time an address falls in it: mappings
 * of one run never overlap, and keeping them apart lets a missing or rebuilt object fail alone. */
#include "prof_symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAP_UNTRIED, MAP_OK, MAP_FAILED };

typedef struct map {
  uint64_t start, end, base;
  char *path;
  uint8_t *build_id;
  size_t build_id_len;
  int state;
  Dwfl *dwfl;
  Dwfl_Module *mod;
} map;

struct hone__syms {
  map *maps;
  size_t nmaps, cap;
  hone__syms_warn_fn warn;
  void *ctx;
  char hex[40];
  char path[4096];
};

static char *debuginfo_path;
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

hone__syms *hone__syms_new(hone__syms_warn_fn warn, void *ctx) {
  hone__syms *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->warn = warn;
  s->ctx = ctx;
  return s;
}

void hone__syms_free(hone__syms *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nmaps; i++) {
    if (s->maps[i].dwfl) dwfl_end(s->maps[i].dwfl);
    free(s->maps[i].path);
    free(s->maps[i].build_id);
  }
  free(s->maps);
  free(s);
}

int hone__syms_add_mapping(hone__syms *s, const hone_prof_mapping *m) {
  if (s->nmaps == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    map *nm = realloc(s->maps, cap * sizeof *nm);
    if (!nm) return HONE_ENOMEM;
    s->maps = nm;
    s->cap = cap;
  }
  map *d = &s->maps[s->nmaps];
  memset(d, 0, sizeof *d);
  d->start = m->start;
  d->end = m->end;
  d->base = m->base;
  d->path = strdup(m->path ? m->path : "");
  if (!d->path) return HONE_ENOMEM;
  if (m->build_id && m->build_id_len) {
    if (!(d->build_id = malloc(m->build_id_len))) {
      free(d->path);
      return HONE_ENOMEM;
    }
    memcpy(d->build_id, m->build_id, m->build_id_len);
    d->build_id_len = m->build_id_len;
  }
  s->nmaps++;
  return 0;
}

static void warnf(hone__syms *s, const char *fmt, ...) HONE_PRINTF(2, 3);
static void warnf(hone__syms *s, const char *fmt, ...) {
  if (!s->warn) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  s->warn(s->ctx, msg);
}

/* Opens the mapping's object at its recorded bias and checks it is the recorded build. */
static void open_map(hone__syms *s, map *m) {
  m->state = MAP_FAILED;
  if (m->path[0] != '/') return; /* [vdso] and the like: nothing on disk to read */
  if (!(m->dwfl = dwfl_begin(&offline_callbacks))) {
    warnf(s, "%s: cannot start libdw (%s); its functions are shown as addresses", m->path,
          dwfl_errmsg(-1));
    return;
  }
  dwfl_report_begin(m->dwfl);
  /* add_p_vaddr: the recorded base is the load bias (dlpi_addr), not the first segment's start. */
  m->mod = dwfl_report_elf(m->dwfl, m->path, m->path, -1, m->base, true);
  dwfl_report_end(m->dwfl, NULL, NULL);
  if (!m->mod) {
    warnf(s, "%s: cannot be read (%s); its functions are shown as addresses", m->path,
          dwfl_errmsg(-1));
    return;
  }
  if (m->build_id_len) {
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m->mod, &bits, &vaddr);
    if (len <= 0 || (size_t)len != m->build_id_len || memcmp(bits, m->build_id, (size_t)len)) {
      warnf(s,
            "%s: not the file that was recorded (its build-id differs); its functions are "
            "shown as addresses",
            m->path);
      return;
    }
  }
  m->state = MAP_OK;
}

/* The innermost subprogram DIE (not an inlined instance) around `addr`, from libdw's scopes. */
static bool find_subprogram(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *out, Dwarf_Die *cu_out) {
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
    if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
      *out = scopes[i];
      found = true;
    }
  }
  free(scopes);
  return found;
}

/* The file a subprogram is declared in. libdw answers NULL for DWARF 5's file 0 (clang uses it),
 * which is the unit's primary source file: the unit's name, under its compilation directory. */
static const char *decl_file(hone__syms *s, Dwarf_Die *sub, Dwarf_Die *cu) {
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

int hone__syms_resolve(hone__syms *s, uint64_t addr, hone__sym *out) {
  map *m = NULL;
  for (size_t i = 0; i < s->nmaps && !m; i++)
    if (addr >= s->maps[i].start && addr < s->maps[i].end) m = &s->maps[i];
  if (!m) {
    snprintf(s->hex, sizeof s->hex, "0x%" PRIx64, addr);
    *out = (hone__sym){.name = s->hex, .file = "~", .line = 0};
    return 0;
  }
  if (m->state == MAP_UNTRIED) open_map(s, m);
  /* Offsets in the object, not runtime addresses: the same function in two runs merges. */
  snprintf(s->hex, sizeof s->hex, "0x%" PRIx64, addr - m->base);
  *out = (hone__sym){.name = s->hex, .file = m->path, .line = 0};
  if (m->state != MAP_OK) return 0;

  Dwarf_Die sub, cu;
  if (find_subprogram(m->mod, addr, &sub, &cu)) {
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
  if (name) out->name = name;
  return 0;
}
