/* hone/error.h: the one error convention of the whole library.
 *
 * Every function that can fail returns an int: 0 (or a non-negative count) on success, a negative
 * hone_err code on failure. Codes never change value once released; new ones are appended.
 * hone_strerror() and hone_err_name() are thread-safe and return static strings.
 */
#ifndef HONE_ERROR_H
#define HONE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HONE_API __attribute__((visibility("default")))
#define HONE_NODISCARD __attribute__((warn_unused_result))
#define HONE_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define HONE_MALLOC __attribute__((malloc))
#define HONE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define HONE_API
#define HONE_NODISCARD
#define HONE_NONNULL(...)
#define HONE_MALLOC
#define HONE_PRINTF(f, a)
#endif

/* X(name, value, message). Values are stable: append, never renumber. */
#define HONE_ERRNO_MAP(X)                                                                          \
  X(EINVAL, -1, "invalid argument")                                                                \
  X(ENOMEM, -2, "out of memory")                                                                   \
  X(ENOTSUP, -3, "not supported on this machine")                                                  \
  X(ETIMEDOUT, -4, "timed out")                                                                    \
  X(ECANCELED, -5, "canceled")                                                                     \
  X(EIO, -6, "input/output error")                                                                 \
  X(EFORMAT, -7, "malformed or corrupt data")                                                      \
  X(EVERSION, -8, "unsupported format version")                                                    \
  X(ECLOSED, -9, "closed")                                                                         \
  X(EFULL, -10, "full")                                                                            \
  X(EAGAIN, -11, "try again")                                                                      \
  X(ENOENT, -12, "not found")                                                                      \
  X(ETASK, -13, "task failed")                                                                     \
  X(ECRASHED, -14, "worker crashed")                                                               \
  X(ESTATE, -15, "operation not valid in this state")                                              \
  X(EBUSY, -16, "busy")                                                                            \
  X(ERANGE, -17, "value out of range")                                                             \
  X(EPERM, -18, "permission denied")                                                               \
  X(ESYS, -19, "system call failed")                                                               \
  X(EEXIST, -20, "already exists")                                                                 \
  X(ESHUTDOWN, -21, "shut down")                                                                   \
  X(EFOREIGN, -22, "written for another architecture or byte order")                               \
  X(EMSGSIZE, -23, "message too large")

typedef enum hone_err {
  HONE_OK = 0,
#define HONE__ERR_ENUM(name, value, msg) HONE_##name = (value),
  HONE_ERRNO_MAP(HONE__ERR_ENUM)
#undef HONE__ERR_ENUM
} hone_err;

/* A sentence for `err` ("invalid argument"); "unknown error" for a value not in the map. */
HONE_API const char *hone_strerror(int err);
/* The code's name ("HONE_EINVAL"); "HONE_UNKNOWN" for a value not in the map. */
HONE_API const char *hone_err_name(int err);

/* The library's version: "0.1.0", and as a number major*10000 + minor*100 + patch. */
HONE_API const char *hone_version(void);
HONE_API int hone_version_number(void);

#ifdef __cplusplus
}
#endif
#endif /* HONE_ERROR_H */
