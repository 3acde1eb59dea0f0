/* record.c: `hone record [-o FILE] [--plain PLAIN] -- PROG [ARGS...]` — runs PROG with the
 * profiler runtime (libhone-prof.so) preloaded, passes its exit status through, and says where
 * the stats file went (and when PROG recorded nothing because it was not built with
 * -finstrument-functions). With --plain, then runs PLAIN (the same program built without
 * instrumentation) with the same arguments and the runtime in its plain mode (HONE_PROF_PLAIN=1),
 * which writes FILE.plain: the samples that give `hone report FILE FILE.plain` its times. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "hone/profdata.h"

#define CMD "record"
#define RUNTIME "libhone-prof.so"

static void usage(FILE *out) {
  fprintf(out,
          "usage: hone record [-o FILE] [--plain PLAIN] [--json] -- PROG [ARGS...]\n"
          "\n"
          "Runs PROG with hone's profiler runtime (" RUNTIME ") preloaded and writes its\n"
          "calling-context trees, per thread, to a stats file for `hone report`. PROG must be\n"
          "built with -finstrument-functions (and -g, for names and lines). A forked child\n"
          "writes FILE.<pid>. hone record exits with PROG's status (128+N when a signal N ended\n"
          "it).\n"
          "\n"
          "  -o, --output FILE  the stats file (default hone.prof)\n"
          "  --plain PLAIN      then run PLAIN, the same program built without\n"
          "                     -finstrument-functions, with the same ARGS, and write where its\n"
          "                     CPU time went to FILE.plain: `hone report FILE FILE.plain` takes\n"
          "                     the times from it (true for tiny, often-called functions, which\n"
          "                     the hooks slow) and the calls from FILE\n"
          "  --json             the summary as a JSON object on stdout\n"
          "  -h, --help         show this help\n"
          "\n"
          "Environment: HONE_PROF_LIB names the runtime to preload (default: next to the hone\n"
          "binary, or in the lib directory it is installed with).\n");
}

/* The runtime: $HONE_PROF_LIB, else next to the binary (build tree), else the installed lib
 * directories beside bin/. */
static int find_runtime(char *out, size_t len) {
  const char *env = getenv("HONE_PROF_LIB");
  if (env && *env) {
    if (access(env, R_OK) != 0) return -1;
    snprintf(out, len, "%s", env);
    return 0;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = '\0';
  static const char *const rel[] = {
    "",
    "/../lib",
    "/../lib64",
#if defined(__x86_64__)
    "/../lib/x86_64-linux-gnu",
#elif defined(__aarch64__)
    "/../lib/aarch64-linux-gnu",
#endif
  };
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    int w = snprintf(out, len, "%s%s/" RUNTIME, exe, rel[i]);
    if (w < 0 || (size_t)w >= len) continue;
    if (access(out, R_OK) == 0) {
      char real[PATH_MAX];
      if (realpath(out, real) && strlen(real) < len) strcpy(out, real);
      return 0;
    }
  }
  return -1;
}

/* An absolute path for `path` (which need not exist yet): the runtime resolves relative names
 * against PROG's working directory, which PROG may change. */
static int absolute(const char *path, char *out, size_t len) {
  if (path[0] == '/') {
    if (strlen(path) >= len) return -1;
    strcpy(out, path);
    return 0;
  }
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return -1;
  int w = snprintf(out, len, "%s/%s", cwd, path);
  return w < 0 || (size_t)w >= len ? -1 : 0;
}

static volatile sig_atomic_t child_pid;

static void forward(int sig) {
  if (child_pid > 0) kill((pid_t)child_pid, sig);
}

/* Runs argv with the runtime preloaded (in its plain mode when `plain`); returns the wait
 * status, or -1 when fork failed. */
