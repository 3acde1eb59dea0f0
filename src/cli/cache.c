/* cache.c: `hone cache info|clean` — what the cache of compiled snippets holds, and emptying it.
 * The layout is snippet.c's: DIR/timeit/KEY/ (one entry per compiled snippet), plus temporary
 * .tmp-* directories of builds in progress (or of runs that were killed). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "snippet.h"

#define CMD "cache"

static void usage(FILE *out) {
  fprintf(out, "usage: hone cache info [--json]\n"
               "       hone cache clean\n"
               "\n"
               "The cache of compiled snippets of hone timeit, in $XDG_CACHE_HOME/hone\n"
               "(default ~/.cache/hone).\n"
               "\n"
               "  info     the directory, its size and the number of cached snippets\n"
               "  clean    remove every cached snippet\n"
               "  --json   info as a JSON object\n"
               "  -h, --help  show this help\n");
}

/* Sums the sizes of the regular files under path. */
static long long tree_size(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
  DIR *d = opendir(path);
  if (!d) return 0;
  long long sum = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    char *child = NULL;
    if (asprintf(&child, "%s/%s", path, de->d_name) < 0) continue;
    sum += tree_size(child);
    free(child);
  }
  closedir(d);
  return sum;
}

static bool is_entry_name(const char *name) {
  if (strlen(name) != 64) return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
  return true;
}

static void count_entries(const char *tdir, long *entries, long *partial) {
  *entries = *partial = 0;
  DIR *d = opendir(tdir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (is_entry_name(de->d_name))
      (*entries)++;
    else if (de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
      (*partial)++;
  }
  closedir(d);
}

static int cache_info(const char *dir, bool json) {
  char *tdir = NULL;
  if (asprintf(&tdir, "%s/timeit", dir) < 0) return hone__cli_error(CMD, "out of memory");
  struct stat st;
  bool exists = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
  long long size = exists ? tree_size(dir) : 0;
  long entries = 0, partial = 0;
  if (exists) count_entries(tdir, &entries, &partial);
  free(tdir);
  if (json) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "directory", dir);
    cJSON_AddBoolToObject(j, "exists", exists);
    cJSON_AddNumberToObject(j, "size_bytes", (double)size);
    cJSON_AddNumberToObject(j, "entries", (double)entries);
    cJSON_AddNumberToObject(j, "partial", (double)partial);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return hone__cli_error(CMD, "out of memory");
    printf("%s\n", text);
    cJSON_free(text);
    return HONE_EXIT_OK;
  }
  printf("directory: %s%s\n", dir, exists ? "" : " (not created yet)");
  printf("size:      %lld bytes (%.1f KiB)\n", size, (double)size / 1024);
  printf("entries:   %ld compiled snippet%s\n", entries, entries == 1 ? "" : "s");
  if (partial) printf("partial:   %ld unfinished build%s\n", partial, partial == 1 ? "" : "s");
  return HONE_EXIT_OK;
}

/* A build in progress: a temporary directory touched within the last hour. Older ones are left
 * over from runs that were killed. */
static bool build_in_progress(const char *tdir, const char *name) {
  if (strncmp(name, ".tmp-", 5) != 0) return false;
  char *path = NULL;
  if (asprintf(&path, "%s/%s", tdir, name) < 0) return false;
  struct stat st;
  bool fresh = lstat(path, &st) == 0 && st.st_mtime > time(NULL) - 3600;
  free(path);
  return fresh;
}

/* Removes everything in tdir but the builds in progress (another hone timeit compiling right
 * now must not lose its directory), then tdir itself if that left it empty. */
static int clean_dir(const char *tdir) {
  DIR *d = opendir(tdir);
  if (!d) return errno == ENOENT ? 0 : -errno;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (build_in_progress(tdir, de->d_name)) continue;
    char *child = NULL;
    if (asprintf(&child, "%s/%s", tdir, de->d_name) < 0) {
      rc = -ENOMEM;
      break;
    }
    int r = hone__rm_rf(child);
    if (r && !rc) rc = r;
    free(child);
  }
  closedir(d);
  if (rc == 0 && rmdir(tdir) != 0 && errno != ENOTEMPTY && errno != EEXIST) rc = -errno;
  return rc;
}

static int cache_clean(const char *dir) {
  char *tdir = NULL;
  if (asprintf(&tdir, "%s/timeit", dir) < 0) return hone__cli_error(CMD, "out of memory");
  long entries = 0, partial = 0;
  count_entries(tdir, &entries, &partial);
  int rc = clean_dir(tdir);
  free(tdir);
  if (rc) return hone__cli_error(CMD, "cannot remove %s/timeit: %s", dir, strerror(-rc));
  printf("removed %ld compiled snippet%s from %s\n", entries, entries == 1 ? "" : "s", dir);
  return HONE_EXIT_OK;
}

int hone__cmd_cache(int argc, char **argv) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool json = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'j':
      json = true;
      break;
    case 'h':
      usage(stdout);
      return HONE_EXIT_OK;
    default:
      return hone__cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return hone__cli_usage_error(CMD, "say info or clean");
  if (optind + 1 < argc) return hone__cli_usage_error(CMD, "too many arguments");
  const char *sub = argv[optind];
  char *dir = hone__cache_dir();
  if (!dir) return hone__cli_error(CMD, "no cache directory: set HOME or XDG_CACHE_HOME");
  int rc;
  if (strcmp(sub, "info") == 0)
    rc = cache_info(dir, json);
  else if (strcmp(sub, "clean") == 0)
    rc = json ? hone__cli_usage_error(CMD, "--json goes with info") : cache_clean(dir);
  else
    rc = hone__cli_usage_error(CMD, "unknown subcommand '%s' (info or clean)", sub);
  free(dir);
  return rc;
}
