#!/usr/bin/env bash
# Issue 6 benchmarks: our TAP backend next to DPDK's own net_tap driver, in ONE run, on the same namespace setup.
#
#   sudo benchmarks/linux/tap-vs-dpdk.sh [options]
#
# What it does (everything inside a network namespace it creates, vrb-bench-PID, and deletes at the end):
#   1. builds vrb-gen (benchmarks/linux/vrb-gen.c) and the benchmark program (Release);
#   2. DPDK transmit: dpdk-testpmd --vdev net_tap0 in txonly writes frames into its TAP; the kernel drops them right
#      after the TAP (destination MAC 02:00:00:00:00:00 is not the TAP's). Rate = the TAP's kernel rx counters over
#      a timed window;
#   3. DPDK receive: vrb-gen sends frames into the TAP from the kernel side (AF_PACKET), testpmd in rxonly reads
#      them. Rate = the TAP's kernel tx counters (frames handed to the reader) over a timed window;
#   4. the kernel's floor: vrb-tapfloor (benchmarks/linux/vrb-tapfloor.c), a bare C loop of one writev/readv per
#      frame on a TAP with the virtio-net header — what any TAP user pays before doing anything of its own;
#   5. ours: the same two setups through BenchmarkDotNet (TapTransmitBenchmarks, TapReceiveBenchmarks: a TAP created
#      by our TapBackend in the same namespace, an in-process guest, vrb-gen started by the benchmark itself);
#   6. prints one table: Mpps and Gbit/s of each, ours/DPDK and ours/floor.
# CPUs (2 cores): CPU $MAIN runs DPDK's forwarding lcore and our benchmark thread; CPU $OTHER runs testpmd's main
# lcore, the generator, or the second queue's lcore/thread (transmit with 2 queues: one core per queue on both sides).
# It ends only the processes it started (by PID, also on failure and Ctrl-C) and deletes only its own namespace.
#
# Options:
#   --seconds N      DPDK measuring window per case (default 5; 1 s warm-up before it)
#   --sizes "…"      frame sizes (default "64 1500 65536"; 65536 = TCP/IPv4 TSO super-frames for ours)
#   --queues "…"     queue counts (default "1 2")
#   --only WHAT      dpdk | ours | all (default all)
#   --direction D    tx | rx | both (default both)
#   --bdn "ARGS"     BenchmarkDotNet job arguments for ours (default "--job short")
#   --wait-idle MIN  first wait (at most MIN minutes) until no 'dotnet build|test' ran for 60 s (default 0)
#   --out DIR        where logs and tables go (default /tmp/vrb-bench-DATE-PID; kept)
#   --no-build       use the existing Release build
#   --no-floor       skip the C floor
set -euo pipefail

SECONDS_PER_CASE=5
WARMUP=1
SIZES="64 1500 65536"
QUEUES="1 2"
ONLY=all
DIRECTION=both
BDN_ARGS="--job short"
WAIT_IDLE=0
OUT=""
BUILD=1
FLOOR=1
MAIN=1
OTHER=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_PER_CASE=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --queues) QUEUES=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --direction) DIRECTION=$2; shift 2 ;;
        --bdn) BDN_ARGS=$2; shift 2 ;;
        --wait-idle) WAIT_IDLE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-floor) FLOOR=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PROJECT=$REPO/benchmarks/VirtioRing.Benchmarks
DLL=$PROJECT/bin/Release/net10.0/VirtioRing.Benchmarks.dll
NS=vrb-bench-$$
GUEST_MAC=52:54:00:12:34:56
DPDK_TAP=vrbdpdk0
FLOOR_TAP=vrbfloor0
OUT=${OUT:-/tmp/vrb-bench-$(date -u +%Y%m%d-%H%M%S)-$$}
PIDDIR=$OUT/pids
mkdir -p "$OUT" "$PIDDIR"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TAP devices)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing"
for tool in ip dpdk-testpmd cc dotnet taskset jq awk; do
    command -v "$tool" > /dev/null || die "$tool is not installed"
done

# --- process and namespace bookkeeping -------------------------------------------------------------------------------
STARTED=()          # PIDs this script started
NS_CREATED=0

descendants() {     # PIDs below $1 (BenchmarkDotNet's child processes, a generator the benchmark started)
    local child
    for child in $(ps -o pid= --ppid "$1" 2> /dev/null); do
        descendants "$child"
        echo "$child"
    done
}

