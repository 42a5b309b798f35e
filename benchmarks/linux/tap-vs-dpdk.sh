#!/usr/bin/env bash
# Issue 6 benchmarks: our TAP and packet-socket backends next to DPDK's own net_tap and net_af_packet drivers, in ONE
# run, on the same namespace setup.
#
#   sudo benchmarks/linux/tap-vs-dpdk.sh [options]
#
# Everything happens inside a network namespace the script creates (vrb-bench-PID) and deletes at the end, also on
# failure and Ctrl-C; it ends only the processes it started (by PID, checking the name). Steps:
#   1. builds vrb-gen and vrb-tapfloor (benchmarks/linux/*.c) and the benchmark program (Release);
#   2. TAP: the kernel's floor (vrb-tapfloor: a bare C loop of one writev/readv per frame with the virtio-net header),
#      then DPDK (dpdk-testpmd --vdev net_tap0, txonly / rxonly);
#   3. packet: DPDK (dpdk-testpmd --vdev net_af_packet0 on one end of a veth pair, txonly / rxonly);
#   4. ours: the same setups through BenchmarkDotNet (Tap*/Packet* Transmit/Receive benchmarks; the benchmark thread
#      moves into the namespace and creates its own TAP / veth there); by default each case right after DPDK's;
#   5. prints one table per backend: Mpps and Gbit/s, ours/DPDK and (TAP) ours/floor.
# Transmit ("guest → interface → kernel sink"): frames to 02:00:00:00:00:00, not the interface's MAC, so the kernel
# drops them right after the interface (TAP) or after the veth's other end; the rate is the sink's kernel rx counters
# over a timed window (floor and DPDK) or BenchmarkDotNet's mean per frame (ours).
# Receive ("and back"): vrb-gen sends from the kernel side (AF_PACKET for 64/1500 B, 65535-byte UDP GSO super-frames for
# 65536) into the TAP / the veth's other end as fast as it can; the rate is what the reader took (the TAP's kernel tx
# counters; testpmd's own counters on the veth; BenchmarkDotNet's mean per frame received by our in-process guest).
# CPUs (2 cores): CPU $MAIN (1) runs everything of the side measured — testpmd (main and forwarding lcore: net_tap's
# receive signals land on the main lcore), the floor's loop, our whole benchmark process (taskset; its benchmark
# thread pinned, the TAP backend's readiness thread with it); CPU $OTHER (0) runs only the generator (receive) or,
# for transmit with 2 queues, the second queue's lcore / thread / floor thread.
#
# Options:
#   --seconds N      measuring window of the floor and DPDK cases (default 5, after a 1 s warm-up)
#   --sizes "…"      frame sizes (default "64 1500 65536"; 65536 = TSO/GSO super-frames, see RESULTS.md)
#   --queues "…"     queue counts (default "1 2")
#   --backend B      tap | packet | both (default both)
#   --direction D    tx | rx | both (default both)
#   --only WHAT      dpdk | ours | all (default all; dpdk includes the floor)
#   --grouped        run every floor and DPDK case first, then all of ours in one BenchmarkDotNet run (a process per
#                    case); the default interleaves them case by case (floor, DPDK, ours with BenchmarkDotNet's
#                    in-process toolchain), so a change of machine load hits both sides of a ratio alike
#   --bdn "ARGS"     BenchmarkDotNet job arguments for ours (default "--job short")
#   --wait-idle MIN  first wait (at most MIN minutes) until no 'dotnet build|test' ran for 60 s (default 0)
#   --out DIR        where logs and tables go (default /tmp/vrb-bench-DATE-PID; kept)
#   --no-build       use the existing Release build
#   --no-floor       skip the C floor
#   --perf           also profile each case with perf (cpu-clock, call graphs) into DIR/perf-*.txt; slows the run a
#                    little, so use it for a separate profiling run, not for the recorded figures
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

SECONDS_PER_CASE=5
WARMUP=1
SIZES="64 1500 65536"
QUEUES="1 2"
BACKEND=both
DIRECTION=both
ONLY=all
BDN_ARGS="--job short"
WAIT_IDLE=0
OUT=""
BUILD=1
FLOOR=1
PERF=0
GROUPED=0
MAIN=1
OTHER=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_PER_CASE=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --queues) QUEUES=$2; shift 2 ;;
        --backend) BACKEND=$2; shift 2 ;;
        --direction) DIRECTION=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --bdn) BDN_ARGS=$2; shift 2 ;;
        --wait-idle) WAIT_IDLE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-floor) FLOOR=0; shift ;;
        --perf) PERF=1; shift ;;
        --grouped) GROUPED=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

