#!/usr/bin/env bash
# run.sh NP MODE PROG [ARGS...]: runs PROG under mpirun with NP ranks on this machine.
#   MODE default   Open MPI's default transports (shared memory between ranks here)
#   MODE tcp       --mca btl self,tcp: the path ranks on different machines take
#   MODE recovery  the settings under which a lost rank does not end the job
#                  (--mca orte_enable_recovery 1 --mca orte_abort_on_non_zero_status 0);
#                  the program must print "lost-rank ok"
set -uo pipefail
np=$1 mode=$2
shift 2
# Open MPI's launcher (the build's MPI; with MPICH installed too, plain mpirun is whichever the
# alternatives system prefers, Open MPI on Debian).
mpirun=$(command -v mpirun.openmpi || command -v mpirun) ||
  { echo "run.sh: mpirun not found (scripts/install-deps installs openmpi-bin)" >&2; exit 1; }
args=(-np "$np" --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
case $mode in
  default) ;;
  tcp) args+=(--mca btl self,tcp) ;;
  recovery) args+=(--mca orte_enable_recovery 1 --mca orte_abort_on_non_zero_status 0) ;;
  *) echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
esac
# Under ThreadSanitizer, reports from inside Open MPI are suppressed (tests/mpi/tsan.supp), also
# when ctest is run by hand without TSAN_OPTIONS (other builds ignore it); -x hands the setting
# to every rank.
supp="suppressions=$(cd "$(dirname "$0")" && pwd)/tsan.supp"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}$supp"
args+=(-x TSAN_OPTIONS)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s.%N)
timeout -k 5 240 "$mpirun" "${args[@]}" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
end=$(date +%s.%N)
echo "run.sh: mpirun exited $rc after $(echo "$end - $start" | bc 2>/dev/null || echo '?') s"
if [ "$mode" = recovery ]; then
  # mpirun reports the killed rank in its exit status; the test's verdict is rank 0's line.
  grep -q '^lost-rank ok' "$out" || { echo "run.sh: no 'lost-rank ok' from rank 0" >&2; exit 1; }
  [ "$rc" -ne 124 ] || { echo "run.sh: mpirun hung (killed after 240 s)" >&2; exit 1; }
  exit 0
fi
exit "$rc"
