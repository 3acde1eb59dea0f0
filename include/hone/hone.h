/* hone/hone.h: the whole public API of libhone. Each module's header states its ownership and
 * thread-safety rules next to its declarations. */
#ifndef HONE_HONE_H
#define HONE_HONE_H

#include "hone/error.h"
#include "hone/clock.h"
#include "hone/counters.h"
#include "hone/stats.h"
#include "hone/timeit.h"
#include "hone/bench.h"
#include "hone/profdata.h"
#include "hone/report.h" /* symbol names: hone/symbols.h, link -lhone-symbols */
#include "hone/export.h"
#include "hone/prof.h" /* functions of libhone-prof.so: link -lhone-prof */
#include "hone/queue.h"
#include "hone/process.h"
#include "hone/pool.h"

#endif /* HONE_HONE_H */
