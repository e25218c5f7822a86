#!/bin/bash
# Rebound's jobcomp/script hook (slurm.conf: JobCompType=jobcomp/script, JobCompLoc=<this file>).
# slurmctld runs it once per job with the final state; it posts a signed slurm.jobcomp event, or spools it
# when the service cannot be reached. It always exits 0: a hook must never disturb slurmctld.
self=$(readlink -f "$0") && . "${self%/*}/lib.sh" || exit 0
cluster=${CLUSTER:-slurm}
# An array task is named as Slurm names it to people, `<array>_<index>` (sacct, squeue, scontrol all take
# it); its own number (JOBID) stays in the event id and the spool name, as the sacct watcher builds them.
job=$JOBID
if [[ $ARRAYJOBID =~ ^[1-9][0-9]*$ && $ARRAYTASKID =~ ^[0-9]+$ && $ARRAYTASKID != 4294967294 ]]; then
  job=${ARRAYJOBID}_$ARRAYTASKID
fi
# The end of this run of the job: a job Slurm requeues ends once per run, each end its own event.
json_int "$END"; end=$REPLY
json_object s jobId "$job" s jobName "$JOBNAME" s partition "$PARTITION" s user "$USERNAME" \
  s account "$ACCOUNT" s workDir "$WORK_DIR" s state "$JOBSTATE" s exitCode "$EXITCODE" \
  s derivedExitCode "$DERIVED_EC" s timeLimit "$LIMIT" i startedAt "$START" i endedAt "$end" s nodes "$NODES"
data=$REPLY
now
json_object s id "jobcomp:$cluster:$JOBID:e$end" i version 1 s source jobcomp s occurredAt "$REPLY" \
  s cluster "$cluster" s type slurm.jobcomp j data "$data"
body=$REPLY
post_or_spool "jobcomp-$cluster-$JOBID-e$end" "$body"
exit 0
