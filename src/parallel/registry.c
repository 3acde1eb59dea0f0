/* registry.c: the process-wide task registry (name -> function, result size) and the running
 * task's context. Ids are indexes into a fixed table: entries are written once under `reg_mu` and
 * published by a release store of `reg_count`, so the hot path (hone__task_get) takes no lock. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/pool_internal.h"

#define HONE__TASK_MAX 4096

static hone__task reg[HONE__TASK_MAX];
static _Atomic int reg_count;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER; /* serialises writers */

const hone__task *hone__task_get(hone_task_id id) {
  if (id < 0 || id >= atomic_load_explicit(&reg_count, memory_order_acquire)) return NULL;
  return &reg[id];
}

static int find(const char *name, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(reg[i].name, name) == 0) return i;
  return -1;
}

static int register_task(const char *name, hone_task_fn fn, hone_task_batch_fn batch,
                         size_t result_size, hone_task_id *id) {
  if (!name[0]) return HONE_EINVAL;
  pthread_mutex_lock(&reg_mu);
  int n = atomic_load_explicit(&reg_count, memory_order_relaxed);
  int rc = 0, i = find(name, n);
  if (i >= 0) {
    if (reg[i].fn != fn || reg[i].batch != batch || reg[i].result_size != result_size)
      rc = HONE_EEXIST;
    else
      *id = i;
  } else if (n == HONE__TASK_MAX) {
    rc = HONE_EFULL;
  } else {
    char *copy = strdup(name);
    if (!copy) {
      rc = HONE_ENOMEM;
    } else {
      reg[n] = (hone__task){.name = copy,
                            .fn = fn,
                            .batch = batch,
                            .result_size = result_size,
                            .hash = hone__task_name_hash(copy)};
      atomic_store_explicit(&reg_count, n + 1, memory_order_release);
      *id = n;
    }
  }
  pthread_mutex_unlock(&reg_mu);
  return rc;
}

int hone_task_register(const char *name, hone_task_fn fn, size_t result_size, hone_task_id *id) {
  return register_task(name, fn, NULL, result_size, id);
}

int hone_task_register_batch(const char *name, hone_task_batch_fn fn, size_t result_size,
                             hone_task_id *id) {
  return register_task(name, NULL, fn, result_size, id);
}

int hone_task_lookup(const char *name, hone_task_id *id) {
  int n = atomic_load_explicit(&reg_count, memory_order_acquire);
  int i = find(name, n);
  if (i < 0) return HONE_ENOENT;
  *id = i;
  return 0;
}

hone_task_id hone__task_id_of(const hone__task *t) {
  return (hone_task_id)(t - reg);
}

uint64_t hone__task_name_hash(const char *name) {
  uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, 64 bit: offset basis and prime */
  for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
    h ^= *c;
    h *= 0x100000001b3u;
  }
  return h;
}

int hone__task_resolve(const char *name, uint64_t hash, hone_task_id *id, char *msg,
                       size_t msg_size) {
  int rc = 0;
  if (hone__task_name_hash(name) != hash)
    rc = HONE_EINVAL;
  else if (hone_task_lookup(name, id) != 0)
    rc = HONE_ENOENT;
  if (rc != 0 && msg && msg_size)
    snprintf(msg, msg_size,
             rc == HONE_EINVAL ? "task '%s' arrived with a hash that does not match its name"
                               : "task '%s' is not registered on this process",
             name);
  return rc;
}

const char *hone_task_name(hone_task_id id) {
  const hone__task *t = hone__task_get(id);
  return t ? t->name : NULL;
}

void hone__task_ctx_init(hone_task_ctx *ctx, hone_pool *pool, int worker) {
  ctx->pool = pool;
  ctx->worker = worker;
  ctx->has_message = false;
  ctx->message[0] = '\0';
}

int hone__task_call(const hone__task *t, hone_task_ctx *ctx, const void *arg, size_t arg_size,
                    void *result, size_t result_size) {
  ctx->has_message = false;
  size_t failed = 0;
  int rc = t->fn ? t->fn(ctx, arg, arg_size, result, result_size)
                 : t->batch(ctx, arg, arg_size, result, result_size, 1, &failed);
  if (rc > 0) rc = HONE_ETASK;
  return rc;
}

int hone_task_fail(hone_task_ctx *ctx, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
  va_end(ap);
  ctx->has_message = true;
  return code < 0 ? code : HONE_ETASK;
}

hone_pool *hone_task_pool(hone_task_ctx *ctx) {
  return ctx->pool;
}

int hone_task_worker(hone_task_ctx *ctx) {
  return ctx->worker;
}
