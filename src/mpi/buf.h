/* buf.h: libhone-mpi's message buffers, kept for reuse. glibc serves a block of 128 KiB or more
 * (its initial mmap threshold) with a fresh mapping and unmaps it on free, so every message of
 * that size paid again for faulting its pages in: a map of 10^5 tiny items in two 400 KB chunks
 * took 5-7 ms here with its buffers from malloc, 1.0-1.3 ms with them kept (the pages stay). A
 * kept buffer is reused for a request of at least a quarter of its size; at most 16 buffers and
 * 64 MiB are kept; smaller blocks go to malloc and back.
 * Thread-safe. hm_buf_free(NULL) does nothing. */
#ifndef HONE_MPI_BUF_H
#define HONE_MPI_BUF_H

#include <stddef.h>

void *hm_buf_alloc(size_t n); /* NULL when out of memory */
void hm_buf_free(void *p);
void hm_buf_trim(void);              /* frees every kept buffer (at finalize) */
unsigned hm_buf_kept(size_t *bytes); /* how many are kept, and their bytes */

#endif /* HONE_MPI_BUF_H */
