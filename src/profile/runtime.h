/* runtime.h: what the profiler runtime's files share (runtime.c, runtime_maps.c). Internal to
 * libhone-prof.so; nothing here is part of libhone. */
#ifndef HONE_RUNTIME_H
#define HONE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "profformat.h"

#define HONE__NOINST __attribute__((no_instrument_function))

/* The hooks -finstrument-functions calls (exported by libhone-prof.so). */
void __cyg_profile_func_enter(void *fn, void *site);
void __cyg_profile_func_exit(void *fn, void *site);

/* A snapshot of the loaded objects (dl_iterate_phdr), in one mmap'd block so that it can be
 * read from a signal handler and never depends on malloc. */
typedef struct hone__rt_maps {
  size_t size;                   /* bytes of the block */
  unsigned long long generation; /* objects loaded so far (dlpi_adds) when it was taken */
  size_t n;
  hone__prof_wmap m[];
} hone__rt_maps;

/* Builds a snapshot; NULL on failure. Not async-signal-safe (takes the loader's lock). */
hone__rt_maps *hone__rt_maps_build(void);
void hone__rt_maps_free(hone__rt_maps *m);
/* How many objects the process has loaded so far: a snapshot with the same count is current. */
unsigned long long hone__rt_maps_generation(void);
/* Whether addr lies in one of the snapshot's objects. */
int hone__rt_maps_contains(const hone__rt_maps *m, uint64_t addr);

#endif /* HONE_RUNTIME_H */
