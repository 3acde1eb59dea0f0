/* main.c: the hone command — global options, the subcommand table, `hone help CMD`, and
 * reporting of write errors on stdout at exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hone/error.h"

typedef struct hone__command {
  const char *name;
  hone__cli_fn fn;
  const char *summary;
} hone__command;

static const hone__command commands[] = {
#define HONE_COMMAND(name, fn, summary) {name, fn, summary},
#include "commands.def"
#undef HONE_COMMAND
    {NULL, NULL, NULL},
};

static const hone__command *find_command(const char *name) {
  for (const hone__command *c = commands; c->name; c++)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

static void usage(FILE *out) {
  fprintf(out, "usage: hone [--version] [--help] COMMAND [ARGS...]\n"
               "\n"
               "hone measures, profiles and parallelizes C code.\n"
               "\n"
               "Commands:\n");
  for (const hone__command *c = commands; c->name; c++)
    fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out, "  %-10s %s\n", "help", "show the help of a command (hone help COMMAND)");
  fprintf(out,
          "\nRun 'hone COMMAND --help' for a command's options; 'man hone-COMMAND' for more.\n");
}

/* Flushes stdout and reports a failed write (a full disk, a closed pipe) so that output lost on
 * the way out is never silent. */
static int finish(int status) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int e = errno;
    if (e != EPIPE) fprintf(stderr, "hone: error writing standard output: %s\n", strerror(e));
    return status ? status : HONE_EXIT_FAILURE;
  }
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return HONE_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return finish(HONE_EXIT_OK);
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    printf("hone %s\n", hone_version());
    return finish(HONE_EXIT_OK);
  }
  if (strcmp(cmd, "help") == 0) {
    if (argc < 3) {
      usage(stdout);
      return finish(HONE_EXIT_OK);
    }
    const hone__command *c = find_command(argv[2]);
    if (!c) {
      fprintf(stderr, "hone help: unknown command '%s'\n", argv[2]);
      return HONE_EXIT_USAGE;
    }
    char *help_argv[] = {argv[2], "--help", NULL};
    return finish(c->fn(2, help_argv));
  }
  if (cmd[0] == '-') {
    fprintf(stderr, "hone: unknown option '%s'\n", cmd);
    usage(stderr);
    return HONE_EXIT_USAGE;
  }
  const hone__command *c = find_command(cmd);
  if (!c) {
    fprintf(stderr, "hone: '%s' is not a hone command. See 'hone --help'.\n", cmd);
    return HONE_EXIT_USAGE;
  }
  return finish(c->fn(argc - 1, argv + 1));
}
