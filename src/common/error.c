/* error.c: names and messages of the hone_err codes (include/hone/error.h). */
#include "hone/error.h"

const char *hone_strerror(int err) {
  switch (err) {
  case HONE_OK:
    return "success";
#define HONE__ERR_MSG(name, value, msg)                                                            \
  case HONE_##name:                                                                                \
    return msg;
    HONE_ERRNO_MAP(HONE__ERR_MSG)
#undef HONE__ERR_MSG
  }
  return "unknown error";
}

const char *hone_err_name(int err) {
  switch (err) {
  case HONE_OK:
    return "HONE_OK";
#define HONE__ERR_NAME(name, value, msg)                                                           \
  case HONE_##name:                                                                                \
    return "HONE_" #name;
    HONE_ERRNO_MAP(HONE__ERR_NAME)
#undef HONE__ERR_NAME
  }
  return "HONE_UNKNOWN";
}
