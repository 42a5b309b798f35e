#!/usr/bin/env bash
# Helpers shared by the benchmark runners (sourced, not run). They expect OUT (the output folder) and the array
# STARTED ("pid:comm" of every process the runner started) to be set by the runner.

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }

die() { log "error: $*"; exit 1; }

end_pid() {         # SIGTERM, then SIGKILL after 5 s — only if the PID is still the process we started
    local pid=$1 name=$2 i
    [ -d "/proc/$pid" ] || return 0
    [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = "$name" ] || return 0
    kill -TERM "$pid" 2> /dev/null || return 0
    for i in $(seq 50); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done
    log "process $pid ($name) ignored SIGTERM; SIGKILL"
    kill -KILL "$pid" 2> /dev/null || true
}

track() { STARTED+=("$1:$2"); }

load_snapshot() {   # what else ran on the machine (recorded with the results)
    {
        echo "== $1 ($(date -u +%H:%M:%S) UTC)"
        uptime
        echo "dotnet build/test processes: $(pgrep -fc 'dotnet (build|test)' || true)"
        ps -eo pcpu,pid,comm --sort=-pcpu | head -6
    } >> "$OUT/load.txt"
}

wait_idle() {
    local limit=$(( $1 * 60 )) quiet=0 waited=0
    [ "$limit" -gt 0 ] || return 0
    log "waiting (at most $1 min) until no 'dotnet build|test' ran for 60 s"
    while [ "$waited" -lt "$limit" ]; do
        if pgrep -f 'dotnet (build|test)' > /dev/null; then quiet=0; else quiet=$((quiet + 5)); fi
        [ "$quiet" -ge 60 ] && { log "machine quiet for 60 s"; return 0; }
        sleep 5; waited=$((waited + 5))
    done
    log "still busy after $1 min; going on (recorded in load.txt)"
}

now() { date +%s.%N; }

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
