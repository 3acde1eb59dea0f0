/* fsutil.h: small file-system helpers of hone timeit's cache and compiler runs. The cache's
 * public helpers (hone__cache_dir, hone__mkdir_p, hone__rm_rf) stay declared in snippet.h.
 * Internal to the CLI. */
#ifndef HONE_CLI_FSUTIL_H
#define HONE_CLI_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* a "/" b, malloc'd, or NULL when out of memory. */
char *hone__path_join(const char *a, const char *b);
/* The whole file, NUL-terminated (*len, when not NULL, is its length), malloc'd; NULL when it
 * cannot be read or when out of memory. */
char *hone__read_whole(const char *path, size_t *len);
/* Creates or truncates path (mode 0600) and writes data. 0 or -errno. */
int hone__write_whole(const char *path, const char *data, size_t len);
/* The SHA-256 of the file's contents in hex (and its size); false when it cannot be read. */
bool hone__file_sha256(const char *path, char out[65], long long *size);
/* What tells a file's content without reading it: device, inode, size and modification time
 * (an editor that saves in place changes the last; one that renames, the inode). No blanks. */
bool hone__file_stamp(const char *path, char *buf, size_t len);

#endif /* HONE_CLI_FSUTIL_H */