static int run(char **argv, const char *lib, const char *out, bool plain) {
  const char *old = getenv("LD_PRELOAD");
  size_t need = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
  char *preload = malloc(need);
  if (!preload) return -1;
  snprintf(preload, need, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    free(preload);
    return -1;
  }
  if (pid == 0) {
    setenv("LD_PRELOAD", preload, 1);
    setenv("HONE_PROF_OUT", out, 1);
    if (plain)
      setenv("HONE_PROF_PLAIN", "1", 1);
    else
      unsetenv("HONE_PROF_PLAIN");
    execvp(argv[0], argv);
    int e = errno;
    fprintf(stderr, "hone record: cannot run '%s': %s\n", argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  free(preload);
  /* Like a shell waiting for a job: Ctrl-C reaches PROG (same process group), which writes its
   * file and ends; hone record stays to report it. SIGTERM sent to hone record goes to PROG. */
  child_pid = pid;
  struct sigaction ign, fwd, old_int, old_quit, old_term;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  fwd = ign;
  fwd.sa_handler = forward;
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGQUIT, &ign, &old_quit);
  sigaction(SIGTERM, &fwd, &old_term);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  child_pid = 0;
  return status;
}

typedef struct summary {
  size_t threads, nodes, functions;
  uint64_t calls;
  double seconds;
  const char *clock;
} summary;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int summarize(const hone_profile *p, summary *s) {
  memset(s, 0, sizeof *s);
  const hone_prof_info *in = hone_profile_info(p);
  s->threads = hone_profile_thread_count(p);
  s->clock = in->clock;
  s->seconds = (double)in->total_ticks / in->ticks_per_second;
  for (size_t t = 0; t < s->threads; t++) s->nodes += hone_profile_thread(p, t)->nnodes;
  uint64_t *funcs = malloc((s->nodes ? s->nodes : 1) * sizeof *funcs);
  if (!funcs) return HONE_ENOMEM;
  size_t k = 0;
  for (size_t t = 0; t < s->threads; t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    for (size_t i = 0; i < th->nnodes; i++) {
      s->calls += th->nodes[i].calls;
      funcs[k++] = th->nodes[i].func;
    }
  }
  qsort(funcs, k, sizeof *funcs, cmp_u64);
  for (size_t i = 0; i < k; i++)
    if (i == 0 || funcs[i] != funcs[i - 1]) s->functions++;
  free(funcs);
  return 0;
}

/* Files FILE.<pid> written by forked children during this run (modified since `since`). */
static char **child_files(const char *out, time_t since, size_t *n) {
  *n = 0;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  if (!slash) return NULL;
  const char *base = out + (slash - dir) + 1;
  *slash = '\0';
  size_t blen = strlen(base);
  DIR *d = opendir(dir[0] ? dir : "/");
  if (!d) return NULL;
  char **list = NULL;
  size_t cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *nm = e->d_name;
    if (strncmp(nm, base, blen) != 0 || nm[blen] != '.' || !nm[blen + 1]) continue;
    if (strspn(nm + blen + 1, "0123456789") != strlen(nm + blen + 1)) continue;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, nm);
    struct stat st;
    if (stat(path, &st) != 0 || st.st_mtime < since) continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 4;
      char **l = realloc(list, cap * sizeof *l);
      if (!l) break;
      list = l;
    }
    list[*n] = strdup(path);
    if (list[*n]) (*n)++;
  }
  closedir(d);
  return list;
}

/* Prints `s` as a shell word (quoted when it holds more than plain characters), so that the
 * suggested command can be pasted back into a shell. */
static void print_shell_word(FILE *f, const char *s) {
  if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=+,-@%") ==
                strlen(s)) {
    fputs(s, f);
    return;
  }
  fputc('\'', f);
  for (; *s; s++) {
    if (*s == '\'')
      fputs("'\\''", f);
    else
      fputc(*s, f);
  }
  fputc('\'', f);
}