case "$BACKEND" in tap) BACKENDS=tap ;; packet) BACKENDS=packet ;; both) BACKENDS="tap packet" ;; *) echo "--backend is tap, packet or both" >&2; exit 2 ;; esac
case "$DIRECTION" in tx) DIRS=tx ;; rx) DIRS=rx ;; both) DIRS="tx rx" ;; *) echo "--direction is tx, rx or both" >&2; exit 2 ;; esac
case "$ONLY" in dpdk|ours|all) ;; *) echo "--only is dpdk, ours or all" >&2; exit 2 ;; esac

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PROJECT=$REPO/benchmarks/VirtioRing.Benchmarks
DLL=$PROJECT/bin/Release/net10.0/VirtioRing.Benchmarks.dll
NS=vrb-bench-$$
GUEST_MAC=52:54:00:12:34:56
DPDK_TAP=vrbdpdk0
FLOOR_TAP=vrbfloor0
VETH_END=vrbpa      # the backend's end (DPDK's af_packet, our PacketSocketBackend)
VETH_PEER=vrbpb     # the kernel's end: 10.199.0.1/24, the sink, the generator's interface
OUT=${OUT:-/tmp/vrb-bench-$(date -u +%Y%m%d-%H%M%S)-$$}
PIDDIR=$OUT/pids
mkdir -p "$OUT" "$PIDDIR"


[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TAP devices)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing"
for tool in ip dpdk-testpmd cc dotnet taskset jq awk; do
    command -v "$tool" > /dev/null || die "$tool is not installed"
done
[ "$PERF" = 0 ] || command -v perf > /dev/null || die "--perf needs perf"

# --- process and namespace bookkeeping -------------------------------------------------------------------------------
STARTED=()          # "PID:name" of every process this script started
NS_CREATED=0

descendants() {     # PIDs below $1 (BenchmarkDotNet's child processes and the generator they start)
    local child
    for child in $(ps -o pid= --ppid "$1" 2> /dev/null); do
        descendants "$child"
        echo "$child"
    done
}


