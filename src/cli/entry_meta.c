/* entry_meta.c: the reader of a cache entry's meta file (cache_files.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cache_files.h"

static bool is_hex64(const char *s, size_t l) {
  if (l != 64) return false;
  for (size_t i = 0; i < l; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

void hone__entry_meta_free(hone__entry_meta *m) {
  if (!m) return;
  for (size_t i = 0; i < m->ndeps; i++) {
    free(m->deps[i].stamp);
    free(m->deps[i].path);
  }
  free(m->deps);
  free(m->cc_path);
  free(m->cc_version);
  memset(m, 0, sizeof *m);
}

/* One "dep STAMP PATH" line's rest (after "dep "): -1 malformed, -2 out of memory. */
static int add_dep(hone__entry_meta *m, const char *s, size_t l) {
  const char *sp = memchr(s, ' ', l);
  if (!sp || sp == s) return -1;
  size_t sl = (size_t)(sp - s), pl = l - sl - 1;
  if (pl == 0 || sp[1] != '/') return -1;
  hone__entry_dep *nd = realloc(m->deps, (m->ndeps + 1) * sizeof *nd);
  if (!nd) return -2;
  m->deps = nd;
  char *stamp = dup_n(s, sl), *path = dup_n(sp + 1, pl);
  if (!stamp || !path) {
    free(stamp);
    free(path);
    return -2;
  }
  m->deps[m->ndeps++] = (hone__entry_dep){stamp, path};
  return 0;
}

int hone__entry_meta_parse(const char *bytes, size_t len, hone__entry_meta *out) {
  memset(out, 0, sizeof *out);
  size_t ml = strlen(HONE__ENTRY_MAGIC);
  if (len < ml || memcmp(bytes, HONE__ENTRY_MAGIC, ml) != 0 || memchr(bytes, '\0', len)) return -1;
  bool have_sum = false;
  int rc = 0;
  for (const char *p = bytes + ml, *end = bytes + len; p < end && rc == 0;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
    const char *sp = memchr(p, ' ', l);
    size_t kl = sp ? (size_t)(sp - p) : l;
    const char *v = sp ? sp + 1 : p + l;
    size_t vl = l - kl - (sp ? 1 : 0);
    if (kl == 9 && memcmp(p, "so_sha256", 9) == 0) {
      if (!is_hex64(v, vl)) rc = -1;
      memcpy(out->so_sha256, v, vl < 64 ? vl : 64);
      have_sum = rc == 0;
    } else if (kl == 7 && memcmp(p, "cc_path", 7) == 0) {
      free(out->cc_path);
      if (!(out->cc_path = dup_n(v, vl))) rc = -2;
    } else if (kl == 10 && memcmp(p, "cc_version", 10) == 0) {
      free(out->cc_version);
      if (!(out->cc_version = dup_n(v, vl))) rc = -2;
    } else if (kl == 3 && memcmp(p, "dep", 3) == 0) {
      rc = sp ? add_dep(out, v, vl) : -1;
    }
    p += l + (nl ? 1 : 0);
  }
  if (rc == 0 && !have_sum) rc = -1;
  if (rc != 0) hone__entry_meta_free(out);
  out->so_sha256[64] = '\0';
  return rc;
}
