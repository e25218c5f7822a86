#!/bin/bash
# Rebound's EpilogSlurmctld hook. Epilogs see no job state (a timeout looks like success here), so the
# event only says "job ended"; the service has the relay read sacct before it decides. Always exits 0.
self=$(readlink -f "$0") && . "${self%/*}/lib.sh" || exit 0
cluster=${SLURM_CLUSTER_NAME:-slurm}
json_object s jobId "$SLURM_JOB_ID" s jobName "$SLURM_JOB_NAME" s partition "$SLURM_JOB_PARTITION" \
  s user "$SLURM_JOB_USER" s account "$SLURM_JOB_ACCOUNT" i rawExitStatus "$SLURM_JOB_EXIT_CODE" \
  s exitCode "$SLURM_JOB_EXIT_CODE2" i restartCount "$SLURM_JOB_RESTART_COUNT"
data=$REPLY
now
json_object s id "epilog:$cluster:$SLURM_JOB_ID:${SLURM_JOB_RESTART_COUNT:-0}" i version 1 s source epilog-ctld \
  s occurredAt "$REPLY" s cluster "$cluster" s type slurm.epilog j data "$data"
body=$REPLY
post_or_spool "epilog-$cluster-$SLURM_JOB_ID" "$body"
exit 0
