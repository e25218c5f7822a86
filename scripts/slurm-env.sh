#!/usr/bin/env bash
# slurm-env.sh start|stop - Rebound's test Slurm: a real single-node Slurm 22.05 (Debian 12 packages)
# without systemd: munged, MariaDB + slurmdbd (for sacct), slurmctld, slurmd, cgroup v1 memory
# enforcement where the machine allows it, and Rebound's own jobcomp/script hook. It stops only what it
# started, by PID file. Everything lives under $REBOUND_SLURM_DIR (default /var/tmp/rebound-slurm).
#
#   scripts/slurm-env.sh start    install if needed, start, wait until the node is idle
#   scripts/slurm-env.sh stop     stop the daemons it started
# The jobcomp hook routes each job's end to the Rebound processes registered in
# $REBOUND_SLURM_DIR/etc/hook-routes/ (test/e2e/harness.ts registers one per process).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB=${REBOUND_SLURM_DIR:-/var/tmp/rebound-slurm}
if [ "${1:-start}" = stop ]; then exec "$REPO/scripts/slurm-stop.sh"; fi
ACCOUNTING=${REBOUND_SLURM_ACCOUNTING:-slurmdbd}
CGROUP=${REBOUND_SLURM_CGROUP:-auto}
DB_PORT=${REBOUND_SLURM_DB_PORT:-3306}
WAIT=${REBOUND_SLURM_WAIT:-60}
ETC=$LAB/etc RUN=$LAB/run LOG=$LAB/log HOOKS=$LAB/hooks
export SLURM_CONF=$ETC/slurm.conf
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
T0=$(date +%s%N)

say() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[slurm-env %3d.%03ds] %s\n' $((ms/1000)) $((ms%1000)) "$*"; }
die() { say "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

# running PIDFILE COMM -> true if the pid in PIDFILE is alive and is COMM
running() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}
wait_for() { # wait_for SECS CMD...
  local n=$(( $1 * 10 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
stop_pid() { local pid; pid=$(cat "$1"); kill "$pid"; for _ in $(seq 200); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done; kill -9 "$pid" || true; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- packages
PKGS=(munge slurmctld slurmd slurm-client curl openssl python3 strace)
[ "$ACCOUNTING" = slurmdbd ] && PKGS+=(slurmdbd mariadb-server)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # keep the packages' init scripts from starting daemons (we start our own)
  added_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
  say "installed ${missing[*]}"
fi

mkdir -p "$ETC" "$RUN/state" "$RUN/spool" "$LOG/hooks" "$HOOKS"
chmod 755 "$LAB" "$ETC" "$RUN" "$LOG"

# ---------------------------------------------------------------- test users
# Ordinary users for the suites (test/e2e): everything runs as alice unless a test says otherwise, and
# mallory is the other user on the cluster. They run this checkout's code, so they must be able to read it.
for user in alice:1501 mallory:1502; do
  id -u "${user%%:*}" >/dev/null 2>&1 || useradd --uid "${user##*:}" --user-group --create-home --shell /bin/bash "${user%%:*}"
done
runuser -u alice -- test -r "$REPO/package.json" -a -x "$REPO/node_modules" 2>/dev/null ||
  say "WARNING: user alice cannot read $REPO (or its node_modules): the e2e suites run Rebound as alice; make the checkout readable (chmod o+rX on it and its parents)"

# ---------------------------------------------------------------- munge
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
fi
# The default socket path is used on purpose: slurmctld->slurmdbd connections
# in 22.05 ignore AuthInfo=socket=... and always use /run/munge/munge.socket.2.
mkdir -p /run/munge "$RUN/munge"
chown munge:munge /run/munge "$RUN/munge"; chmod 0755 /run/munge "$RUN/munge"
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "munged already answering on /run/munge/munge.socket.2 (reused)"
else
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged \
    --pid-file="$RUN/munge/munged.pid" --log-file="$RUN/munge/munged.log" \
    --seed-file="$RUN/munge/munged.seed"
  wait_for 10 sh -c 'munge -n | unmunge' || die "munged did not come up"
  say "munged started (pid $(cat "$RUN/munge/munged.pid"))"
fi

# ---------------------------------------------------------------- cgroup detection
cg_v1_ok() {
  [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] && [ -d /sys/fs/cgroup/freezer ] || return 1
  local d ok=0
  for d in memory freezer; do
    mkdir "/sys/fs/cgroup/$d/rebound_probe.$$" 2>/dev/null && rmdir "/sys/fs/cgroup/$d/rebound_probe.$$" || ok=1
  done
  return $ok
}
if [ "$CGROUP" = auto ]; then
  if cg_v1_ok; then CGROUP=v1; else CGROUP=none; fi
fi
say "cgroup mode: $CGROUP, accounting: $ACCOUNTING"

# ---------------------------------------------------------------- Rebound's hook, through a router
# slurmctld gives jobcomp scripts no environment of ours. The installed hook is a router, so that the test
# suite's Rebound processes can run side by side: each registers a route, $ETC/hook-routes/<name>.conf
# (REBOUND_URL, REBOUND_SECRET_FILE, REBOUND_SPOOL as hooks/lib.sh reads them, plus MATCH: an extended
# regular expression over the job's comment, and optionally PARTITION). A job's end in a partition a route
# names goes to that route alone, without asking slurmctld anything (slurmctld runs this script for one end
# after another, and an `scontrol show job` per end made a storm's ends reach Rebound seconds late).
# Otherwise a tagged job's end goes to every route whose MATCH fits its comment, an untagged job's end to
# every route (untagged jobs are only recorded), and with no route nowhere. For a single Rebound, one route
# with MATCH=. is the whole site hook.
mkdir -p "$ETC/hook-routes"
cat > "$HOOKS/jobcomp.sh.new" <<ROUTER
#!/bin/bash
# Generated by scripts/slurm-env.sh: the test cluster's jobcomp router (see there).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin SLURM_CONF=$ETC/slurm.conf
declare -A match part
for conf in $ETC/hook-routes/*.conf; do
  [ -e "\$conf" ] || continue
  match[\$conf]= part[\$conf]=
  while IFS='=' read -r key value; do
    case \$key in MATCH) match[\$conf]=\$value ;; PARTITION) part[\$conf]=\$value ;; esac
  done < "\$conf"
done
claimed=
for conf in "\${!part[@]}"; do
  if [[ -n \${part[\$conf]} && \${part[\$conf]} == "\$PARTITION" ]]; then
    REBOUND_HOOK_CONF=\$conf $REPO/hooks/jobcomp.sh "\$@" &
    claimed=1
  fi
done
if [[ -z \$claimed && \${#match[@]} -gt 0 ]]; then
  comment=\$(scontrol show job "\$JOBID" 2>/dev/null | sed -n 's/.* Comment=\([^ ]*\).*/\1/p' | head -1)
  for conf in "\${!match[@]}"; do
    if [[ \$comment != rebound:* ]] || [[ \$comment =~ \${match[\$conf]} ]]; then
      REBOUND_HOOK_CONF=\$conf $REPO/hooks/jobcomp.sh "\$@" &
    fi
  done
fi
wait
exit 0
ROUTER
chmod 755 "$HOOKS/jobcomp.sh.new"; mv "$HOOKS/jobcomp.sh.new" "$HOOKS/jobcomp.sh"
rm -f "$ETC/rebound-hook.conf"   # the single-target hook settings of earlier versions

# ---------------------------------------------------------------- slurm.conf
HOST=$(hostname -s)
read -r -a HW < <(slurmd -C | head -1)   # NodeName=.. CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ThreadsPerCore=.. RealMemory=..
declare -A hw; for kv in "${HW[@]}"; do hw[${kv%%=*}]=${kv#*=}; done
MEM=$(( ${hw[RealMemory]} * 9 / 10 ))
# The node is declared with more CPUs than the machine has (config_overrides), so that the jobs of test files
# running side by side do not queue behind each other: they sleep or allocate memory, they do not compute.
CPUS=${REBOUND_SLURM_CPUS:-$(( ${hw[CPUs]} > 8 ? ${hw[CPUs]} : 8 ))}
case $CGROUP in
  v1|v2) PROCTRACK=proctrack/cgroup; TASK=task/cgroup; GATHERPARAMS=NoOverMemoryKill ;;
  none)  PROCTRACK=proctrack/linuxproc; TASK=task/none; GATHERPARAMS=OverMemoryKill ;;
  *) die "bad REBOUND_SLURM_CGROUP=$CGROUP" ;;
esac
if [ "$ACCOUNTING" = slurmdbd ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819"
else
  ACCT="AccountingStorageType=accounting_storage/none"
fi
new=$(mktemp)
cat > "$new" <<EOF
# generated by start-slurm.sh
ClusterName=rebound
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$RUN/state
SlurmdSpoolDir=$RUN/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
ProctrackType=$PROCTRACK
TaskPlugin=$TASK
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=$GATHERPARAMS
$ACCT
JobCompType=jobcomp/script
JobCompLoc=$HOOKS/jobcomp.sh
# job_env and job_script: the environment and script each batch job was submitted with, kept in accounting
# (sacct --env-vars, --batch-script), so a retry runs with exactly the original environment.
AccountingStoreFlags=job_comment,job_env,job_script
MailProg=/bin/true
MinJobAge=300
KillWait=5
OverTimeLimit=0
InactiveLimit=0
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM State=UNKNOWN
PartitionName=short Nodes=ALL Default=YES MaxTime=00:01:00 State=UP DenyAccounts=capped
PartitionName=long  Nodes=ALL Default=NO  MaxTime=INFINITE State=UP DenyAccounts=capped
# For account "capped" only, and the only partition it may use: a limit above every partition it offers.
PartitionName=capped Nodes=ALL Default=NO MaxTime=INFINITE MaxMemPerNode=300 AllowAccounts=capped State=UP
# For account "storm" only (test/e2e-phases/storm.test.ts): up to 32 jobs share each CPU, so a hundred tiny
# jobs run, and fail, at once.
PartitionName=storm Nodes=ALL Default=NO MaxTime=00:05:00 OverSubscribe=FORCE:32 AllowAccounts=storm State=UP
EOF
cmp -s "$new" "$ETC/slurm.conf" || mv "$new" "$ETC/slurm.conf"
rm -f "$new"; chmod 644 "$ETC/slurm.conf"

if [ "$CGROUP" = v1 ]; then
  swap=no; [ -f /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ] && swap=yes
  printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainCores=no\nConstrainDevices=no\nConstrainRAMSpace=yes\nAllowedRAMSpace=100\nConstrainSwapSpace=%s\nAllowedSwapSpace=0\n' $swap > "$ETC/cgroup.conf.new"
elif [ "$CGROUP" = v2 ]; then
  printf 'CgroupPlugin=cgroup/v2\nIgnoreSystemd=yes\nConstrainCores=no\nConstrainDevices=no\nConstrainRAMSpace=yes\nAllowedRAMSpace=100\nConstrainSwapSpace=yes\nAllowedSwapSpace=0\n' > "$ETC/cgroup.conf.new"
else
  printf 'CgroupPlugin=autodetect\n' > "$ETC/cgroup.conf.new"
fi
mv "$ETC/cgroup.conf.new" "$ETC/cgroup.conf"

# let plain `sbatch` etc. find the config without SLURM_CONF
mkdir -p /etc/slurm
if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$ETC/slurm.conf" ]; then
  ln -sfn "$ETC/slurm.conf" /etc/slurm/slurm.conf
else
  say "WARNING: /etc/slurm/slurm.conf exists and is not ours; export SLURM_CONF=$ETC/slurm.conf"
fi
echo "export SLURM_CONF=$ETC/slurm.conf" > "$LAB/env.sh"

# ---------------------------------------------------------------- MariaDB + slurmdbd
if [ "$ACCOUNTING" = slurmdbd ]; then
  DBDIR=$RUN/mysql
  mkdir -p "$DBDIR"; chown mysql:mysql "$DBDIR"
  SOCK=$DBDIR/mysqld.sock
  if ! running "$DBDIR/mysqld.pid" mariadbd; then
    if [ ! -d "$DBDIR/data/mysql" ]; then
      mariadb-install-db --user=mysql --datadir="$DBDIR/data" --auth-root-authentication-method=socket \
        --skip-test-db > "$LOG/mariadb-install.log" 2>&1 || die "mariadb-install-db failed (see $LOG/mariadb-install.log)"
    fi
    setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DBDIR/data" --socket="$SOCK" \
      --pid-file="$DBDIR/mysqld.pid" --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
      --log-error="$DBDIR/mariadb.log" --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
      </dev/null >/dev/null 2>&1 &
    wait_for 30 mariadb-admin --socket="$SOCK" ping || die "mariadbd did not start (see $DBDIR/mariadb.log)"
    say "mariadbd started (pid $(cat "$DBDIR/mysqld.pid"))"
  fi
  mariadb --socket="$SOCK" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
  cat > "$ETC/slurmdbd.conf.new" <<EOF
AuthType=auth/munge
DbdHost=$HOST
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$LOG/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$ETC/slurmdbd.conf.new"; mv "$ETC/slurmdbd.conf.new" "$ETC/slurmdbd.conf"
  DBDHASH=$(md5sum < "$ETC/slurmdbd.conf" | cut -c1-32)
  if running "$RUN/slurmdbd.pid" slurmdbd && [ "$(cat "$RUN/slurmdbd.confhash" 2>/dev/null)" != "$DBDHASH" ]; then
    say "config changed: restarting slurmdbd"; stop_pid "$RUN/slurmdbd.pid"
  fi
  if ! running "$RUN/slurmdbd.pid" slurmdbd; then
    slurmdbd
    echo "$DBDHASH" > "$RUN/slurmdbd.confhash"
    wait_for 30 port_open 6819 || die "slurmdbd did not start (see $LOG/slurmdbd.log)"
    say "slurmdbd started (pid $(cat "$RUN/slurmdbd.pid"))"
  fi
fi

# ---------------------------------------------------------------- slurmctld + slurmd
# restart daemons whose running config (hash recorded at their start) differs from the files now
HASH=$(cat "$ETC/slurm.conf" "$ETC/cgroup.conf" | md5sum | cut -c1-32)
for d in slurmd slurmctld; do
  if running "$RUN/$d.pid" $d && [ "$(cat "$RUN/$d.confhash" 2>/dev/null)" != "$HASH" ]; then
    say "config changed: restarting $d"; stop_pid "$RUN/$d.pid"
  fi
done
if ! running "$RUN/slurmctld.pid" slurmctld; then
  slurmctld -f "$SLURM_CONF" || die "slurmctld failed (see $LOG/slurmctld.log)"
  echo "$HASH" > "$RUN/slurmctld.confhash"
  wait_for 30 sh -c 'scontrol ping | grep -q UP' || die "slurmctld not answering (see $LOG/slurmctld.log)"
  say "slurmctld started (pid $(cat "$RUN/slurmctld.pid"))"
fi
# ---------------------------------------------------------------- the test users' associations
# As on every real site, each user has an association (account "lab"): slurmdbd hands an ordinary user the
# environment their jobs were submitted with (sacct --env-vars) only for jobs of their own associations.
# alice may also charge account "capped", which only partition "capped" admits, and "storm" (partition "storm").
if [ "$ACCOUNTING" = slurmdbd ] && ! sacctmgr -n -P list assoc user=alice account=storm format=user | grep -q alice; then
  # slurmctld registers its cluster with slurmdbd as it starts: associations need it.
  wait_for 30 sh -c 'sacctmgr -n -P list cluster format=cluster | grep -q .' || die "no cluster in slurmdbd"
  # Each says "nothing new" (and fails) for what an earlier start already added.
  sacctmgr -i add account lab,capped,storm Description=lab Organization=lab >/dev/null || true
  sacctmgr -i add user alice,mallory account=lab DefaultAccount=lab >/dev/null || true
  sacctmgr -i add user alice account=capped,storm >/dev/null || true
  sacctmgr -n -P list assoc user=alice account=storm format=user | grep -q alice || die "could not add the test users' associations"
  say "associations: alice and mallory in account lab, alice in capped and storm"
fi
SLURMD_T=0
if ! running "$RUN/slurmd.pid" slurmd; then
  SLURMD_T=$(date +%s)
  slurmd -f "$SLURM_CONF" || die "slurmd failed (see $LOG/slurmd.log)"
  echo "$HASH" > "$RUN/slurmd.confhash"
  wait_for 10 running "$RUN/slurmd.pid" slurmd || die "slurmd did not stay up (see $LOG/slurmd.log)"
  say "slurmd started (pid $(cat "$RUN/slurmd.pid"))"
fi

# ---------------------------------------------------------------- wait for idle node
deadline=$(( $(date +%s) + WAIT ))
while :; do
  st=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -1)
  # after a restart the controller reports the node's saved state until slurmd re-registers
  reg=$(scontrol show node "$HOST" 2>/dev/null | grep -oP 'SlurmdStartTime=\K\S+' || true)
  reg=$(date -d "$reg" +%s 2>/dev/null || echo 0)
  case $st in
    idle|mixed|allocated) [ "$reg" -ge $((SLURMD_T - 1)) ] && break ;;
    *drain*|down*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
  esac
  [ "$(date +%s)" -ge $deadline ] && { sinfo -N -l; tail -20 "$LOG/slurmctld.log" "$LOG/slurmd.log"; die "node not idle after ${WAIT}s (state: $st)"; }
  sleep 0.2
done
say "node $HOST is $st - cluster ready (export SLURM_CONF=$ETC/slurm.conf)"
sinfo
