/* cli.h: what the hone command's subcommands share — exit codes, the command table, error and
 * progress output, and tables printed for people (aligned) or machines (CSV). Internal to the CLI;
 * the CLI reaches the library only through include/hone/. */
#ifndef HONE_CLI_H
#define HONE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hone/error.h"

/* Exit statuses of every subcommand. */
enum hone_exit {
  HONE_EXIT_OK = 0,      /* success */
  HONE_EXIT_FAILURE = 1, /* the work ran and failed (a snippet crashed, a file was refused) */
  HONE_EXIT_USAGE = 2,   /* the command line or the user's input was wrong */
};

/* A subcommand: argv[0] is the subcommand's name; returns an enum hone_exit value. Each one
 * accepts --help (usage to stdout, status 0). */
typedef int (*hone__cli_fn)(int argc, char **argv);

/* Declarations of every subcommand, generated from commands.def. */
#define HONE_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef HONE_COMMAND

/* "hone CMD: message" on stderr, with a newline. Returns HONE_EXIT_FAILURE for convenience. */
int hone__cli_error(const char *cmd, const char *fmt, ...) HONE_PRINTF(2, 3);
/* The same, then "Try 'hone CMD --help'." ; returns HONE_EXIT_USAGE. */
int hone__cli_usage_error(const char *cmd, const char *fmt, ...) HONE_PRINTF(2, 3);

/* Progress on a terminal: a line on stderr rewritten in place; nothing when stderr is not a TTY
 * (or HONE_NO_PROGRESS is set). hone__cli_progress_done() clears the line. */
bool hone__cli_progress_enabled(void);
void hone__cli_progress(const char *fmt, ...) HONE_PRINTF(1, 2);
void hone__cli_progress_done(void);

/* Parse helpers: whole-string numbers; false (and nothing stored) on junk or overflow. */
bool hone__cli_parse_u64(const char *s, unsigned long long *out);
bool hone__cli_parse_double(const char *s, double *out);

/* Human-readable duration from nanoseconds with a fixed number of significant digits
 * ("12.3 ns", "4.56 us", "1.23 ms", "2.5 s"). Writes into buf, returns buf. */
char *hone__cli_fmt_ns(double ns, char *buf, size_t len);

/* A table of strings: aligned columns for people, CSV (RFC 4180 quoting, LF line ends) for
 * machines. */
typedef struct hone__table hone__table;
/* ncols headers; align is a string of 'l'/'r', one per column (NULL = all left). */
hone__table *hone__table_new(size_t ncols, const char *const *headers, const char *align);
void hone__table_free(hone__table *t);
/* Appends a row of ncols cells (copied). Returns 0 or HONE_ENOMEM. */
int hone__table_add(hone__table *t, const char *const *cells);
/* printf-style: cells given as formats in one call, separated by '\t' in the formatted text. */
int hone__table_addf(hone__table *t, const char *fmt, ...) HONE_PRINTF(2, 3);
void hone__table_print(const hone__table *t, FILE *out);
void hone__table_print_csv(const hone__table *t, FILE *out);

#endif /* HONE_CLI_H */