cleanup() {
    local rc=$? entry pid name child f
    trap - EXIT INT TERM
    for entry in "${STARTED[@]:-}"; do
        [ -n "$entry" ] || continue
        pid=${entry%%:*}; name=${entry#*:}
        [ -d "/proc/$pid" ] || continue
        [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = "$name" ] || continue
        for child in $(descendants "$pid"); do
            end_pid "$child" "$(cat "/proc/$child/comm" 2> /dev/null || echo gone)"
        done
        end_pid "$pid" "$name"
    done
    for f in "$PIDDIR"/gen-*; do            # generators a benchmark process started (if it died first)
        [ -f "$f" ] || continue
        end_pid "$(cat "$f")" vrb-gen
        rm -f "$f"
    done
    if [ "$NS_CREATED" = 1 ]; then
        if ip netns del "$NS" 2> /dev/null; then log "namespace $NS deleted"; else log "namespace $NS: delete failed"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
trap '' PIPE        # a write to a testpmd that died fails (and set -e ends the run) instead of killing the shell




ns_exec() { ip netns exec "$NS" "$@"; }   # foreground only: in the background $! would be a subshell, not the process
counter() { ns_exec cat "/sys/class/net/$1/statistics/$2" 2> /dev/null || echo 0; }

wait_link() {       # an interface another process creates
    local i
    for i in $(seq 300); do
        ip -n "$NS" link show dev "$1" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

kernel_side() {     # iface: up, 10.199.0.1/24, a permanent neighbour 10.199.0.2 → the guest's MAC (vrb-gen's UDP GSO mode)
    ip -n "$NS" addr add 10.199.0.1/24 dev "$1"
    ip -n "$NS" link set dev "$1" up
    ip -n "$NS" neigh replace 10.199.0.2 lladdr "$GUEST_MAC" dev "$1" nud permanent
}

veth_up() {
    ip -n "$NS" link add "$VETH_END" type veth peer name "$VETH_PEER"
    ip -n "$NS" link set dev "$VETH_END" up
    kernel_side "$VETH_PEER"
}
veth_down() { ip -n "$NS" link del "$VETH_END" 2> /dev/null || true; }

PERF_PID=""
perf_start() {      # tag pid seconds: profile a process (and its threads) for a while
    [ "$PERF" = 1 ] || return 0
    timeout -s INT "$3" perf record -q -e cpu-clock -F 2999 -g -p "$2" -o "$OUT/perf-$1.data" > /dev/null 2>&1 &
    PERF_PID=$!
    track "$PERF_PID" timeout
}
perf_finish() {     # tag: wait for the recording and write its summary
    [ "$PERF" = 1 ] && [ -n "$PERF_PID" ] || return 0
    wait "$PERF_PID" 2> /dev/null || true
    PERF_PID=""
    perf_summary "$1"
}
perf_summary() {    # tag: user/kernel split and the top symbols
    local data=$OUT/perf-$1.data
    [ -s "$data" ] || return 0
    {
        echo "# perf $1: share of samples by object, then by symbol (self time)"
        perf report -i "$data" --stdio --no-children --sort dso -g none 2> /dev/null | grep -E '^ +[0-9]' | head -12 || true
        echo
        perf report -i "$data" --stdio --no-children --sort sym -g none 2> /dev/null | grep -E '^ +[0-9]' | head -45 || true
    } > "$OUT/perf-$1.txt"
}

# --- testpmd (interactive, commands through a FIFO) ------------------------------------------------------------------
PMD_PID=""
PMD_FD=""
PMD_LOG=""
start_testpmd() {   # tag, EAL/testpmd arguments…
    local tag=$1; shift
    local fifo=$OUT/$tag.fifo
    rm -f "$fifo"; mkfifo "$fifo"
    PMD_LOG=$OUT/$tag.log
    # ip netns exec execs testpmd: $! is testpmd's PID.
    ip netns exec "$NS" dpdk-testpmd "$@" < "$fifo" > "$PMD_LOG" 2>&1 &
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
pmd_rx_stats() {    # the last two NIC statistics lines of "show port stats all" (RX-packets … RX-missed … RX-bytes): "p0 b0 p1 b1"
    # (two readings and their difference: "clear port stats" does not reset net_af_packet's counters)
    awk '/RX-packets:.*RX-missed:.*RX-bytes:/ { for (i = 1; i <= NF; i++) { if ($i == "RX-packets:") p = $(i + 1); if ($i == "RX-bytes:") b = $(i + 1) }
                                                pp = lp; pb = lb; lp = p; lb = b }
         END { printf "%s %s %s %s\n", (pp == "" ? 0 : pp), (pb == "" ? 0 : pb), (lp == "" ? 0 : lp), (lb == "" ? 0 : lb) }' "$PMD_LOG"
}

vdev() {            # backend queues [size]
    case "$1" in
        tap) echo "net_tap0,iface=$DPDK_TAP" ;;
        packet) echo "net_af_packet0,iface=$VETH_END,qpairs=$2,qdisc_bypass=1" ;;
    esac
}

RESULTS=$OUT/results.tsv     # backend side direction size queues mpps gbps frames seconds note
: > "$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"; }
rate() { awk -v f="$1" -v b="$2" -v s="$3" 'BEGIN { printf "%.3f %.2f", f / s / 1e6, b * 8 / s / 1e9 }'; }