end_pid() {         # SIGTERM, then SIGKILL after 5 s; only if it is still the process we started
    local pid=$1 name=$2 i
    [ -d "/proc/$pid" ] || return 0
    [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = "$name" ] || return 0
    kill -TERM "$pid" 2> /dev/null || return 0
    for i in $(seq 50); do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done
    log "process $pid ($name) ignored SIGTERM; SIGKILL"
    kill -KILL "$pid" 2> /dev/null || true
}

cleanup() {
    local rc=$? entry pid name
    trap - EXIT INT TERM
    for entry in "${STARTED[@]:-}"; do
        [ -n "$entry" ] || continue
        pid=${entry%%:*}; name=${entry#*:}
        for child in $(descendants "$pid"); do
            end_pid "$child" "$(cat "/proc/$child/comm" 2> /dev/null || echo gone)"
        done
        end_pid "$pid" "$name"
    done
    for f in "$PIDDIR"/gen-*; do            # generators the benchmark process started (if it died first)
        [ -f "$f" ] || continue
        end_pid "$(cat "$f")" vrb-gen
        rm -f "$f"
    done
    if [ "$NS_CREATED" = 1 ]; then
        ip netns del "$NS" 2> /dev/null && log "namespace $NS deleted" || log "namespace $NS: delete failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap '' PIPE        # a write to a testpmd that died fails (and set -e ends the run) instead of killing the shell
trap 'log "interrupted"; exit 130' INT TERM

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

ns_exec() { ip netns exec "$NS" "$@"; }

counter() { ns_exec cat "/sys/class/net/$1/statistics/$2" 2> /dev/null || echo 0; }

wait_link() {       # the TAP testpmd creates
    local i
    for i in $(seq 300); do
        ip -n "$NS" link show dev "$1" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

now() { date +%s.%N; }

# --- testpmd (interactive, commands through a FIFO) ------------------------------------------------------------------
PMD_PID=""
PMD_FD=""
start_testpmd() {   # tag, EAL/testpmd arguments…
    local tag=$1; shift
    local fifo=$OUT/$tag.fifo
    rm -f "$fifo"; mkfifo "$fifo"
    # ip netns exec execs testpmd: $! is testpmd's PID.
    ip netns exec "$NS" dpdk-testpmd "$@" < "$fifo" > "$OUT/$tag.log" 2>&1 &
    PMD_PID=$!
    track "$PMD_PID" dpdk-testpmd
    exec {PMD_FD}> "$fifo"
}
pmd() { echo "$*" >&"$PMD_FD"; }
stop_testpmd() {
    local i
    pmd stop || true
    sleep 0.5
    pmd quit || true
    exec {PMD_FD}>&-
    for i in $(seq 100); do [ -d "/proc/$PMD_PID" ] || break; sleep 0.1; done
    end_pid "$PMD_PID" dpdk-testpmd
    wait "$PMD_PID" 2> /dev/null || true
}

eal_args() {        # tag, lcores
    echo "--lcores $2 --no-pci --no-huge -m 512 --file-prefix vrb$$-$1 --vdev net_tap0,iface=$DPDK_TAP"
}

RESULTS=$OUT/results.tsv     # side direction size queues mpps gbps frames seconds note
: > "$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"; }

rate() {            # frames bytes seconds → "mpps gbps"
    awk -v f="$1" -v b="$2" -v s="$3" 'BEGIN { printf "%.3f %.2f", f / s / 1e6, b * 8 / s / 1e9 }'
}

dpdk_tx() {         # size queues
    local size=$1 q=$2 tag lcores nc p0 b0 t0 p1 b1 t1 d
    tag=tx-$size-$q
    if [ "$q" = 1 ]; then lcores="0@$OTHER,1@$MAIN"; nc=1; else lcores="0@$OTHER,1@$MAIN,2@$OTHER"; nc=2; fi
    # shellcheck disable=SC2046
    start_testpmd "dpdk-$tag" $(eal_args "$tag" "$lcores") -- -i --total-num-mbufs=16384 --rxq="$q" --txq="$q" \
        --nb-cores="$nc" --forward-mode=txonly --txpkts="$size" --burst=32
    wait_link "$DPDK_TAP" || die "testpmd did not create $DPDK_TAP (see $OUT/dpdk-$tag.log)"
    ip -n "$NS" addr add 10.199.0.1/24 dev "$DPDK_TAP"
    ip -n "$NS" link set dev "$DPDK_TAP" up
    pmd start
    sleep "$WARMUP"
    p0=$(counter "$DPDK_TAP" rx_packets); b0=$(counter "$DPDK_TAP" rx_bytes); t0=$(now)
    sleep "$SECONDS_PER_CASE"
    p1=$(counter "$DPDK_TAP" rx_packets); b1=$(counter "$DPDK_TAP" rx_bytes); t1=$(now)
    d=$(counter "$DPDK_TAP" rx_dropped)
    pmd "show port stats all"
    stop_testpmd
    local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    read -r mpps gbps <<< "$(rate $((p1 - p0)) $((b1 - b0)) "$secs")"
    record dpdk tx "$size" "$q" "$mpps" "$gbps" $((p1 - p0)) "$secs" "kernel rx_dropped $d"
    log "DPDK tx $size B x$q: $mpps Mpps, $gbps Gbit/s"
}

dpdk_rx() {         # size queues
    local size=$1 q=$2 tag gen gpid p0 b0 d0 t0 p1 b1 d1 t1
    tag=rx-$size-$q
    # shellcheck disable=SC2046
    start_testpmd "dpdk-$tag" $(eal_args "$tag" "0@$OTHER,1@$MAIN") -- -i --total-num-mbufs=16384 --rxq="$q" --txq="$q" \
        --nb-cores=1 --forward-mode=rxonly --burst=32
    wait_link "$DPDK_TAP" || die "testpmd did not create $DPDK_TAP (see $OUT/dpdk-$tag.log)"
    ip -n "$NS" addr add 10.199.0.1/24 dev "$DPDK_TAP"
    ip -n "$NS" link set dev "$DPDK_TAP" up
    ip -n "$NS" neigh replace 10.199.0.2 lladdr "$GUEST_MAC" dev "$DPDK_TAP" nud permanent   # vrb-gen's UDP GSO mode
    pmd start
    sleep 0.5
    ns_exec env VRB_NETNS="$NS" taskset -c "$OTHER" "$OUT/vrb-gen" "$DPDK_TAP" "$size" $((WARMUP + SECONDS_PER_CASE + 5)) \
        "$GUEST_MAC" > "$OUT/gen-$tag.log" 2>&1 &
    gpid=$!
    track "$gpid" vrb-gen
    sleep "$WARMUP"
    p0=$(counter "$DPDK_TAP" tx_packets); b0=$(counter "$DPDK_TAP" tx_bytes); d0=$(counter "$DPDK_TAP" tx_dropped); t0=$(now)
    sleep "$SECONDS_PER_CASE"
    p1=$(counter "$DPDK_TAP" tx_packets); b1=$(counter "$DPDK_TAP" tx_bytes); d1=$(counter "$DPDK_TAP" tx_dropped); t1=$(now)
    end_pid "$gpid" vrb-gen
    wait "$gpid" 2> /dev/null || true
    pmd "show port stats all"
    stop_testpmd
    local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    read -r mpps gbps <<< "$(rate $((p1 - p0)) $((b1 - b0)) "$secs")"
    record dpdk rx "$size" "$q" "$mpps" "$gbps" $((p1 - p0)) "$secs" "tx_dropped $((d1 - d0)); $(tail -1 "$OUT/gen-$tag.log")"
    log "DPDK rx $size B x$q: $mpps Mpps, $gbps Gbit/s (TAP dropped $((d1 - d0)) the reader did not take)"
}

floor_run() {       # tx|rx size queues
    local dir=$1 size=$2 q=$3 tag=floor-$1-$2-$3 fpid gpid line secs=$((WARMUP + SECONDS_PER_CASE))
    local cpus="$MAIN"; [ "$q" = 2 ] && [ "$dir" = tx ] && cpus="$MAIN $OTHER"
    # shellcheck disable=SC2086
    ns_exec env VRB_NETNS="$NS" "$OUT/vrb-tapfloor" "$dir" "$FLOOR_TAP" "$size" "$secs" "$q" $cpus > "$OUT/$tag.log" 2>&1 &
    fpid=$!
    track "$fpid" vrb-tapfloor
    wait_link "$FLOOR_TAP" || die "vrb-tapfloor did not create $FLOOR_TAP (see $OUT/$tag.log)"
    ip -n "$NS" addr add 10.199.0.1/24 dev "$FLOOR_TAP"
    ip -n "$NS" link set dev "$FLOOR_TAP" up
    ip -n "$NS" neigh replace 10.199.0.2 lladdr "$GUEST_MAC" dev "$FLOOR_TAP" nud permanent
    if [ "$dir" = rx ]; then
        ns_exec env VRB_NETNS="$NS" taskset -c "$OTHER" "$OUT/vrb-gen" "$FLOOR_TAP" "$size" $((secs + 3)) "$GUEST_MAC" \
            > "$OUT/gen-$tag.log" 2>&1 &
        gpid=$!
        track "$gpid" vrb-gen
    fi
    wait "$fpid" 2> /dev/null || true
    if [ "$dir" = rx ]; then end_pid "$gpid" vrb-gen; wait "$gpid" 2> /dev/null || true; fi
    line=$(grep 'frames,' "$OUT/$tag.log" || true)
    [ -n "$line" ] || die "vrb-tapfloor gave no result (see $OUT/$tag.log)"
    read -r mpps gbps <<< "$(echo "$line" | sed -n 's/.*(\([0-9.]*\) Mpps, \([0-9.]*\) Gbit\/s).*/\1 \2/p')"
    record floor "$dir" "$size" "$q" "$mpps" "$gbps" - "$secs" "$line"
    log "floor $dir $size B x$q: $mpps Mpps, $gbps Gbit/s"
}

# --- run ------------------------------------------------------------------------------------------------------------
log "output in $OUT"
wait_idle "$WAIT_IDLE"
load_snapshot "start"

cc -O2 -Wall -Wextra -o "$OUT/vrb-gen" "$REPO/benchmarks/linux/vrb-gen.c"
cc -O2 -Wall -Wextra -pthread -o "$OUT/vrb-tapfloor" "$REPO/benchmarks/linux/vrb-tapfloor.c"
if [ "$BUILD" = 1 ] && [ "$ONLY" != dpdk ]; then
    log "building the benchmarks (Release)"
    dotnet build "$PROJECT" -c Release > "$OUT/build.log" 2>&1 || die "build failed (see $OUT/build.log)"
fi

ip netns add "$NS"
NS_CREATED=1
ip -n "$NS" link set lo up
ns_exec sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
log "namespace $NS created"

DIRS="tx rx"
FILTERS=('*TapTransmitBenchmarks*' '*TapReceiveBenchmarks*')
case "$DIRECTION" in
    tx) DIRS=tx; FILTERS=('*TapTransmitBenchmarks*') ;;
    rx) DIRS=rx; FILTERS=('*TapReceiveBenchmarks*') ;;
    both) ;;
    *) die "--direction is tx, rx or both" ;;
