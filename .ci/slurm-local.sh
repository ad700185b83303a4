#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for tests that submit jobs (Debian's Slurm 22.05).
#
#   bash .ci/slurm-local.sh start DIR    install slurm-wlm + munge if missing, start munged, slurmctld and
#                                         slurmd with DIR/slurm.conf, wait until the node is idle, then print
#                                         `export SLURM_CONF=DIR/slurm.conf` as the only line on stdout:
#                                         eval "$(bash .ci/slurm-local.sh start /tmp/slurm)"
#   bash .ci/slurm-local.sh stop DIR     cancel this cluster's jobs, stop slurmd and slurmctld by their pid files
#                                         (SIGTERM, SIGKILL after 15 s); idempotent.
#   bash .ci/slurm-local.sh status DIR   sinfo and squeue for DIR/slurm.conf.
#
# Needs root: both daemons run as root (SlurmUser=root, so no slurm user or file ownership to set up),
# and installing packages and writing /etc/munge/munge.key need it too.
# Everything Slurm writes (config, state, spool, logs, pid files) lives under DIR; only munge is system-wide
# (its key is /etc/munge/munge.key and every Slurm command authenticates through its /run/munge socket).
# munged: start reuses a munged that already answers; if start had to launch it, it records that in
# DIR/munged.pid and stop stops it again, unless another slurmctld/slurmd on this machine is still running.
# A second start in the same DIR stops the daemons of the first and keeps Slurm's state (job ids go on).
# A start that fails stops what it started and prints the tails of both logs.
# No accounting database: sacct does not work; finished jobs stay visible to `scontrol show job` for
# MinJobAge (300 s).
# No cgroup.conf: with proctrack/linuxproc and task/none, slurmd 22.05 starts without one (cgroups are not
# used at all, which also means --mem is scheduled against but not enforced).
set -euo pipefail

say() { echo "slurm-local: $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

usage() { die "usage: bash .ci/slurm-local.sh start|stop|status DIR"; }
[[ $# -eq 2 ]] || usage
cmd=$1
[[ -n $2 ]] || usage
DIR=$(realpath -m -- "$2")
CONF=$DIR/slurm.conf

# --- helpers ------------------------------------------------------------------------------------

# Alive and not a zombie: where pid 1 is a minimal init, exited daemons linger a while as zombies.
is_running() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $st && $st != Z ]]
}

