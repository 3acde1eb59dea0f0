# main.sh: the hone command's frame — --help, --version, help COMMAND, usage errors.
. "$(dirname "$0")/lib.sh"

run "$HONE" --help
expect_status 0; expect_out '^usage: hone'; expect_empty_err

run "$HONE" --version
expect_status 0; expect_out '^hone [0-9]+\.[0-9]+\.[0-9]+$'

run "$HONE"
expect_status 2; expect_err 'usage: hone'

run "$HONE" no-such-command
expect_status 2; expect_err "'no-such-command' is not a hone command"

run "$HONE" --bogus
expect_status 2; expect_err "unknown option '--bogus'"

run "$HONE" help no-such-command
expect_status 2; expect_err "unknown command"

# Every listed command answers --help on stdout with status 0, and `hone help CMD` says the same.
for cmd in $("$HONE" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}'); do
  [ "$cmd" = help ] && continue
  run "$HONE" "$cmd" --help
  expect_status 0; expect_out "usage: hone $cmd"; expect_empty_err
  help_out=$out
  run "$HONE" help "$cmd"
  expect_status 0
  check "hone help $cmd equals hone $cmd --help" [ "$out" = "$help_out" ]
  check "man page docs/hone-$cmd.1 exists" [ -f "$HONE_SRC/docs/hone-$cmd.1" ]
done

# A write error on stdout is reported, not silent.
if [ -w /dev/full ]; then
  run "$HONE" --help
  _what="hone --help >/dev/full"
  "$HONE" --help >/dev/full 2>"$T/full.err" && status=0 || status=$?
  err=$(cat "$T/full.err")
  expect_status 1; expect_err 'error writing standard output'
fi
done_testing