esac

if [ "$ONLY" != ours ] && [ "$DIRECTION" != rx ]; then
    for size in $SIZES; do
        for q in $QUEUES; do
            if [ "$size" -gt 1514 ]; then
                # testpmd's txonly cannot send a TSO super-frame, and net_tap refuses frames above its 1522-byte
                # device maximum: the comparable is its best bytes/s (1500 B frames) — see the table.
                record dpdk tx "$size" "$q" - - 0 0 "no TSO in txonly; net_tap max frame 1522 B"
            else
                dpdk_tx "$size" "$q"
            fi
        done
    done
    load_snapshot "after DPDK transmit"
fi
if [ "$ONLY" != ours ] && [ "$DIRECTION" != tx ]; then
    for size in $SIZES; do
        for q in $QUEUES; do
            dpdk_rx "$size" "$q"
        done
    done
    load_snapshot "after DPDK receive"
fi

if [ "$FLOOR" = 1 ] && [ "$ONLY" != ours ]; then
    for dir in $DIRS; do
        for size in $SIZES; do
            for q in $QUEUES; do
                floor_run "$dir" "$size" "$q"
            done
        done
    done
    load_snapshot "after the floor"
fi

if [ "$ONLY" != dpdk ]; then
    sizes_csv=$(echo "$SIZES" | tr ' ' ',')
    queues_csv=$(echo "$QUEUES" | tr ' ' ',')
    log "ours: BenchmarkDotNet ($BDN_ARGS), sizes $sizes_csv, queues $queues_csv"
    # shellcheck disable=SC2086
    # The program runs outside the namespace (BenchmarkDotNet restores and builds its runner over the network);
    # each benchmark process moves its benchmark thread into $NS (setns) before it creates anything.
    env VRB_NETNS="$NS" VRB_GEN="$OUT/vrb-gen" VRB_PIDDIR="$PIDDIR" VRB_CPU_MAIN="$MAIN" \
        VRB_CPU_OTHER="$OTHER" VRB_SIZES="$sizes_csv" VRB_QUEUES="$queues_csv" DOTNET_CLI_TELEMETRY_OPTOUT=1 \
        dotnet "$DLL" --filter "${FILTERS[@]}" $BDN_ARGS \
        --buildTimeout 1200 --artifacts "$OUT/bdn" --exporters json > "$OUT/bdn.log" 2>&1 &
    bdn=$!
    track "$bdn" dotnet
    bdn_rc=0
    wait "$bdn" || bdn_rc=$?
    load_snapshot "after ours"
    grep -h '// \[vrb\]' "$OUT/bdn.log" | tee -a "$OUT/run.log" >&2 || true
    [ "$bdn_rc" = 0 ] || log "BenchmarkDotNet exited with $bdn_rc (an allocation or a failed case; see $OUT/bdn.log)"
    for json in "$OUT"/bdn/results/*Tap*Benchmarks-report-full-compressed.json; do
        [ -f "$json" ] || continue
        dir=tx; case "$json" in *Receive*) dir=rx ;; esac
        jq -r '.Benchmarks[] | [.Parameters, (.Statistics.Mean // "NaN"), (.Memory.BytesAllocatedPerOperation // 0)] | @tsv' "$json" |
        while IFS=$'\t' read -r params mean alloc; do
            size=$(echo "$params" | sed -n 's/.*FrameLength=\([0-9]*\).*/\1/p')
            q=$(echo "$params" | sed -n 's/.*Queues=\([0-9]*\).*/\1/p')
            bytes=$size
            [ "$dir" = rx ] && [ "$size" = 65536 ] && bytes=65535    # vrb-gen's super-frames (see vrb-gen.c)
            read -r mpps gbps <<< "$(awk -v ns="$mean" -v s="$bytes" 'BEGIN { if (ns == "NaN" || ns == 0) print "- -"; else printf "%.3f %.2f", 1000 / ns, s * 8 / ns }')"
            record ours "$dir" "$size" "$q" "$mpps" "$gbps" - - "mean $mean ns/frame, $alloc B/op allocated"
        done
    done
