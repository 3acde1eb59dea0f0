# 35-processes.sh: the multiprocessing layer — a function in a child process, children sending
# through a shared queue (joined before the parent reads: no deadlock), a pool of worker processes
# where one input crashes its worker while every other future completes, and a map on processes.
if [ -x "$build/examples/processes" ]; then
  section "processes: Process, Queue, and a pool of worker processes that survives a crash"
  "$build/examples/processes" 2000000
fi
