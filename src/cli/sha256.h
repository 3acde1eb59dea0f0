/* sha256.h: SHA-256 (FIPS 180-4) for the CLI's cache keys and checksums. Internal to the CLI. */
#ifndef HONE_CLI_SHA256_H
#define HONE_CLI_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4). */
typedef struct hone__sha256 {
  uint32_t h[8];
  uint64_t len;
  unsigned char buf[64];
  size_t fill;
} hone__sha256;
void hone__sha256_init(hone__sha256 *c);
void hone__sha256_update(hone__sha256 *c, const void *data, size_t n);
void hone__sha256_hex(hone__sha256 *c, char out[65]);

#endif /* HONE_CLI_SHA256_H */
