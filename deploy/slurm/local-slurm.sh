#!/usr/bin/env bash
# A single-node SLURM for tests and demos, started by hand (no systemd).
#
#   sudo deploy/slurm/local-slurm.sh start   # install (apt) if needed, configure, start; idempotent
#   sudo deploy/slurm/local-slurm.sh stop    # stop slurmd, slurmctld, munged (by their pid files)
#   deploy/slurm/local-slurm.sh status       # exit 0 when sinfo answers and the node is usable
#
# What it sets up: Debian's slurm-wlm and munge; munged running as the munge user; slurmctld and
# `slurmd -N localhost` as root; one node "localhost" with the machine's real CPU count and
# memory, consumable CPUs and memory (select/cons_tres, CR_CPU_Memory) and DefMemPerCPU, so
# several small jobs share the node. No cgroups (proctrack/linuxproc, task/none): it also runs in
# containers and VMs without a systemd-managed cgroup tree.
#
# Environment: PATCHWALK_SLURM_PREFIX (default /var/lib/patchwalk-slurm) holds state, logs and
# pid files; PATCHWALK_SLURM_DEFMEM (MB per CPU, default: real memory / CPUs / 2).
set -euo pipefail

PREFIX=${PATCHWALK_SLURM_PREFIX:-/var/lib/patchwalk-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
NODE=localhost

log() { echo "local-slurm: $*" >&2; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        log "must run as root (it installs packages and starts slurmd); try: sudo $0 $*"
        exit 2
    fi
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null && command -v sbatch >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || { log "apt-get not found: install slurm-wlm and munge by hand"; exit 2; }
    log "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends slurm-wlm munge >&2
}

write_config() {
    local cpus mem_mb defmem
    cpus=$(nproc --all)
    mem_mb=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
    # leave room for the OS: slurmd refuses a node that claims more than it has
    mem_mb=$(( mem_mb * 9 / 10 ))
    defmem=${PATCHWALK_SLURM_DEFMEM:-$(( mem_mb / cpus / 2 ))}
    mkdir -p "$CONF_DIR" "$PREFIX"/{state,spool,log,run}
    local tmp
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
# written by patchwalk deploy/slurm/local-slurm.sh: a single-node cluster for tests
ClusterName=patchwalk-local
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$defmem
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=60
SchedulerParameters=sched_interval=2
StateSaveLocation=$PREFIX/state
SlurmdSpoolDir=$PREFIX/spool
SlurmctldPidFile=$PREFIX/run/slurmctld.pid
SlurmdPidFile=$PREFIX/run/slurmd.pid
SlurmctldLogFile=$PREFIX/log/slurmctld.log
SlurmdLogFile=$PREFIX/log/slurmd.log
NodeName=$NODE NodeHostname=$NODE CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    if ! cmp -s "$tmp" "$CONF"; then
        [ -f "$CONF" ] && cp "$CONF" "$CONF.bak"
        mv "$tmp" "$CONF"
        chmod 644 "$CONF"
        CONFIG_CHANGED=1
        log "wrote $CONF ($cpus CPUs, ${mem_mb} MB, DefMemPerCPU=$defmem)"
    else
        rm -f "$tmp"
    fi
}

alive() {  # alive PIDFILE
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

start_munge() {
    local pidfile=/run/munge/munged.pid
    if alive "$pidfile"; then return; fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    if [ ! -s /etc/munge/munge.key ]; then
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
    chmod 0700 /etc/munge /var/lib/munge /var/log/munge
    chmod 0755 /run/munge
    chmod 0400 /etc/munge/munge.key
    log "starting munged as the munge user"
    runuser -u munge -- /usr/sbin/munged --pid-file="$pidfile"
    for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && return; sleep 0.1; done
    log "munged did not create its socket"; exit 1
}

start_slurm() {
    if [ "${CONFIG_CHANGED:-0}" = 1 ]; then stop_daemons slurm; fi
    if ! alive "$PREFIX/run/slurmctld.pid"; then
        log "starting slurmctld"
        slurmctld -f "$CONF"
    fi
    if ! alive "$PREFIX/run/slurmd.pid"; then
        log "starting slurmd -N $NODE"
        slurmd -f "$CONF" -N "$NODE"
    fi
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
        case "$state" in
            idle*|mix*|alloc*) log "node $NODE is $state"; return ;;
            down*|drain*|drng*|fail*)
                scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    log "node $NODE not usable (state '${state}'); see $PREFIX/log/"
    exit 1
}

stop_daemons() {  # stop_daemons [slurm]  (slurm only, or munge too)
    local f
    for f in slurmd slurmctld; do
        if alive "$PREFIX/run/$f.pid"; then
            log "stopping $f"
            kill "$(cat "$PREFIX/run/$f.pid")"
            for _ in $(seq 50); do alive "$PREFIX/run/$f.pid" || break; sleep 0.1; done
        fi
    done
    if [ "${1:-}" != slurm ] && alive /run/munge/munged.pid; then
        log "stopping munged"
        kill "$(cat /run/munge/munged.pid)"
    fi
}

status() {
    local state
    state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null) || { echo "not running"; return 1; }
    echo "node $NODE: $state"
    case "$state" in idle*|mix*|alloc*) return 0 ;; *) return 1 ;; esac
}

case "${1:-}" in
    start)
        need_root "$@"
        install_packages
        CONFIG_CHANGED=0
        write_config
        start_munge
        start_slurm
        ;;
    stop)
        need_root "$@"
        stop_daemons
        ;;
    status)
        status
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
