/* fsutil.c: the small file-system helpers of hone timeit's cache and compiler runs (fsutil.h):
 * paths, whole-file reads and writes, checksums and stamps of files, directory trees. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "snippet.h"

char *hone__path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 2);
  if (!p) return NULL;
  memcpy(p, a, la);
  p[la] = '/';
  memcpy(p + la + 1, b, lb + 1);
  return p;
}

char *hone__read_whole(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    if (n == cap) {
      char *nb = realloc(buf, cap * 2 + 1);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      free(buf);
      buf = NULL;
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (buf) {
    buf[n] = '\0';
    if (len) *len = n;
  }
  return buf;
}

int hone__write_whole(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = -errno;
      close(fd);
      return e;
    }
    data += w;
    len -= (size_t)w;
  }
  if (close(fd) != 0) return -errno;
  return 0;
}

bool hone__file_sha256(const char *path, char out[65], long long *size) {
  size_t len;
  char *data = hone__read_whole(path, &len);
  if (!data) return false;
  hone__sha256 c;
  hone__sha256_init(&c);
  hone__sha256_update(&c, data, len);
  hone__sha256_hex(&c, out);
  free(data);
  if (size) *size = (long long)len;
  return true;
}

int hone__mkdir_p(const char *dir) {
  char *p = strdup(dir);
  if (!p) return -ENOMEM;
  int rc = 0;
  for (char *s = p + 1;; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        break;
      }
      *s = c;
      if (!c) break;
    }
  }
  free(p);
  if (rc == 0) {
    struct stat st;
    if (stat(dir, &st) != 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
  }
  return rc;
}

int hone__rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
  DIR *d = opendir(path);
  if (!d) return -errno;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    char *child = hone__path_join(path, de->d_name);
    if (!child) {
      rc = -ENOMEM;
      break;
    }
    int r = hone__rm_rf(child);
    if (r && !rc) rc = r;
    free(child);
  }
  closedir(d);
  if (rmdir(path) != 0 && errno != ENOENT && !rc) rc = -errno;
  return rc;
}

char *hone__cache_dir(void) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return hone__path_join(xdg, "hone");
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  return hone__path_join(home, ".cache/hone");
}

/* What tells a file's content without reading it: device, inode, size and modification time
 * (an editor that saves in place changes the last; one that renames, the inode). No blanks. */
bool hone__file_stamp(const char *path, char *buf, size_t len) {
  struct stat st;
  if (stat(path, &st) != 0) return false;
  snprintf(buf, len, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
           (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
           (long)st.st_mtim.tv_nsec);
  return true;
}