dpdk_tx() {         # backend size queues
    local b=$1 size=$2 q=$3 tag lcores nc sink p0 b0 t0 p1 b1 t1 secs mpps gbps
    tag=dpdk-$b-tx-$size-$q
    # Two queues: one lcore per queue, and several flows (--txonly-multi-flow: the source address varies per frame) so
    # the TAP's flow table does not see one flow from two cores (ours sends one flow per queue).
    local multi=()
    if [ "$q" = 1 ]; then lcores="0@$MAIN,1@$MAIN"; nc=1; else lcores="0@$MAIN,1@$MAIN,2@$OTHER"; nc=2; multi=(--txonly-multi-flow); fi
    if [ "$b" = tap ]; then sink=$DPDK_TAP; else sink=$VETH_PEER; veth_up; fi
    start_testpmd "$tag" --lcores "$lcores" --no-pci --no-huge -m 512 --file-prefix "vrb$$-$tag" --vdev "$(vdev "$b" "$q")" \
        -- -i --total-num-mbufs=16384 --rxq="$q" --txq="$q" --nb-cores="$nc" --forward-mode=txonly --txpkts="$size" --burst=32 "${multi[@]}"
    if [ "$b" = tap ]; then
        wait_link "$DPDK_TAP" || die "testpmd did not create $DPDK_TAP (see $PMD_LOG)"
        kernel_side "$DPDK_TAP"
    fi
    pmd start
    sleep "$WARMUP"
    perf_start "$tag" "$PMD_PID" "$SECONDS_PER_CASE"
    p0=$(counter "$sink" rx_packets); b0=$(counter "$sink" rx_bytes); t0=$(now)
    sleep "$SECONDS_PER_CASE"
    p1=$(counter "$sink" rx_packets); b1=$(counter "$sink" rx_bytes); t1=$(now)
    perf_finish "$tag"
    stop_testpmd
    [ "$b" = packet ] && veth_down
    secs=$(elapsed "$t0" "$t1")
    read -r mpps gbps <<< "$(rate $((p1 - p0)) $((b1 - b0)) "$secs")"
    record "$b" dpdk tx "$size" "$q" "$mpps" "$gbps" $((p1 - p0)) "$secs" "$sink rx counters"
    log "DPDK $b tx $size B x$q: $mpps Mpps, $gbps Gbit/s"
}

dpdk_rx() {         # backend size queues
    local b=$1 size=$2 q=$3 tag src gpid p0 b0 d0 t0 p1 b1 d1 t1 secs mpps gbps note
    tag=dpdk-$b-rx-$size-$q
    if [ "$b" = tap ]; then src=$DPDK_TAP; else src=$VETH_PEER; veth_up; fi
    start_testpmd "$tag" --lcores "0@$MAIN,1@$MAIN" --no-pci --no-huge -m 512 --file-prefix "vrb$$-$tag" \
        --vdev "$(vdev "$b" "$q")" -- -i --total-num-mbufs=16384 --rxq="$q" --txq="$q" --nb-cores=1 --forward-mode=rxonly --burst=32
    if [ "$b" = tap ]; then
        wait_link "$DPDK_TAP" || die "testpmd did not create $DPDK_TAP (see $PMD_LOG)"
        kernel_side "$DPDK_TAP"
    fi
    pmd start
    sleep 0.5
    ip netns exec "$NS" env VRB_NETNS="$NS" taskset -c "$OTHER" "$OUT/vrb-gen" "$src" "$size" $((WARMUP + SECONDS_PER_CASE + 5)) \
        "$GUEST_MAC" > "$OUT/gen-$tag.log" 2>&1 &
    gpid=$!
    track "$gpid" vrb-gen
    sleep "$WARMUP"
    perf_start "$tag" "$PMD_PID" "$SECONDS_PER_CASE"
    if [ "$b" = tap ]; then
        # The TAP's tx counters: what the kernel handed to testpmd, and what its queue had no room for.
        p0=$(counter "$src" tx_packets); b0=$(counter "$src" tx_bytes); d0=$(counter "$src" tx_dropped); t0=$(now)
        sleep "$SECONDS_PER_CASE"
        p1=$(counter "$src" tx_packets); b1=$(counter "$src" tx_bytes); d1=$(counter "$src" tx_dropped); t1=$(now)
        note="TAP tx_dropped $((d1 - d0)) (reader behind when > 0)"
    else
        # testpmd's own counters (frames taken from the af_packet ring); the veth end's rx is what arrived.
        pmd "show port stats all"; d0=$(counter "$VETH_END" rx_packets); t0=$(now)
        sleep "$SECONDS_PER_CASE"
        pmd "show port stats all"; d1=$(counter "$VETH_END" rx_packets); t1=$(now)
        note="$((d1 - d0)) arrived at $VETH_END (the ring dropped the rest)"
    fi
    perf_finish "$tag"
    end_pid "$gpid" vrb-gen
    wait "$gpid" 2> /dev/null || true
    stop_testpmd
    if [ "$b" = packet ]; then read -r p0 b0 p1 b1 <<< "$(pmd_rx_stats)"; fi   # the log is complete once testpmd exited
    [ "$b" = packet ] && veth_down
    secs=$(elapsed "$t0" "$t1")
    read -r mpps gbps <<< "$(rate $((p1 - p0)) $((b1 - b0)) "$secs")"
    record "$b" dpdk rx "$size" "$q" "$mpps" "$gbps" $((p1 - p0)) "$secs" "$note; $(tail -1 "$OUT/gen-$tag.log")"
    log "DPDK $b rx $size B x$q: $mpps Mpps, $gbps Gbit/s ($note)"
}

