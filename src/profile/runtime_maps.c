/* runtime_maps.c: the profiler runtime's snapshot of loaded objects — address ranges of the
 * PT_LOAD segments, load bias, path (the executable's real path for the main program) and GNU
 * build-id — so that addresses can be resolved after the run despite ASLR and PIE. */
#include <elf.h>
#include <stddef.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h"

#define MAX_BUILD_ID 64

typedef struct walk {
  hone__rt_maps *out; /* NULL while counting */
  size_t count, strbytes;
  char *str, *str_end; /* where the next string goes (filling) */
  int seen_main;
} walk;

/* The bytes of NT_GNU_BUILD_ID in a loaded object's PT_NOTE segments. */
HONE__NOINST static size_t build_id(const struct dl_phdr_info *info, const uint8_t **out) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE) continue;
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
    while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
      size_t name = (nh->n_namesz + 3u) & ~3u, desc = (nh->n_descsz + 3u) & ~3u;
      const uint8_t *nm = p + sizeof *nh;
      if ((size_t)(end - nm) < name || (size_t)(end - nm - name) < desc) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(nm, "GNU", 4) == 0 &&
          nh->n_descsz > 0 && nh->n_descsz <= MAX_BUILD_ID) {
        *out = nm + name;
        return nh->n_descsz;
      }
      p = nm + name + desc;
    }
  }
  return 0;
}

HONE__NOINST static int visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  walk *w = arg;
  char exe[4096];
  const char *path = info->dlpi_name ? info->dlpi_name : "";
  if (!w->seen_main && path[0] == '\0') {
    /* The first object is the main program; dl_iterate_phdr gives it no name. */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
      exe[n] = '\0';
      path = exe;
    }
  }
  w->seen_main = 1;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uint64_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
    if (s < lo) lo = s;
    if (e > hi) hi = e;
  }
  if (lo > hi) return 0; /* no loadable segment */
  size_t plen = strlen(path) + 1;
  const uint8_t *id = NULL;
  size_t idlen = build_id(info, &id);
  if (!w->out) {
    w->count++;
    w->strbytes += plen + idlen;
    return 0;
  }
  hone__rt_maps *m = w->out;
  if ((char *)&m->m[m->n + 1] > w->str || (size_t)(w->str_end - w->str) < plen + idlen)
    return 1; /* objects appeared since counting: keep what fits */
  hone__prof_wmap *o = &m->m[m->n++];
  o->start = lo;
  o->end = hi;
  o->base = info->dlpi_addr;
  memcpy(w->str, path, plen);
  o->path = w->str;
  w->str += plen;
  if (idlen) memcpy(w->str, id, idlen);
  o->build_id = idlen ? (const uint8_t *)w->str : NULL;
  o->build_id_len = (uint32_t)idlen;
  w->str += idlen;
  return 0;
}

HONE__NOINST static int first_adds(struct dl_phdr_info *info, size_t size, void *arg) {
  unsigned long long *out = arg;
  if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds)
    *out = info->dlpi_adds;
  return 1; /* the first object is enough: the counter is global */
}

HONE__NOINST unsigned long long hone__rt_maps_generation(void) {
  unsigned long long adds = 0;
  dl_iterate_phdr(first_adds, &adds);
  return adds;
}

HONE__NOINST hone__rt_maps *hone__rt_maps_build(void) {
  walk w;
  memset(&w, 0, sizeof w);
  dl_iterate_phdr(visit, &w);
  /* Room for objects loaded between the two walks. */
  size_t slots = w.count + 16;
  size_t size = sizeof(hone__rt_maps) + slots * sizeof(hone__prof_wmap) + w.strbytes +
                16 * (4096 + MAX_BUILD_ID);
  hone__rt_maps *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  m->size = size;
  m->n = 0;
  m->generation = hone__rt_maps_generation();
  memset(&w, 0, sizeof w);
  w.out = m;
  w.str = (char *)&m->m[slots];
  w.str_end = (char *)m + size;
  dl_iterate_phdr(visit, &w);
  return m;
}

HONE__NOINST void hone__rt_maps_free(hone__rt_maps *m) {
  if (m) munmap(m, m->size);
}

HONE__NOINST int hone__rt_maps_contains(const hone__rt_maps *m, uint64_t addr) {
  if (!m) return 0;
  for (size_t i = 0; i < m->n; i++)
    if (addr >= m->m[i].start && addr < m->m[i].end) return 1;
  return 0;
}