fi
load_snapshot "end"

# --- table -----------------------------------------------------------------------------------------------------------
pick() { awk -F'\t' -v w="$1" -v d="$2" -v s="$3" -v q="$4" '$1==w && $2==d && $3==s && $4==q { print $5" "$6 }' "$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
{
    echo
    echo "| direction | frame | queues | floor Mpps | floor Gbit/s | DPDK Mpps | DPDK Gbit/s | ours Mpps | ours Gbit/s | ours/DPDK | ours/floor |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for dir in $DIRS; do
        for size in $SIZES; do
            for q in $QUEUES; do
                f=$(pick floor "$dir" "$size" "$q"); d=$(pick dpdk "$dir" "$size" "$q"); o=$(pick ours "$dir" "$size" "$q")
                read -r fm fg <<< "${f:-- -}"
                read -r dm dg <<< "${d:-- -}"
                read -r om og <<< "${o:-- -}"
                peer=$dg; note=""
                if [ "$dm" = "-" ] && [ "$dir" = tx ]; then
                    # No TSO in DPDK's txonly: compare bytes/s with its best size (1500 B) at the same queue count.
                    peer=$(awk -F'\t' -v q="$q" '$1=="dpdk" && $2=="tx" && $4==q && $6!="-" { if ($6 + 0 > m) m = $6 + 0 } END { print m ? m : "-" }' "$RESULTS")
                    note=" (vs DPDK 1500 B: $peer Gbit/s)"
                fi
                echo "| $dir | $size | $q | $fm | $fg | $dm | $dg | $om | $og | $(ratio "$og" "$peer")$note | $(ratio "$og" "$fg") |"
            done
        done
    done
} | tee "$OUT/table.md"
log "table: $OUT/table.md; raw: $RESULTS; load: $OUT/load.txt"
