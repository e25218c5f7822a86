#!/bin/bash
# Rebound's jobcomp/script hook (slurm.conf: JobCompType=jobcomp/script, JobCompLoc=<this file>).
# slurmctld runs it once per job with the final state; it posts a signed slurm.jobcomp event, or spools it
# when the service cannot be reached. It always exits 0: a hook must never disturb slurmctld.
. "$(dirname "$(readlink -f "$0")")/lib.sh" || exit 0
cluster=${CLUSTER:-slurm}
# An array task is named as Slurm names it to people, `<array>_<index>` (sacct, squeue, scontrol all take
# it); its own number (JOBID) stays in the event id and the spool name, as the sacct watcher builds them.
job=$JOBID
if [[ $ARRAYJOBID =~ ^[1-9][0-9]*$ && $ARRAYTASKID =~ ^[0-9]+$ && $ARRAYTASKID != 4294967294 ]]; then
  job=${ARRAYJOBID}_$ARRAYTASKID
fi
# The end of this run of the job: a job Slurm requeues ends once per run, each end its own event.
end=$(json_int "$END")
body=$(printf '{"id":%s,"version":1,"source":"jobcomp","occurredAt":%s,"cluster":%s,"type":"slurm.jobcomp","data":{"jobId":%s,"jobName":%s,"partition":%s,"user":%s,"account":%s,"workDir":%s,"state":%s,"exitCode":%s,"derivedExitCode":%s,"timeLimit":%s,"startedAt":%s,"endedAt":%s,"nodes":%s}}' \
  "$(json_str "jobcomp:$cluster:$JOBID:e$end")" "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" "$(json_str "$cluster")" \
  "$(json_str "$job")" "$(json_str "$JOBNAME")" "$(json_str "$PARTITION")" "$(json_str "$USERNAME")" \
  "$(json_str "$ACCOUNT")" "$(json_str "$WORK_DIR")" "$(json_str "$JOBSTATE")" "$(json_str "$EXITCODE")" \
  "$(json_str "$DERIVED_EC")" "$(json_str "$LIMIT")" "$(json_int "$START")" "$end" "$(json_str "$NODES")")
post_or_spool "jobcomp-$cluster-$JOBID-e$end" "$body"
exit 0
