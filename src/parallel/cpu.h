/* cpu.h: the pieces of hone_cpu_count, exposed for tests that fake /proc and /sys. */
#ifndef HONE_PARALLEL_CPU_H
#define HONE_PARALLEL_CPU_H

#include <stdbool.h>

/* CPUs allowed by the cgroup quota of the calling process, read below `root` ("" for the real
 * system; else a directory holding proc/self/cgroup and sys/fs/cgroup/...): ceil(quota/period)
 * over the process's cgroup and its ancestors (v2 cpu.max, v1 cpu.cfs_quota_us), or 0 when no
 * quota applies or nothing can be read. */
unsigned hone__cpu_quota_limit(const char *root);
/* CPUs in the calling thread's affinity mask (>= 1). */
unsigned hone__cpu_affinity_count(void);
/* True when the calling thread may run on one CPU only (its affinity mask, read again at most
 * every 50 ms): a spin-wait then cannot overlap the thread it waits for. */
bool hone__cpu_alone(void);

#endif /* HONE_PARALLEL_CPU_H */
