# example_processes.sh: examples/processes (the lecture's multiprocessing examples, run by
# `make demo`) end to end: each part prints what it claims, and its own checks pass — also under
# the sanitizers, where UBSan stops the crashing worker at its NULL store (exit status 1, or
# SIGABRT with abort_on_error) before the SIGSEGV.
. "$(dirname "$0")/lib.sh"
ex="$HONE_BUILD/examples/processes"
check "examples/processes is built" [ -x "$ex" ]

run "$ex" 200000
expect_status 0
expect_out '^  child [0-9]+ \(returns 0\): exitcode 0, result: sum of squares 1\.\.1000 = 333833500 \(computed in pid [0-9]+\)$'
expect_out '^  child [0-9]+ \(returns 7\): exitcode 7, result: sum of squares 1\.\.10 = 385 '
expect_out '^  child [0-9]+ \(aborts\): exitcode -6 \(killed by signal 6, [A-Za-z ]+\), result: \(none'
expect_out '^  joined 3 children with 9 messages still queued \(256 KiB each'
check "six small messages, two from each child" \
  [ "$(printf '%s\n' "$out" | grep -cE '^    child [0-2] \(pid [0-9]+\): message [01]$')" -eq 6 ]
expect_out '^    and 3 messages of 256 KiB, each intact$'
if [ -n "${HONE_SANITIZE:-}" ]; then
  expect_out "^  item 13: HONE_ECRASHED: worker [01] \(pid [0-9]+\) (was killed by signal (11 \(SIGSEGV|6 \(SIGABRT)|exited with status 1 while running task 'example\.square_or_crash')"
else
  expect_out "^  item 13: HONE_ECRASHED: worker [01] \(pid [0-9]+\) was killed by signal 11 \(SIGSEGV, [^)]*\) while running task 'example\.square_or_crash'$"
fi
check "only input 13 failed" [ "$(printf '%s\n' "$out" | grep -c '^  item ')" -eq 1 ]
expect_out '^  results: 0 1 4 9 16 25 36 49 64 81 100 121 144 \[13: failed\] 196 225 256 289 324 361$'
expect_out '^  19 of 20 futures completed, 1 failed'
expect_out '^  after the crash, the same pool: square\(12\) = 144$'
expect_out '^  primes below 200000: 17984 \(in 64 ranges, same answer both ways\)$'
expect_out '^  map on +[0-9]+ worker processes: +[0-9.]+ s +speedup [0-9.]+x$'

run "$ex" 1
expect_status 2; expect_err '^usage: processes \[LIMIT\]'
run "$ex" 10 20
expect_status 2; expect_err '^usage: processes \[LIMIT\]'
done_testing
