# clocks.sh: `hone clocks` end to end — the table, --json, --csv, --help and misuse.
. "$(dirname "$0")/lib.sh"

run "$HONE" clocks
expect_status 0; expect_empty_err
expect_out '^clock +source +sleep +monotonic +resolution +cost/read +what it counts$'
expect_out '^wall +CLOCK_REALTIME +yes +no +[0-9.]+ [mun]?s +[0-9.]+ [mun]?s '
expect_out '^monotonic +CLOCK_MONOTONIC +yes +yes '
expect_out '^process +CLOCK_PROCESS_CPUTIME_ID +no +yes '
expect_out '^thread +CLOCK_THREAD_CPUTIME_ID +no +yes '
expect_out '^cycles +(rdtsc|cntvct_el0|none) '
expect_out '^cycle counter: '
check "five clock rows" [ "$(printf '%s\n' "$out" | grep -cE '^(wall|monotonic|process|thread|cycles) ')" -eq 5 ]

run "$HONE" clocks --json
expect_status 0; expect_empty_err
json=$out
check "--json is JSON with version 1" [ "$(jq -r .version <<<"$json")" = 1 ]
check "--json names the five clocks in order" \
  [ "$(jq -r '[.clocks[].name] | join(" ")' <<<"$json")" = "wall monotonic process thread cycles" ]
check "--json: the monotonic clock is monotonic and counts sleep" \
  [ "$(jq -r '.clocks[1] | "\(.monotonic) \(.counts_sleep) \(.cpu_time) \(.unit)"' <<<"$json")" = "true true false ns" ]
check "--json: CPU-time clocks do not count sleep" \
  [ "$(jq -r '[.clocks[2,3] | .counts_sleep] | join(" ")' <<<"$json")" = "false false" ]
check "--json: every available clock has a positive cost and resolution" \
  [ "$(jq '[.clocks[] | select(.available) | select(.cost_ns > 0 and .resolution_ns > 0)] | length' <<<"$json")" = \
    "$(jq '[.clocks[] | select(.available)] | length' <<<"$json")" ]
check "--json: the wall clock's cost is under 1 ms" \
  [ "$(jq '.clocks[0].cost_ns < 1e6' <<<"$json")" = true ]
if [ "$(jq -r '.clocks[4].available' <<<"$json")" = true ]; then
  check "--json: the cycle counter has a calibrated frequency (1 MHz .. 100 GHz)" \
    [ "$(jq '.clocks[4] | .frequency_hz > 1e6 and .frequency_hz < 1e11 and .unit == "cycles"' <<<"$json")" = true ]
fi

run "$HONE" clocks --csv
expect_status 0; expect_empty_err
expect_out '^clock,source,available,counts_sleep,monotonic,cpu_time,resolution_ns,cost_ns,frequency_hz,invariant,unit,description$'
expect_out '^monotonic,CLOCK_MONOTONIC,yes,yes,yes,no,[0-9.e+-]+,[0-9.e+-]+,1000000000,no,ns,'
check "--csv: a header and five rows" [ "$(printf '%s\n' "$out" | wc -l)" -eq 6 ]

run "$HONE" clocks --help
expect_status 0; expect_out '^usage: hone clocks'; expect_empty_err
run "$HONE" help clocks
expect_status 0; expect_out '^usage: hone clocks'

run "$HONE" --help
expect_status 0; expect_out '^  clocks +'

run "$HONE" clocks --bogus
expect_status 2; expect_err "hone clocks: unknown option '--bogus'"; expect_err "Try 'hone clocks --help'"
run "$HONE" clocks extra
expect_status 2; expect_err "unexpected argument 'extra'"
run "$HONE" clocks --json --csv
expect_status 2; expect_err 'exclude each other'
check "no output on a usage error" [ -z "$out" ]

done_testing