floor_run() {       # tx|rx size queues
    local dir=$1 size=$2 q=$3 tag=floor-tap-$1-$2-$3 fpid gpid="" line mpps gbps secs=$((WARMUP + SECONDS_PER_CASE))
    local cpus="$MAIN"
    [ "$q" = 2 ] && [ "$dir" = tx ] && cpus="$MAIN $OTHER"
    # shellcheck disable=SC2086
    ip netns exec "$NS" env VRB_NETNS="$NS" "$OUT/vrb-tapfloor" "$dir" "$FLOOR_TAP" "$size" "$secs" "$q" $cpus > "$OUT/$tag.log" 2>&1 &
    fpid=$!
    track "$fpid" vrb-tapfloor
    wait_link "$FLOOR_TAP" || die "vrb-tapfloor did not create $FLOOR_TAP (see $OUT/$tag.log)"
    kernel_side "$FLOOR_TAP"
    if [ "$dir" = rx ]; then
        ip netns exec "$NS" env VRB_NETNS="$NS" taskset -c "$OTHER" "$OUT/vrb-gen" "$FLOOR_TAP" "$size" $((secs + 3)) "$GUEST_MAC" \
            > "$OUT/gen-$tag.log" 2>&1 &
        gpid=$!
        track "$gpid" vrb-gen
    fi
    sleep 2
    perf_start "$tag" "$fpid" $((SECONDS_PER_CASE - 1))
    wait "$fpid" 2> /dev/null || true
    perf_finish "$tag"
    if [ -n "$gpid" ]; then end_pid "$gpid" vrb-gen; wait "$gpid" 2> /dev/null || true; fi
    line=$(grep 'frames,' "$OUT/$tag.log" || true)
    [ -n "$line" ] || die "vrb-tapfloor gave no result (see $OUT/$tag.log)"
    read -r mpps gbps <<< "$(echo "$line" | sed -n 's/.*(\([0-9.]*\) Mpps, \([0-9.]*\) Gbit\/s).*/\1 \2/p')"
    record tap floor "$dir" "$size" "$q" "$mpps" "$gbps" - "$secs" "$line"
    log "floor tap $dir $size B x$q: $mpps Mpps, $gbps Gbit/s"
}

perf_watch_bdn() {  # profile each BenchmarkDotNet benchmark process once it is warm (--perf); runs in the background
    set +e
    local host=$1 seen=" " pid n=0
    while [ -d "/proc/$host" ]; do
        for pid in $(pgrep -f -- '--benchmarkId'); do
            case "$seen" in *" $pid "*) continue ;; esac
            seen="$seen$pid "
            n=$((n + 1))
            tr '\0' ' ' < "/proc/$pid/cmdline" > "$OUT/perf-ours-$n.cmd" 2> /dev/null
            echo "$(date -u +%T) case $n: pid $pid: $(grep -o 'benchmarkName "[^"]*"' "$OUT/perf-ours-$n.cmd")" >> "$OUT/perf-watch.log"
            sleep 4
            [ -d "/proc/$pid" ] || { echo "  pid $pid ended before profiling" >> "$OUT/perf-watch.log"; continue; }
            timeout -s INT 5 perf record -q -e cpu-clock -F 2999 -g -p "$pid" -o "$OUT/perf-ours-$n.data" >> "$OUT/perf-watch.log" 2>&1
            echo "  recorded: $(stat -c %s "$OUT/perf-ours-$n.data" 2> /dev/null) bytes" >> "$OUT/perf-watch.log"
        done
        sleep 0.5
    done
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

filter_for() {      # backend direction → BenchmarkDotNet filter
    case "$1-$2" in
        tap-tx) echo '*TapTransmitBenchmarks*' ;;
        tap-rx) echo '*TapReceiveBenchmarks*' ;;
        packet-tx) echo '*PacketTransmitBenchmarks*' ;;
        packet-rx) echo '*PacketReceiveBenchmarks*' ;;
    esac
}

