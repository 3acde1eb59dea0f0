/* version.c: the library's version, fixed at build time from CMake's project version. */
#include "hone/error.h"

#define HONE__STR2(x) #x
#define HONE__STR(x) HONE__STR2(x)

const char *hone_version(void) {
  return HONE__STR(HONE_VERSION_MAJOR) "." HONE__STR(HONE_VERSION_MINOR) "." HONE__STR(
      HONE_VERSION_PATCH);
}

int hone_version_number(void) {
  return HONE_VERSION_MAJOR * 10000 + HONE_VERSION_MINOR * 100 + HONE_VERSION_PATCH;
}
