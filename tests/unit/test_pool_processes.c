/* test_pool_processes.c: the pool API suite of test_pool.c, run on worker processes
 * (HONE_POOL_PROCESSES): the same tests, every pool made with that backend. Forked workers do not
 * belong under ThreadSanitizer, so this file carries no concurrency label. */
#define HONE_TEST_BACKEND HONE_POOL_PROCESSES
#include "test_pool.c"
