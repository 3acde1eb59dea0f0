/* test_pool_processes.c: the pool API suite of test_pool.c, run on worker processes
 * (HONE_POOL_PROCESSES): the same tests, every pool made with that backend.
 * HONE_TEST_CONCURRENCY: also run under ThreadSanitizer (the parent side of a process pool is
 * multi-threaded: collector, waiters, submitters; its hand-offs through the shared mapping are
 * made visible to TSan by src/parallel/tsan.h). */
#define HONE_TEST_BACKEND HONE_POOL_PROCESSES
#include "test_pool.c"