static void no_events_advice(const char *prog) {
  fprintf(stderr,
          "hone record: %s recorded no function calls: it was not built with "
          "-finstrument-functions.\n"
          "  Rebuild it with, for example:\n"
          "    cc -finstrument-functions -g -fno-optimize-sibling-calls -O1 ... -o %s\n"
          "  -g lets hone report name functions and lines; -fno-optimize-sibling-calls keeps tail\n"
          "  calls (and tail recursion) as calls; add -fno-inline to see functions the compiler\n"
          "  would otherwise inline. Libraries not built so are not profiled.\n",
          prog, prog);
}

/* Removes FILE and the files of its forked children (FILE.<pid>) left by an earlier run, which
 * must not pass for this run's. 0, or -1 with errno when FILE cannot be removed. */
static int remove_old(const char *out) {
  if (unlink(out) != 0 && errno != ENOENT) return -1;
  size_t nold = 0;
  char **old = child_files(out, 0, &nold);
  for (size_t i = 0; i < nold; i++) {
    unlink(old[i]);
    free(old[i]);
  }
  free(old);
  return 0;
}

/* The plain build's run (--plain). */
typedef struct plain_run {
  char file[PATH_MAX + 8];
  int status, code;
  bool ok; /* its file was written and read */
  uint64_t samples;
  size_t threads;
} plain_run;

/* Runs PLAIN with PROG's arguments, the runtime in its plain mode, and reads what it wrote;
 * says what went wrong on stderr. */
static void run_plain(char **prog, const char *plain, const char *lib, plain_run *pr) {
  size_t n = 0;
  while (prog[n]) n++;
  char **argv = calloc(n + 1, sizeof *argv);
  if (!argv) {
    hone__cli_error(CMD, "out of memory");
    return;
  }
  argv[0] = (char *)plain;
  for (size_t i = 1; i < n; i++) argv[i] = prog[i];
  pr->status = run(argv, lib, pr->file, true);
  free(argv);
  if (pr->status < 0) {
    hone__cli_error(CMD, "cannot start %s: %s", plain, strerror(errno));
    return;
  }
  pr->code = WIFEXITED(pr->status) ? WEXITSTATUS(pr->status) : 128 + WTERMSIG(pr->status);
  if (WIFEXITED(pr->status) && (pr->code == 126 || pr->code == 127) && access(pr->file, F_OK))
    return; /* exec failed: the child said why */
  hone_profile *p = NULL;
  char msg[512];
  int rc = hone_profile_read(pr->file, &p, msg, sizeof msg);
  if (rc == HONE_ENOENT) {
    hone__cli_error(CMD,
                    "the plain build %s wrote no samples (%s): perf_event_open was refused, "
                    "its hooks ran (it was built with -finstrument-functions), or it ended "
                    "without running its exit handlers",
                    plain, pr->file);
    return;
  }
  if (rc != 0) {
    hone__cli_error(CMD, "%s", msg);
    return;
  }
  const hone_prof_info *in = hone_profile_info(p);
  if (!in->times || strcmp(in->times, "plain") != 0) {
    hone__cli_error(CMD, "%s is not a plain build's run", pr->file);
    hone_profile_free(p);
    return;
  }
  pr->threads = hone_profile_thread_count(p);
  for (size_t t = 0; t < pr->threads; t++) {
    const hone_prof_thread *th = hone_profile_thread(p, t);
    pr->samples += th->samples_outside;
    for (size_t k = 0; k < th->npcs; k++) pr->samples += th->pcs[k].count;
  }
  hone_profile_free(p);
  pr->ok = true;
}