# Pid from a pid file, printed only if that process is running and is the named program (pid files outlive
# their processes and pids get reused).
live_pid() {
    local file=$1 name=$2 pid
    [[ -r $file ]] || return 1
    pid=$(tr -dc '0-9' <"$file")
    [[ -n $pid ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] && is_running "$pid" || return 1
    echo "$pid"
}

# Pids of every running slurmctld and slurmd on this machine, whichever cluster they belong to.
slurm_pids() {
    local p
    for p in $(pgrep -x slurmctld) $(pgrep -x slurmd); do
        if is_running "$p"; then echo -n "$p "; fi
    done
}

# SIGTERM, wait up to 15 s, then SIGKILL.
stop_pid() {
    local pid=$1 name=$2 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        is_running "$pid" || { say "stopped $name ($pid)"; return 0; }
        sleep 0.1
    done
    say "$name ($pid) still running after 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do is_running "$pid" || return 0; sleep 0.1; done
    die "$name ($pid) survived SIGKILL"
}

munge_works() { command -v munge >/dev/null && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

stop_slurm() {
    local pid i
    # slurmstepd and the job's processes outlive slurmd, so cancel the jobs while slurmctld still answers.
    if pid=$(live_pid "$DIR/slurmctld.pid" slurmctld) && [[ -r $CONF ]]; then
        local jobs
        mapfile -t jobs < <(SLURM_CONF=$CONF timeout 10 squeue -h -o %A 2>/dev/null || true)
        if [[ ${#jobs[@]} -gt 0 ]]; then
            say "cancelling jobs: ${jobs[*]}"
            SLURM_CONF=$CONF timeout 10 scancel "${jobs[@]}" 2>/dev/null || true
            # KillWait=5: SIGTERM, then SIGKILL 5 s later.
            for ((i = 0; i < 30; i++)); do
                [[ -z $(SLURM_CONF=$CONF timeout 5 squeue -h -o %A 2>/dev/null || true) ]] && break
                sleep 0.5
            done
        fi
    fi
    # slurmd first, so it does not spend its shutdown failing to reach slurmctld.
    if pid=$(live_pid "$DIR/slurmd.pid" slurmd); then stop_pid "$pid" slurmd; fi
    if pid=$(live_pid "$DIR/slurmctld.pid" slurmctld); then stop_pid "$pid" slurmctld; fi
    rm -f "$DIR/slurmd.pid" "$DIR/slurmctld.pid"
}

stop_munged_if_ours() {
    local pid
    pid=$(live_pid "$DIR/munged.pid" munged) || { rm -f "$DIR/munged.pid"; return 0; }
    if [[ -n $(slurm_pids) ]]; then
        say "leaving munged ($pid) running: another slurmctld/slurmd still uses it"
    else
        stop_pid "$pid" munged
    fi
    rm -f "$DIR/munged.pid"
}

install_packages() {
    local need=() c
    for c in slurmctld slurmd sbatch sinfo squeue scancel scontrol munged munge unmunge; do
        command -v "$c" >/dev/null || need+=("$c")
    done
    [[ ${#need[@]} -eq 0 ]] && return 0
    [[ $EUID -eq 0 ]] || die "not installed: ${need[*]}; installing slurm-wlm and munge needs root (run as root, or apt-get install slurm-wlm munge first)"
    command -v apt-get >/dev/null || die "not installed: ${need[*]}; no apt-get to install slurm-wlm and munge with"
    say "installing slurm-wlm and munge (missing: ${need[*]})"
    # Update the package lists only if they do not know the packages (or the install below fails on them).
    local updated=0
    if ! apt-cache policy slurm-wlm munge 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update -qq >&2 || die "apt-get update failed: no access to the Debian package archive"
        updated=1
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2; then
        # Stale lists name files the archive no longer has: update once and retry.
        if [[ $updated -ne 0 ]] || ! apt-get update -qq >&2 ||
            ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2; then
            die "apt-get install slurm-wlm munge failed: no access to the Debian package archive?"
        fi
    fi
    for c in "${need[@]}"; do
        command -v "$c" >/dev/null || die "$c still missing after installing slurm-wlm and munge"
    done
}

start_munge() {
    if munge_works; then return 0; fi
    local user=munge
    getent passwd munge >/dev/null || user=root
    install -d -m 0700 -o "$user" -g "$user" /etc/munge /var/lib/munge /var/log/munge
    install -d -m 0755 -o "$user" -g "$user" /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        say "creating /etc/munge/munge.key"
        (umask 0377 && dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none)
    fi
    # munged refuses a key that is not owned by its user or that others can read.
    chown "$user:$user" /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    # --force: start even if a crashed munged left its socket behind.
    if [[ $user == munge ]]; then
        runuser -u munge -- munged --force >&2 || die "munged failed to start; see /var/log/munge/munged.log"
    else
        munged --force >&2 || die "munged failed to start; see /var/log/munge/munged.log"
    fi
    local i
    for ((i = 0; i < 50; i++)); do munge_works && break; sleep 0.1; done
    munge_works || die "munged started but munge -n | unmunge fails; see /var/log/munge/munged.log"
    cp /run/munge/munged.pid "$DIR/munged.pid" 2>/dev/null || pgrep -nx munged >"$DIR/munged.pid" || true
    say "started munged ($(cat "$DIR/munged.pid" 2>/dev/null))"
}

write_conf() {
    local host cpus mem_mb real_mb margin def_mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(free -m | awk '/^Mem:/ {print $2}')
    # slurmd drains a node that has less memory than RealMemory says: leave 5% (at least 128 MB) spare.
    margin=$((mem_mb / 20 > 128 ? mem_mb / 20 : 128))
    real_mb=$((mem_mb - margin))
    ((real_mb > 0)) || die "free reports ${mem_mb} MB of memory"
    # With memory as a consumable, a job without --mem would otherwise take the whole node's memory and
    # jobs would run one at a time: give each CPU a modest default instead.
    def_mem=$((real_mb / cpus < 1024 ? real_mb / cpus : 1024))
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF" <<EOF
# Written by .ci/slurm-local.sh: a throwaway single-node cluster for tests.
ClusterName=meanfield-ci
# The explicit loopback address keeps this working where the host name does not resolve.
SlurmctldHost=${host}(127.0.0.1)
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${real_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP

# Root daemons: nothing to chown, no slurm user needed.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# No cgroups: they are not delegated in containers/CI VMs; track job processes by parent pid instead.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# Cores and memory are consumables, so --mem is checked against the node and counted (not enforced: no cgroups).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=${def_mem}
SchedulerType=sched/backfill
# By default a submitted batch job waits up to 3 s for the scheduler (batching many submissions); tests
# submit few, short jobs: start them at once (cut a submit-to-finish of a trivial job from ~3 s to <=1 s).
SchedulerParameters=batch_sched_delay=0
# A node that went down (e.g. slurmd restarted) comes back by itself when slurmd registers again.
ReturnToService=2

# No slurmdbd: sacct does not work; finished jobs stay in scontrol show job for MinJobAge seconds.
# Nothing would store gathered usage, so gather none (saves polling and a warning per start).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Debian's slurm pulls in no mailer: without this slurmctld logs an error about the missing /bin/mail.
MailProg=/bin/true

StateSaveLocation=${DIR}/state
SlurmdSpoolDir=${DIR}/spool
SlurmctldLogFile=${DIR}/log/slurmctld.log
SlurmdLogFile=${DIR}/log/slurmd.log
SlurmctldPidFile=${DIR}/slurmctld.pid
SlurmdPidFile=${DIR}/slurmd.pid

# Short timeouts: a dead daemon shows within half a minute, not the default 2-5 minutes; MinJobAge keeps
# finished jobs queryable (no sacct); KillWait is the SIGTERM-to-SIGKILL grace when a job is cancelled.
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
EOF
}

tail_logs() {
    local f
    for f in "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log"; do
        echo "----- tail of $f -----" >&2
        tail -n 40 "$f" >&2 2>/dev/null || echo "(no log)" >&2
    done
}

# --- commands -----------------------------------------------------------------------------------

start() {
    local t0=$SECONDS
    install_packages
    [[ $EUID -eq 0 ]] || die "start needs root: slurmctld and slurmd run as root (SlurmUser=root)"
    mkdir -p "$DIR"
    if live_pid "$DIR/slurmctld.pid" slurmctld >/dev/null || live_pid "$DIR/slurmd.pid" slurmd >/dev/null; then
        say "daemons from an earlier start in $DIR are running: stopping them"
        stop_slurm
    fi
    # Another cluster's daemons would hold ports 6817/6818.
    local other
    other=$(slurm_pids)
    [[ -z $other ]] || die "other slurmctld/slurmd processes are running (pids: ${other}); stop them first"
    start_munge
    write_conf
    rm -f "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log"
    # A failed start leaves nothing running (daemons found by their pid files, munged only if started here).
    trap 'if [[ $? -ne 0 ]]; then say "start failed: stopping what it started"; stop_slurm; stop_munged_if_ours; fi' EXIT
    slurmctld -f "$CONF" >&2 || { tail_logs; die "slurmctld failed to start"; }
    local launched
    launched=$(date +%s)
    slurmd -f "$CONF" >&2 || { tail_logs; die "slurmd failed to start"; }
    local i state="" registered
    for ((i = 0; i < 90; i++)); do
        # A daemon that died will not come back: fail now rather than after 90 s (the first seconds are
        # grace for the daemonised processes to write their pid files).
        if (($(date +%s) - launched >= 3)) && ! { live_pid "$DIR/slurmctld.pid" slurmctld >/dev/null &&
            live_pid "$DIR/slurmd.pid" slurmd >/dev/null; }; then
            tail_logs
            die "slurmctld or slurmd exited during start-up (node state: '${state}')"
        fi
        state=$(SLURM_CONF=$CONF timeout 5 sinfo -h -o %t 2>/dev/null || true)
        # On a restart slurmctld reloads the node as idle from its saved state before the new slurmd has
        # registered; a job sent to it then would fail to launch. Idle counts once this slurmd has reported in.
        if [[ $state == idle ]]; then
            registered=$(SLURM_CONF=$CONF timeout 5 scontrol show node -o "$(hostname -s)" 2>/dev/null |
                grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2 || true)
            registered=$(date -d "$registered" +%s 2>/dev/null || echo 0)
            ((registered >= launched)) && break
            state="idle, slurmd not registered yet"
        fi
        sleep 1
    done
    if [[ $state != idle ]]; then
        tail_logs
        die "node not idle after 90 s (sinfo state: '${state}')"
    fi
    say "cluster meanfield-ci up in $((SECONDS - t0)) s: node $(hostname -s) idle"
    say "note: no accounting storage, so sacct will not work; use scontrol show job (kept 300 s)"
    trap - EXIT
    echo "export SLURM_CONF=$CONF"
}

status() {
    [[ -r $CONF ]] || die "no $CONF: run start first"
    echo "== sinfo"
    SLURM_CONF=$CONF sinfo
    echo "== squeue"
    SLURM_CONF=$CONF squeue
}

case $cmd in
start) start ;;
stop)
    stop_slurm
    stop_munged_if_ours
    ;;
status) status ;;
*) usage ;;
esac
