#!/usr/bin/env bash
# slurm-stop.sh - stops ONLY the daemons slurm-env.sh started, via their PID files
# under $REBOUND_SLURM_DIR/run (pid is checked against /proc/PID/comm; never kills by name).
# State (job ids, DB) is kept; `rm -rf $REBOUND_SLURM_DIR/run` afterwards for a clean slate.
set -uo pipefail
LAB=${REBOUND_SLURM_DIR:-/var/tmp/rebound-slurm}
RUN=$LAB/run
export SLURM_CONF=$LAB/etc/slurm.conf PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

stop() { # stop NAME PIDFILE COMM
  local pid
  pid=$(cat "$2" 2>/dev/null) || { echo "$1: not started by us (no $2)"; return 0; }
  if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$3" ]; then
    local t0=$(date +%s%N)
    kill -TERM "$pid"
    for _ in $(seq 300); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then echo "$1: still alive after 30s, SIGKILL"; kill -KILL "$pid"; fi
    echo "$1 (pid $pid) stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  else
    echo "$1: pid '$pid' not running as $3 (stale pid file removed)"
  fi
  rm -f "$2"
}

# cancel remaining jobs first so no slurmstepd outlives slurmd
if [ "${REBOUND_SLURM_CANCEL_JOBS:-1}" = 1 ] && [ -s "$RUN/slurmctld.pid" ] && scontrol ping 2>/dev/null | grep -q UP; then
  ids=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${ids// }" ]; then
    echo "cancelling jobs: $ids"; scancel $ids
    for _ in $(seq 150); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
  fi
fi
# two phases, daemons within a phase stop in parallel
stop slurmd    "$RUN/slurmd.pid"        slurmd &
stop slurmctld "$RUN/slurmctld.pid"     slurmctld &
stop slurmdbd  "$RUN/slurmdbd.pid"      slurmdbd &
wait
stop mariadbd  "$RUN/mysql/mysqld.pid"  mariadbd &
stop munged    "$RUN/munge/munged.pid"  munged &
wait
rm -f "$RUN"/*.confhash