int hone__cmd_record(int argc, char **argv) {
  static const struct option options[] = {
      {"output", required_argument, NULL, 'o'},
      {"json", no_argument, NULL, 'j'},
      {"plain", required_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *output = "hone.prof";
  const char *plain = NULL;
  bool json = false;
  int opt;
  optind = 1;
  opterr = 0;
  /* "+": stop at PROG, so that PROG's own options are left alone. */
  while ((opt = getopt_long(argc, argv, "+:o:h", options, NULL)) != -1) {
    switch (opt) {
    case 'o':
      output = optarg;
      break;
    case 'j':
      json = true;
      break;
    case 'p':
      plain = optarg;
      break;
    case 'h':
      usage(stdout);
      return HONE_EXIT_OK;
    case ':':
      return hone__cli_usage_error(CMD, "option '%s' needs an argument", argv[optind - 1]);
    default:
      return hone__cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return hone__cli_usage_error(CMD, "no program to run");
  if (!*output) return hone__cli_usage_error(CMD, "the output file name is empty");
  if (plain && !*plain) return hone__cli_usage_error(CMD, "the plain build's name is empty");
  /* Said now, not after the instrumented run. A name without a slash is looked up in PATH. */
  if (plain && strchr(plain, '/') && access(plain, X_OK) != 0)
    return hone__cli_usage_error(CMD, "--plain %s: %s", plain, strerror(errno));
  char **prog = argv + optind;

  char lib[PATH_MAX], out[PATH_MAX];
  if (find_runtime(lib, sizeof lib) != 0) {
    const char *env = getenv("HONE_PROF_LIB");
    if (env && *env) return hone__cli_error(CMD, "HONE_PROF_LIB=%s: cannot read it", env);
    return hone__cli_error(CMD, "cannot find " RUNTIME " next to the hone binary or in its lib "
                                "directory; set HONE_PROF_LIB to its path");
  }
  if (absolute(output, out, sizeof out) != 0)
    return hone__cli_error(CMD, "%s: path too long or working directory unknown", output);
  /* The runtime writes a temporary file beside the output and renames it: a directory it cannot
   * write in is said now, before PROG runs, not after its run is lost. */
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  if (access(dir, W_OK | X_OK) != 0) {
    int e = errno;
    hone__cli_error(CMD, "cannot write the stats file in %s: %s", dir, strerror(e));
    return HONE_EXIT_USAGE;
  }
  /* Files left by an earlier run must not pass for this run's, nor the files of its forked
   * children (FILE.<pid>), which `hone report FILE*` would merge with this run's. */
  plain_run pr = {0};
  if (plain && snprintf(pr.file, sizeof pr.file, "%s.plain", out) >= (int)sizeof pr.file)
    return hone__cli_error(CMD, "%s: path too long", out);
  if (remove_old(out) != 0 || (plain && remove_old(pr.file) != 0))
    return hone__cli_error(CMD, "cannot replace %s: %s", errno ? out : pr.file, strerror(errno));

  time_t started = time(NULL);
  int status = run(prog, lib, out, false);
  if (status < 0) return hone__cli_error(CMD, "cannot start %s: %s", prog[0], strerror(errno));
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (WIFEXITED(status) && (code == 126 || code == 127) && access(out, F_OK) != 0)
    return code; /* exec failed: the child said why */

  hone_profile *p = NULL;
  char msg[512];
  int rc = hone_profile_read(out, &p, msg, sizeof msg);
  if (rc != 0) {
    if (rc == HONE_ENOENT && WIFSIGNALED(status))
      hone__cli_error(CMD, "%s was ended by signal %d (%s) and wrote no stats file (%s)", prog[0],
                      WTERMSIG(status), strsignal(WTERMSIG(status)), out);
    else if (rc == HONE_ENOENT)
      hone__cli_error(CMD,
                      "%s wrote no stats file (%s): it ended without running its exit "
                      "handlers (_exit, or killed by a signal other than SIGINT/SIGTERM), "
                      "it ran with HONE_PROF=off or manual, or it is statically linked or "
                      "setuid and ignored LD_PRELOAD (link it with -lhone-prof instead)",
                      prog[0], out);
    else
      hone__cli_error(CMD, "%s", msg);
    return code ? code : HONE_EXIT_FAILURE;
  }
  summary s;
  if (summarize(p, &s) != 0) {
    hone_profile_free(p);
    return hone__cli_error(CMD, "out of memory");
  }
  hone_profile_free(p);
  size_t nchildren = 0;
  char **children = child_files(out, started, &nchildren);
  if (plain && s.calls > 0) run_plain(prog, plain, lib, &pr);

  if (s.calls == 0) no_events_advice(prog[0]);
  if (json) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return hone__cli_error(CMD, "out of memory");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "file", out);
    cJSON *cmd = cJSON_AddArrayToObject(root, "command");
    for (char **a = prog; *a; a++) cJSON_AddItemToArray(cmd, cJSON_CreateString(*a));
    cJSON_AddNumberToObject(root, "exit_status", code);
    if (WIFSIGNALED(status))
      cJSON_AddNumberToObject(root, "signal", WTERMSIG(status));
    else
      cJSON_AddNullToObject(root, "signal");
    cJSON_AddBoolToObject(root, "events", s.calls > 0);
    cJSON_AddNumberToObject(root, "threads", (double)s.threads);
    cJSON_AddNumberToObject(root, "functions", (double)s.functions);
    cJSON_AddNumberToObject(root, "nodes", (double)s.nodes);
    cJSON_AddNumberToObject(root, "calls", (double)s.calls);
    cJSON_AddNumberToObject(root, "seconds", s.seconds);
    cJSON_AddStringToObject(root, "clock", s.clock);
    cJSON *ch = cJSON_AddArrayToObject(root, "children");
    for (size_t i = 0; i < nchildren; i++)
      cJSON_AddItemToArray(ch, cJSON_CreateString(children[i]));
    if (pr.ok) {
      cJSON *pj = cJSON_AddObjectToObject(root, "plain");
      cJSON_AddStringToObject(pj, "file", pr.file);
      cJSON_AddStringToObject(pj, "program", plain);
      cJSON_AddNumberToObject(pj, "exit_status", pr.code);
      cJSON_AddNumberToObject(pj, "threads", (double)pr.threads);
      cJSON_AddNumberToObject(pj, "samples", (double)pr.samples);
    } else {
      cJSON_AddNullToObject(root, "plain");
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text) puts(text);
    cJSON_free(text);
  } else {
    char dur[32];
    fprintf(stderr,
            "hone record: wrote %s: %llu calls of %zu functions in %zu thread%s, %s (clock %s)\n",
            out, (unsigned long long)s.calls, s.functions, s.threads, s.threads == 1 ? "" : "s",
            hone__cli_fmt_ns(s.seconds * 1e9, dur, sizeof dur), s.clock);
    for (size_t i = 0; i < nchildren; i++)
      fprintf(stderr, "hone record: a forked child wrote %s\n", children[i]);
    if (code != 0)
      fprintf(stderr, "hone record: %s %s %d\n", prog[0],
              WIFSIGNALED(status) ? "was ended by signal" : "exited with status",
              WIFSIGNALED(status) ? WTERMSIG(status) : code);
    if (pr.ok) {
      fprintf(stderr, "hone record: wrote %s: %llu samples of %s's CPU time in %zu thread%s\n",
              pr.file, (unsigned long long)pr.samples, plain, pr.threads,
              pr.threads == 1 ? "" : "s");
      if (pr.code != code)
        fprintf(stderr,
                "hone record: warning: %s exited with %d and %s with %d: the two runs may not "
                "have done the same work\n",
                prog[0], code, plain, pr.code);
    }
    if (s.calls > 0) {
      fputs("hone record: next: hone report ", stderr);
      print_shell_word(stderr, output);
      if (pr.ok) {
        fputc(' ', stderr);
        print_shell_word(stderr, output);
        fputs(".plain", stderr);
      }
      fputc('\n', stderr);
    }
  }
  if (plain && s.calls > 0 && !pr.ok && code == 0) code = HONE_EXIT_FAILURE;
  for (size_t i = 0; i < nchildren; i++) free(children[i]);
  free(children);
  return code;
}