OURS_RUNS=0
ours_run() {        # tag sizes_csv queues_csv extra-args filter… : one BenchmarkDotNet run, results recorded
    local tag=$1 sizes_csv=$2 queues_csv=$3 extra=$4 bdn bdn_rc=0 json b dir params mean alloc size q bytes mpps gbps
    shift 4
    local perf_env=()
    [ "$PERF" = 1 ] && perf_env=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0)
    OURS_RUNS=$((OURS_RUNS + 1))
    # The program runs outside the namespace (BenchmarkDotNet restores and builds its runner over the network); the
    # benchmark thread moves into $NS (setns) before it creates anything.
    # shellcheck disable=SC2086
    env "${perf_env[@]}" VRB_NETNS="$NS" VRB_GEN="$OUT/vrb-gen" VRB_PIDDIR="$PIDDIR" VRB_CPU_MAIN="$MAIN" VRB_CPU_OTHER="$OTHER" \
        VRB_SIZES="$sizes_csv" VRB_QUEUES="$queues_csv" DOTNET_CLI_TELEMETRY_OPTOUT=1 \
        taskset -c "$MAIN" dotnet "$DLL" --filter "$@" $BDN_ARGS $extra --buildTimeout 1200 --artifacts "$OUT/bdn-$tag" --exporters json \
        > "$OUT/bdn-$tag.log" 2>&1 &
    bdn=$!
    track "$bdn" dotnet   # taskset execs dotnet: same PID
    if [ "$PERF" = 1 ]; then
        if [ "$GROUPED" = 1 ]; then perf_watch_bdn "$bdn" & else (sleep 6; timeout -s INT 5 perf record -q -e cpu-clock -F 2999 -g -p "$bdn" -o "$OUT/perf-ours-$tag.data" > /dev/null 2>&1) & fi
    fi
    wait "$bdn" || bdn_rc=$?
    if [ "$PERF" = 1 ]; then
        wait
        for data in "$OUT"/perf-ours-*.data; do [ -f "$data" ] && [ ! -f "${data%.data}.txt" ] && perf_summary "$(basename "$data" .data | sed 's/^perf-//')"; done
    fi
    grep -h '// \[vrb\]' "$OUT/bdn-$tag.log" | tee -a "$OUT/run.log" >&2 || true
    [ "$bdn_rc" = 0 ] || log "BenchmarkDotNet exited with $bdn_rc for $tag (an allocation or a failed case; see $OUT/bdn-$tag.log)"
    grep -E 'ALLOCATES|FAILED' "$OUT/bdn-$tag.log" | tee -a "$OUT/run.log" >&2 || true
    for json in "$OUT/bdn-$tag"/results/*Benchmarks-report-full-compressed.json; do
        [ -f "$json" ] || continue
        case "$json" in *Tap*) b=tap ;; *Packet*) b=packet ;; *) continue ;; esac
        case "$json" in *Receive*) dir=rx ;; *) dir=tx ;; esac
        while IFS=$'\t' read -r params mean alloc; do
            size=$(echo "$params" | sed -n 's/.*FrameLength=\([0-9]*\).*/\1/p')
            q=$(echo "$params" | sed -n 's/.*Queues=\([0-9]*\).*/\1/p')
            bytes=$size
            [ "$dir" = rx ] && [ "$size" = 65536 ] && bytes=65535    # vrb-gen's super-frames (see vrb-gen.c)
            read -r mpps gbps <<< "$(awk -v ns="$mean" -v s="$bytes" 'BEGIN { if (ns == "NaN" || ns == 0) print "- -"; else printf "%.3f %.2f", 1000 / ns, s * 8 / ns }')"
            record "$b" ours "$dir" "$size" "$q" "$mpps" "$gbps" - - "mean $mean ns/frame, $alloc B/op allocated"
            log "ours $b $dir $size B x$q: $mpps Mpps, $gbps Gbit/s ($alloc B/op allocated)"
        done < <(jq -r '.Benchmarks[] | [.Parameters, (.Statistics.Mean // "NaN"), (.Memory.BytesAllocatedPerOperation // 0)] | @tsv' "$json")
    done
}

