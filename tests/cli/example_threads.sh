# example_threads.sh: examples/threads (the lecture's threading slides, run by `make demo`) end to
# end: threads get their arguments (each its own range), are joined and hand back answers that
# add up; the threaded run's answer equals the serial one's; a speedup is printed. The speedup's
# value is not asserted (it depends on the cores free), only that it is a measured number.
. "$(dirname "$0")/lib.sh"
ex="$HONE_BUILD/examples/threads"
check "examples/threads is built" [ -x "$ex" ]
run "$ex" 200000
expect_status 0
# One thread per online CPU (at least 2): their ranges tile [0, 20000) and their counts add up.
expect_out '^  thread 0: primes in \[0, [0-9]+\): [0-9]+$'
expect_out '^  joined [0-9]+ threads: 2262 primes below 20000$'
check "the threads' answers add up" test "$(printf '%s\n' "$out" | sed -n 's/^  thread [0-9]*: primes in .*): //p' | awk '{ s += $1 } END { print s + 0 }')" -eq 2262
expect_out '^  primes below 200000: 17984 \(the same on both\)$'
expect_out '^  speedup: [0-9]+\.[0-9]{2}x on [0-9]+ threads, measured now'
done_testing
