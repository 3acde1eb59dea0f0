# record.sh: `hone record` end to end — runs an instrumented program with the runtime preloaded,
# passes its exit status (and signals) through, reports forked children's files, advises on a
# program built without -finstrument-functions, and refuses misuse.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
case "$CC" in *clang*|*gcc*|cc) ;; *) CC=cc ;; esac

cat >"$T/prog.c" <<'C'
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile int sink;
__attribute__((noinline)) void leaf(void) { sink++; }
__attribute__((noinline)) int fib(int n) { leaf(); return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  sink += fib(10); /* 177 calls of fib, 177 of leaf */
  if (strcmp(mode, "exit7") == 0) return 7;
  if (strcmp(mode, "term") == 0) raise(SIGTERM);
  if (strcmp(mode, "fork") == 0) {
    pid_t pid = fork();
    if (pid == 0) { leaf(); exit(0); }
    waitpid(pid, NULL, 0);
  }
  return 0;
}
C
# The fixture itself is built without sanitizers: it is PROG, not hone.
env -u CFLAGS "$CC" -O1 -g -finstrument-functions -fno-optimize-sibling-calls "$T/prog.c" -o "$T/prog"
"$CC" -O1 "$T/prog.c" -o "$T/plain"
cd "$T" || exit 1
unset ASAN_OPTIONS UBSAN_OPTIONS

run "$HONE" record --help
expect_status 0; expect_out '^usage: hone record'

run "$HONE" record
expect_status 2; expect_err 'no program to run'

run "$HONE" record --bogus -- ./prog
expect_status 2; expect_err "unknown option '--bogus'"

# A whole run: the file is where -o says, the summary names it, the counts are exact.
run "$HONE" record -o fib.prof -- ./prog
expect_status 0; expect_err "wrote $T/fib.prof: 355 calls of 3 functions in 1 thread"
expect_err 'next: hone report fib.prof'
check "fib.prof written" [ -s "$T/fib.prof" ]
check "no temporary file left" [ -z "$(ls "$T" | grep '\.tmp\.')" ]

run "$HONE" record --json -o fib.prof -- ./prog
expect_status 0
check "json: calls" [ "$(printf '%s' "$out" | jq -r .calls)" = 355 ]
check "json: functions" [ "$(printf '%s' "$out" | jq -r .functions)" = 3 ]
check "json: events" [ "$(printf '%s' "$out" | jq -r .events)" = true ]
check "json: file" [ "$(printf '%s' "$out" | jq -r .file)" = "$T/fib.prof" ]
check "json: command" [ "$(printf '%s' "$out" | jq -r '.command[0]')" = ./prog ]

# Default file name, relative to the working directory.
rm -f hone.prof
run "$HONE" record -- ./prog
expect_status 0
check "default hone.prof" [ -s "$T/hone.prof" ]

# Through a shell that forks the program: the shell, which records nothing, leaves the
# program's file alone (they share HONE_PROF_OUT).
run "$HONE" record --json -o sh.prof -- sh -c './prog; :'
expect_status 0
check "json: the program's calls, not the shell's none" [ "$(printf '%s' "$out" | jq -r .calls)" = 355 ]

# Exit status and signals pass through; SIGTERM still writes the file.
run "$HONE" record -o e.prof -- ./prog exit7
expect_status 7; expect_err 'exited with status 7'
check "file written on a nonzero exit" [ -s "$T/e.prof" ]
run "$HONE" record --json -o term.prof -- ./prog term
expect_status 143
check "json: signal" [ "$(printf '%s' "$out" | jq -r .signal)" = 15 ]
check "json: calls before SIGTERM" [ "$(printf '%s' "$out" | jq -r .calls)" = 355 ]

# A forked child writes FILE.<pid>, which the summary lists; an earlier run's child files go.
echo stale >fork.prof.1
run "$HONE" record --json -o fork.prof -- ./prog fork
expect_status 0
child=$(printf '%s' "$out" | jq -r '.children[0]')
check "child file listed" [ -n "$child" ] && [ "$child" != null ]
check "child file exists" [ -s "$child" ]
check "child file is named FILE.<pid>" bash -c "[[ '$child' =~ /fork\\.prof\\.[0-9]+$ ]]"
check "an earlier run's child file removed" [ ! -e fork.prof.1 ]
check "only this run's child listed" [ "$(printf '%s' "$out" | jq '.children | length')" = 1 ]

# A program built without -finstrument-functions: the advice, with the flags.
run "$HONE" record -o plain.prof -- ./plain
expect_status 0; expect_err 'recorded no function calls'; expect_err '-finstrument-functions -g'
expect_err 'fno-optimize-sibling-calls'
run "$HONE" record --json -o plain.prof -- ./plain
check "json: no events" [ "$(printf '%s' "$out" | jq -r .events)" = false ]

# A program that cannot be run; a runtime that cannot be found.
run "$HONE" record -- ./no-such-program
expect_status 127; expect_err "cannot run './no-such-program'"
HONE_PROF_LIB=$T/nope.so run "$HONE" record -- ./prog
expect_status 1; expect_err 'HONE_PROF_LIB'

# Installed layout: bin/hone finds lib/libhone-prof.so beside its bin directory.
mkdir -p "$T/inst/bin" "$T/inst/lib"
cp "$HONE" "$T/inst/bin/hone"
cp "$HONE_BUILD/libhone-prof.so" "$T/inst/lib/"
run "$T/inst/bin/hone" record --json -o inst.prof -- ./prog
expect_status 0
check "installed layout records" [ "$(printf '%s' "$out" | jq -r .calls)" = 355 ]

# A path with spaces and a quote: the suggested command quotes it for the shell.
mkdir -p "$T/my dir"
run "$HONE" record -o "my dir/it's.prof" -- ./prog
expect_status 0
check "file in a directory with spaces" [ -s "$T/my dir/it's.prof" ]
expect_err "next: hone report 'my dir/it'.''s\\.prof'\$"

# An output directory that cannot be written is refused before PROG runs.
run "$HONE" record -o "$T/no-such-dir/x.prof" -- sh -c 'touch ran'
expect_status 2; expect_err "cannot write the stats file in $T/no-such-dir: No such file or directory"
check "PROG did not run" [ ! -e ran ]

# A signal that leaves no file (SIGKILL runs no handler) is named.
run "$HONE" record -o kill.prof -- sh -c 'kill -KILL $$'
expect_status 137; expect_err 'was ended by signal 9 \(Killed\) and wrote no stats file'

# An old file of the same name never passes for a new one.
echo junk >stale.prof
run "$HONE" record -o stale.prof -- sh -c 'exit 0'
expect_err 'recorded no function calls|wrote no stats file'
check "stale file replaced or removed" [ "$(head -c 4 stale.prof 2>/dev/null)" != junk ]
done_testing