dpdk_case() {       # backend direction size queues
    if [ "$3" -gt 1514 ] && { [ "$2" = tx ] || [ "$1" = packet ]; }; then
        # txonly cannot send a TSO super-frame; net_tap refuses frames above its 1522-byte device maximum; af_packet
        # has no virtio-net header and its mbufs hold at most 65407 bytes.
        record "$1" dpdk "$2" "$3" "$4" - - 0 0 "no 64 KiB case in DPDK; compared with its 1500 B bytes/s"
    else
        "dpdk_$2" "$1" "$3" "$4"
    fi
}

if [ "$GROUPED" = 0 ]; then
    log "interleaved: floor, DPDK and ours (BenchmarkDotNet in-process, $BDN_ARGS) case by case"
    for b in $BACKENDS; do
        for dir in $DIRS; do
            for size in $SIZES; do
                for q in $QUEUES; do
                    if [ "$ONLY" != ours ]; then
                        [ "$b" = tap ] && [ "$FLOOR" = 1 ] && floor_run "$dir" "$size" "$q"
                        dpdk_case "$b" "$dir" "$size" "$q"
                    fi
                    [ "$ONLY" != dpdk ] && ours_run "$b-$dir-$size-$q" "$size" "$q" "--inProcess" "$(filter_for "$b" "$dir")"
                    load_snapshot "after $b $dir $size B x$q"
                done
            done
        done
    done
else
    if [ "$ONLY" != ours ]; then
        for b in $BACKENDS; do
            for dir in $DIRS; do
                if [ "$b" = tap ] && [ "$FLOOR" = 1 ]; then
                    for size in $SIZES; do for q in $QUEUES; do floor_run "$dir" "$size" "$q"; done; done
                fi
                for size in $SIZES; do for q in $QUEUES; do dpdk_case "$b" "$dir" "$size" "$q"; done; done
                load_snapshot "after DPDK/floor $b $dir"
            done
        done
    fi
    if [ "$ONLY" != dpdk ]; then
        filters=()
        for b in $BACKENDS; do for dir in $DIRS; do filters+=("$(filter_for "$b" "$dir")"); done; done
        log "ours: BenchmarkDotNet ($BDN_ARGS), ${filters[*]}"
        ours_run all "$(echo "$SIZES" | tr ' ' ',')" "$(echo "$QUEUES" | tr ' ' ',')" "" "${filters[@]}"
        load_snapshot "after ours"
    fi
fi
load_snapshot "end"

# --- tables ----------------------------------------------------------------------------------------------------------
pick() { awk -F'\t' -v b="$1" -v w="$2" -v d="$3" -v s="$4" -v q="$5" '$1==b && $2==w && $3==d && $4==s && $5==q { print $6" "$7 }' "$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
{
    for b in $BACKENDS; do
        echo
        echo "$b:"
        echo
        echo "| direction | frame | queues | floor Mpps | floor Gbit/s | DPDK Mpps | DPDK Gbit/s | ours Mpps | ours Gbit/s | ours/DPDK | ours/floor |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for dir in $DIRS; do
            for size in $SIZES; do
                for q in $QUEUES; do
                    f=$(pick "$b" floor "$dir" "$size" "$q"); d=$(pick "$b" dpdk "$dir" "$size" "$q"); o=$(pick "$b" ours "$dir" "$size" "$q")
                    read -r fm fg <<< "${f:-- -}"
                    read -r dm dg <<< "${d:-- -}"
                    read -r om og <<< "${o:-- -}"
                    peer=$dg; note=""
                    if [ "$dm" = "-" ] && [ "$size" -gt 1514 ]; then
                        # No 64 KiB case in DPDK: compare bytes/s with its 1500 B figure (same backend, direction, queues).
                        peer=$(pick "$b" dpdk "$dir" 1500 "$q" | awk '{ print $2 }')
                        peer=${peer:--}
                        note=" (vs DPDK 1500 B: $peer Gbit/s)"
                    fi
                    echo "| $dir | $size | $q | $fm | $fg | $dm | $dg | $om | $og | $(ratio "$og" "$peer")$note | $(ratio "$og" "$fg") |"
                done
            done
        done
    done
} | tee "$OUT/table.md"
log "tables: $OUT/table.md; raw: $RESULTS; load: $OUT/load.txt"
