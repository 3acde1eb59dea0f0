/* registry.c: the table of export writers (from formats.def) and the atomic write of a file:
 * a temporary file next to the target, flushed and fsync'ed, renamed over it (see hone/export.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writer.h"

typedef struct entry {
  hone_export_format fmt;
  hone__export_fn fn;
} entry;

static const entry formats[] = {
#define HONE_EXPORT(name, fn, ext, binary, desc) {{name, desc, ext, binary}, fn},
#include "formats.def"
#undef HONE_EXPORT
};
#define NFORMATS (sizeof formats / sizeof formats[0])

size_t hone_export_format_count(void) {
  return NFORMATS;
}

const hone_export_format *hone_export_format_at(size_t i) {
  return i < NFORMATS ? &formats[i].fmt : NULL;
}

int hone_export_weight_from_name(const char *name) {
  if (name && strcmp(name, "time") == 0) return HONE_EXPORT_WEIGHT_TIME;
  if (name && strcmp(name, "calls") == 0) return HONE_EXPORT_WEIGHT_CALLS;
  return -1;
}

static const entry *find(const char *name) {
  for (size_t i = 0; name && i < NFORMATS; i++)
    if (strcmp(formats[i].fmt.name, name) == 0) return &formats[i];
  return NULL;
}

const hone_export_format *hone_export_find(const char *name) {
  const entry *e = find(name);
  return e ? &e->fmt : NULL;
}

static void msg(char *errbuf, size_t errlen, const char *fmt, ...) HONE_PRINTF(3, 4);
static void msg(char *errbuf, size_t errlen, const char *fmt, ...) {
  if (!errbuf || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, errlen, fmt, ap);
  va_end(ap);
}

static int unknown(const char *format, char *errbuf, size_t errlen) {
  char names[256] = "";
  for (size_t i = 0; i < NFORMATS; i++) {
    if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
    strncat(names, formats[i].fmt.name, sizeof names - strlen(names) - 1);
  }
  msg(errbuf, errlen, "unknown export format '%s' (known: %s)", format ? format : "", names);
  return HONE_EINVAL;
}

static int err_of(int e) {
  switch (e) {
  case ENOENT:
  case ENOTDIR:
    return HONE_ENOENT;
  case EACCES:
  case EPERM:
  case EROFS:
    return HONE_EPERM;
  case ENOMEM:
    return HONE_ENOMEM;
  default:
    return HONE_EIO;
  }
}

static int run(hone_report *r, const entry *e, FILE *out, const hone_export_options *o,
               char *errbuf, size_t errlen) {
  hone_export_options def = {0};
  if (!o) o = &def;
  int rc = hone_report_build(r);
  if (rc) {
    msg(errbuf, errlen, "%s", hone_strerror(rc));
    return rc;
  }
  size_t section = o->section > 0 ? (size_t)o->section : 0;
  if (section >= hone_report_section_count(r)) {
    msg(errbuf, errlen, "no section %zu in the report", section);
    return HONE_EINVAL;
  }
  if (errbuf && errlen) errbuf[0] = '\0';
  rc = e->fn(r, section, o, out, errbuf, errlen);
  if (rc && errbuf && errlen && !errbuf[0]) msg(errbuf, errlen, "%s", hone_strerror(rc));
  if (!rc && (fflush(out) != 0 || ferror(out))) {
    rc = HONE_EIO;
    msg(errbuf, errlen, "writing failed: %s", strerror(errno));
  }
  return rc;
}

int hone_report_export_file(hone_report *r, const char *format, FILE *out,
                            const hone_export_options *o, char *errbuf, size_t errlen) {
  if (!r || !out) return HONE_EINVAL;
  const entry *e = find(format);
  if (!e) return unknown(format, errbuf, errlen);
  return run(r, e, out, o, errbuf, errlen);
}

int hone_report_export(hone_report *r, const char *format, const char *path,
                       const hone_export_options *o, char *errbuf, size_t errlen) {
  if (!r || !path || !path[0]) return HONE_EINVAL;
  const entry *e = find(format);
  if (!e) return unknown(format, errbuf, errlen);
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) return HONE_ENOMEM;
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int rc = err_of(errno);
    msg(errbuf, errlen, "%s: cannot create a file next to it: %s", path, strerror(errno));
    free(tmp);
    return rc;
  }
  /* mkstemp makes it 0600; a written profile is as readable as any file the user creates. */
  mode_t mask = umask(0);
  umask(mask);
  (void)fchmod(fd, 0666 & ~mask);
  FILE *out = fdopen(fd, e->fmt.binary ? "wb" : "w");
  if (!out) {
    int rc = err_of(errno);
    close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
  }
  int rc = run(r, e, out, o, errbuf, errlen);
  if (!rc && fsync(fileno(out)) != 0 && errno != EINVAL) {
    rc = err_of(errno);
    msg(errbuf, errlen, "%s: %s", path, strerror(errno));
  }
  if (fclose(out) != 0 && !rc) {
    rc = err_of(errno);
    msg(errbuf, errlen, "%s: %s", path, strerror(errno));
  }
  if (!rc && rename(tmp, path) != 0) {
    rc = err_of(errno);
    msg(errbuf, errlen, "%s: %s", path, strerror(errno));
  }
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}
