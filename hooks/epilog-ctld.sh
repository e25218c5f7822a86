#!/bin/bash
# Rebound's EpilogSlurmctld hook. Epilogs see no job state (a timeout looks like success here), so the
# event only says "job ended"; the service has the relay read sacct before it decides. Always exits 0.
. "$(dirname "$(readlink -f "$0")")/lib.sh" || exit 0
cluster=${SLURM_CLUSTER_NAME:-slurm}
body=$(printf '{"id":%s,"version":1,"source":"epilog-ctld","occurredAt":%s,"cluster":%s,"type":"slurm.epilog","data":{"jobId":%s,"jobName":%s,"partition":%s,"user":%s,"account":%s,"rawExitStatus":%s,"exitCode":%s,"restartCount":%s}}' \
  "$(json_str "epilog:$cluster:$SLURM_JOB_ID:${SLURM_JOB_RESTART_COUNT:-0}")" "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" \
  "$(json_str "$cluster")" "$(json_str "$SLURM_JOB_ID")" "$(json_str "$SLURM_JOB_NAME")" "$(json_str "$SLURM_JOB_PARTITION")" \
  "$(json_str "$SLURM_JOB_USER")" "$(json_str "$SLURM_JOB_ACCOUNT")" "$(json_int "$SLURM_JOB_EXIT_CODE")" \
  "$(json_str "$SLURM_JOB_EXIT_CODE2")" "$(json_int "$SLURM_JOB_RESTART_COUNT")")
post_or_spool "epilog-$cluster-$SLURM_JOB_ID" "$body"
exit 0
