#!/usr/bin/env bash
# Issue 7 benchmark: our VhostUserNet daemon's switch next to DPDK's own vhost PMD, in ONE run, between the same two
# DPDK virtio-user drivers.
#
#   sudo benchmarks/vhost-user/vhost-vs-dpdk.sh [options]
#
#   testpmd A (txonly, virtio-user) ──a.sock──▶ MIDDLE ──b.sock──▶ testpmd B (rxonly, virtio-user)
#
#   MIDDLE is either ours:  samples/VhostUserNet (Release) --socket a.sock --socket b.sock --queues N --stats-interval 0
#              or DPDK's:   dpdk-testpmd --vdev net_vhost0,iface=a.sock,queues=N --vdev net_vhost1,iface=b.sock,queues=N
#                           --forward-mode=io (port 0's receive → port 1's transmit, queue i → queue i)
# Only Unix sockets: no network device, no namespace. Each case starts its own three processes, measures, and ends them
# (by PID, checking the name), removes the sockets and the testpmds' /var/run/dpdk/<prefix> folders; the same on failure
# and Ctrl-C (trap on EXIT). Every process is bounded: the daemon by --duration, each testpmd by its stdin (a FIFO this
# script holds open: when the script ends, testpmd reads EOF and quits).
#
# What is measured, per case: after a warm-up, "show port stats all" in A and in B at t0 and at t1 (--seconds later);
# B's receive rate = ΔRX-packets(B) / (t1 - t0) is the figure (Mpps; Gbit/s from ΔRX-bytes), A's transmit rate
# ΔTX-packets(A) / (t1 - t0) is reported next to it, with "match" when they agree within 1 %. (Ours is lossless: a frame
# B has no buffer for is held in A's ring, so A's rate follows B's. DPDK's io forwarding drops what B's ring has no room
# for, so there A may be above B.) Frames: txonly's UDP/IPv4 frames of --txpkts bytes (64 and 1518 by default), one
# flow, to B's MAC (--eth-peer); split rings or packed (virtio-user packed_vq=1); N = 1 or 2 queue pairs on all three.
# The learning switch learns B's MAC from a short txonly burst of B before A connects (ours only: DPDK's io forwarding
# has no MAC table), so A's frames are known unicast.
#
# CPUs (2 cores), --sharing:
#   pinned (default)  the middle alone on CPU 1 (our daemon under taskset -c 1, all its threads; DPDK's vhost testpmd
#                     under taskset -c 1 with --lcores 0@1,1@1: main + one forwarding lcore); A and B both on CPU 0
#                     (taskset -c 0, --lcores 0@0,1@0 each: main + one forwarding lcore, both busy-polling, so the kernel
#                     time-slices them). With 2 queue pairs the middle still has ONE core: DPDK's one forwarding lcore
#                     polls all queues, our daemon runs one worker thread per queue pair per device on it.
#   split-a           A alone on CPU 0 (a whole core for the generator); the middle and B share CPU 1 (B: --lcores
#                     0@1,1@1; the middle as in pinned, on CPU 1): the middle has half a core either way (DPDK's lcore
#                     and B's busy-poll time-share it; our daemon's threads compete with B the same way). For 64-byte
#                     frames with DPDK's middle, A on half a core is the bottleneck under "pinned" (A's ring never
#                     fills); here it is not.
#   float             nothing pinned: all three processes on CPUs 0-1 (lcores 0@(0-1),1@(0-1)), the kernel decides.
# Because A and B time-share CPU 0 and both busy-poll, each runs in scheduler slices of a few ms; a ring must hold what
# arrives while its reader is not running, or the rate measures the time slice instead of the middle (with DPDK's
# default 256 entries both middles idle most of the time: ~0.01–0.04 Mpps on a loaded machine). --ring sets the
# virtio-user queue size (and testpmd's --rxd/--txd) for both sides alike: default 32768, the largest virtio allows,
# so A's ring and B's ring bridge ~3 ms slices up to ~10 Mpps.
#
# Options:
#   --seconds N      measuring window per case (default 10), after --warmup
#   --warmup N       seconds of traffic before the window (default 3)
#   --reps N         repetitions of every case (default 3); ours and DPDK alternate (odd reps ours first, even DPDK)
#   --sizes "…"      frame sizes in bytes, testpmd --txpkts (default "64 1518")
#   --queues "…"     queue pairs (default "1 2")
#   --layouts "…"    split and/or packed (default "split packed")
#   --sharing S      pinned | split-a | float, or a list in quotes (default pinned; each case runs under each, interleaved)
#   --ring N         virtio-user queue size = testpmd --rxd/--txd (default 32768; DPDK's default is 256)
#   --burst N        testpmd --burst for all three (default 32)
#   --only WHAT      ours | dpdk | all (default all)
#   --daemon-args "…" extra arguments for the daemon (e.g. a worker-mode option, when it has one)
#   --perf           profile the middle of each case for --perf-seconds with perf (call graphs; our daemon with
#                    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0) into DIR/perf-*.txt; a separate profiling run, not the recorded figures
#   --perf-seconds N (default 5)
#   --counters PATH  dotnet-counters (e.g. dotnet tool install --tool-path DIR dotnet-counters): during the window of
#                    each case of ours, read the daemon's GC counters (dotnet.gc.collections,
#                    dotnet.gc.heap.total_allocated) into DIR/*-counters.csv and report bytes allocated per frame
#   --wait-idle MIN  first wait (at most MIN minutes) until no 'dotnet build|test' ran for 60 s (default 0)
#   --out DIR        logs, results.tsv, table.md, load.txt (default /tmp/vrv-bench-DATE-PID; kept)
#   --no-build       use the existing Release build of samples/VhostUserNet
#   -h, --help       this text
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

SECS=10
WARMUP=3
REPS=3
SIZES="64 1518"
QUEUES="1 2"
LAYOUTS="split packed"
SHARING=pinned
RING=32768
BURST=32
ONLY=all
DAEMON_ARGS=""
PERF=0
PERF_SECS=5
COUNTERS=""
WAIT_IDLE=0
OUT=""
BUILD=1

ARGS="$*"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --queues) QUEUES=$2; shift 2 ;;
        --layouts) LAYOUTS=$2; shift 2 ;;
        --sharing) SHARING=$2; shift 2 ;;
        --ring) RING=$2; shift 2 ;;
        --burst) BURST=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --daemon-args) DAEMON_ARGS=$2; shift 2 ;;
        --perf) PERF=1; shift ;;
        --perf-seconds) PERF_SECS=$2; shift 2 ;;
        --counters) COUNTERS=$2; shift 2 ;;
        --wait-idle) WAIT_IDLE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

case "$ONLY" in ours) SIDES=ours ;; dpdk) SIDES=dpdk ;; all) SIDES="ours dpdk" ;; *) echo "--only is ours, dpdk or all" >&2; exit 2 ;; esac
SHARINGS=$SHARING
for x in $SHARINGS; do case "$x" in pinned|split-a|float) ;; *) echo "--sharing takes pinned, split-a and/or float" >&2; exit 2 ;; esac; done
for l in $LAYOUTS; do case "$l" in split|packed) ;; *) echo "--layouts takes split and/or packed" >&2; exit 2 ;; esac; done
for n in "$SECS" "$WARMUP" "$REPS" "$RING" "$BURST" "$PERF_SECS" "$WAIT_IDLE" $SIZES $QUEUES; do
    case "$n" in ''|*[!0-9]*) echo "not a whole number: '$n'" >&2; exit 2 ;; esac
done
[ "$SECS" -ge 1 ] && [ "$REPS" -ge 1 ] || { echo "--seconds and --reps must be at least 1" >&2; exit 2; }

REPO=$(cd "$(dirname "$0")/../.." && pwd)
DAEMON_PROJECT=$REPO/samples/VhostUserNet
DAEMON=$DAEMON_PROJECT/bin/Release/net10.0/VhostUserNet
OUT=${OUT:-/tmp/vrv-bench-$(date -u +%Y%m%d-%H%M%S)-$$}
SOCKDIR=/tmp/vrv-sock-$$        # short: sun_path holds 108 bytes
MAC_A=02:00:00:00:aa:01
MAC_B=02:00:00:00:bb:02
mkdir -p "$OUT"


[ "$(id -u)" -eq 0 ] || die "needs root (DPDK's EAL, /var/run/dpdk)"
for tool in dpdk-testpmd dotnet taskset stdbuf awk mkfifo; do
    command -v "$tool" > /dev/null || die "$tool is not installed"
done
[ "$PERF" = 0 ] || command -v perf > /dev/null || die "--perf needs perf (Debian: linux-perf)"
[ -z "$COUNTERS" ] || [ -x "$COUNTERS" ] || die "--counters: $COUNTERS is not an executable"

# --- process bookkeeping ---------------------------------------------------------------------------------------------
STARTED=()          # "PID:comm" of every process this script started
PREFIXES=()         # DPDK --file-prefix of every testpmd this script started
FDS=()              # FIFO write ends held open


remove_leftovers() {  # this run's sockets and DPDK runtime folders
    local p
    rm -rf "$SOCKDIR"
    for p in "${PREFIXES[@]:-}"; do
        [ -n "$p" ] && rm -rf "/var/run/dpdk/$p"
    done
}

cleanup() {
    local rc=$? entry fd
    trap - EXIT INT TERM
    for fd in "${FDS[@]:-}"; do [ -n "$fd" ] && eval "exec $fd>&-" 2> /dev/null || true; done
    for entry in "${STARTED[@]:-}"; do
        [ -n "$entry" ] || continue
        end_pid "${entry%%:*}" "${entry#*:}"
    done
    remove_leftovers
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
trap '' PIPE        # a write to a testpmd that died fails (set -e ends the run) instead of killing the shell

untrack() {
    local keep=() e
    for e in "${STARTED[@]:-}"; do [ -n "$e" ] && [ "${e%%:*}" != "$1" ] && keep+=("$e"); done
    STARTED=("${keep[@]:-}")
}




wait_for() {        # seconds description command…: poll every 0.1 s
    local limit=$1 what=$2 i
    shift 2
    for i in $(seq $((limit * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    die "timed out ($limit s) waiting for $what"
}

# --- testpmd: interactive, commands through a FIFO, output line-buffered into a log ----------------------------------
declare -A PMD_PID PMD_FD PMD_LOG
start_testpmd() {   # name cpus tag, EAL/testpmd arguments…
    local name=$1 cpus=$2 tag=$3 fifo fd
    shift 3
    fifo=$OUT/$tag.fifo
    rm -f "$fifo"; mkfifo "$fifo"
    PMD_LOG[$name]=$OUT/$tag.log
    PREFIXES+=("vrv$$-$tag")
    # taskset and stdbuf exec: $! is testpmd's PID.
    taskset -c "$cpus" stdbuf -oL -eL dpdk-testpmd --file-prefix "vrv$$-$tag" "$@" < "$fifo" > "${PMD_LOG[$name]}" 2>&1 &
    PMD_PID[$name]=$!
    track "${PMD_PID[$name]}" dpdk-testpmd
    exec {fd}> "$fifo"
    PMD_FD[$name]=$fd
    FDS+=("$fd")
}
pmd() { local name=$1; shift; echo "$*" >&"${PMD_FD[$name]}"; }
pmd_alive() { [ -d "/proc/${PMD_PID[$1]}" ]; }
count_in_log() { grep -c -- "$2" "${PMD_LOG[$1]}" 2> /dev/null || true; }
prompt_seen() { pmd_alive "$1" || die "testpmd $1 exited (see ${PMD_LOG[$1]})"; [ "$(count_in_log "$1" 'testpmd> ')" -gt 0 ]; }
link_up_after() {   # name count: a "Link status: up" answer beyond the first COUNT
    pmd_alive "$1" || die "testpmd $1 exited (see ${PMD_LOG[$1]})"
    [ "$(count_in_log "$1" 'Link status: up')" -gt "$2" ]
}
wait_link_up() {    # name: ask "show port info 0" until the port's link is up (virtio-user: connected to the back-end)
    local name=$1 i n
    for i in $(seq 100); do
        n=$(count_in_log "$name" 'Link status: up')
        pmd "$name" "show port info 0"
        sleep 0.2
        link_up_after "$name" "$n" && return 0
    done
    die "testpmd $name: port 0 never came up (see ${PMD_LOG[$name]})"
}
stop_testpmd() {
    local name=$1 i t0
    [ -n "${PMD_PID[$name]:-}" ] || return 0
    t0=$(now)
    pmd "$name" stop 2> /dev/null || true
    sleep 0.3
    pmd "$name" quit 2> /dev/null || true
    eval "exec ${PMD_FD[$name]}>&-"
    for i in $(seq 100); do [ -d "/proc/${PMD_PID[$name]}" ] || break; sleep 0.1; done
    end_pid "${PMD_PID[$name]}" dpdk-testpmd
    wait "${PMD_PID[$name]}" 2> /dev/null || true
    log "  testpmd $name ended after $(elapsed "$t0" "$(now)") s"
    untrack "${PMD_PID[$name]}"
    PMD_PID[$name]=""
}

STATS_MARK=()
stats_request() {   # name: ask for the port counters; remember how many answers the log had
    STATS_MARK[${#STATS_MARK[@]}]="$1:$(count_in_log "$1" '^ *TX-packets: .*TX-errors:')"
    pmd "$1" "show port stats all"
}
stats_wait() {      # wait for every requested answer (at most 10 s)
    local e name n i ok
    for i in $(seq 100); do
        ok=1
        for e in "${STATS_MARK[@]}"; do
            name=${e%%:*}; n=${e#*:}
            [ "$(count_in_log "$name" '^ *TX-packets: .*TX-errors:')" -gt "$n" ] || ok=0
        done
        [ "$ok" = 1 ] && { STATS_MARK=(); return 0; }
        sleep 0.05
    done
    die "no answer to 'show port stats all' within 10 s"
}
port0_stats() {     # name: "rx_packets rx_bytes tx_packets tx_bytes" of port 0 in the last answer
    awk '/NIC statistics for port/ { port = $6 }
         port == "0" && /RX-packets:.*RX-missed:/ { for (i = 1; i <= NF; i++) { if ($i == "RX-packets:") rp = $(i + 1); if ($i == "RX-bytes:") rb = $(i + 1) } }
         port == "0" && /TX-packets:.*TX-errors:/ { for (i = 1; i <= NF; i++) { if ($i == "TX-packets:") tp = $(i + 1); if ($i == "TX-bytes:") tb = $(i + 1) } }
         END { printf "%.0f %.0f %.0f %.0f\n", rp, rb, tp, tb }' "${PMD_LOG[$1]}"
}

# --- the middle ------------------------------------------------------------------------------------------------------
MID_PID=""
MID_NAME=""
PERF_PID=""
start_ours() {      # tag queues cpus
    local tag=$1 q=$2 cpus=$3 perf_env=()
    [ "$PERF" = 1 ] && perf_env=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0)
    # shellcheck disable=SC2086
    env "${perf_env[@]}" DOTNET_CLI_TELEMETRY_OPTOUT=1 taskset -c "$cpus" "$DAEMON" --socket "$SOCKDIR/a.sock" --socket "$SOCKDIR/b.sock" \
        --queues "$q" --stats-interval 0 --duration $((WARMUP + SECS + 120)) $DAEMON_ARGS < /dev/null > "$OUT/$tag.log" 2>&1 &
    MID_PID=$!
    MID_NAME=VhostUserNet
    track "$MID_PID" "$MID_NAME"
    wait_for 30 "the daemon's sockets" test -S "$SOCKDIR/a.sock" -a -S "$SOCKDIR/b.sock"
}
start_dpdk_middle() { # tag queues cpus lcores
    local tag=$1 q=$2 cpus=$3 lcores=$4
    start_testpmd M "$cpus" "$tag" --lcores "$lcores" --no-pci --no-huge -m 512 \
        --vdev "net_vhost0,iface=$SOCKDIR/a.sock,queues=$q" --vdev "net_vhost1,iface=$SOCKDIR/b.sock,queues=$q" \
        -- -i --total-num-mbufs=32768 --rxq="$q" --txq="$q" --nb-cores=1 --forward-mode=io --burst="$BURST"
    MID_PID=${PMD_PID[M]}
    MID_NAME=dpdk-testpmd
    wait_for 30 "testpmd M's prompt" prompt_seen M
    wait_for 30 "the vhost PMD's sockets" test -S "$SOCKDIR/a.sock" -a -S "$SOCKDIR/b.sock"
}
stop_middle() {     # side tag
    if [ "$1" = dpdk ]; then
        stop_testpmd M
    else
        end_pid "$MID_PID" "$MID_NAME"
        wait "$MID_PID" 2> /dev/null || true
        untrack "$MID_PID"
        rm -f "/tmp/perf-$MID_PID.map" "/tmp/perfinfo-$MID_PID.map"     # DOTNET_PerfMapEnabled's files (--perf)
    fi
    MID_PID=""
}

perf_start() {      # tag
    [ "$PERF" = 1 ] || return 0
    timeout -s INT "$PERF_SECS" perf record -q -e cpu-clock -F 2999 -g -p "$MID_PID" -o "$OUT/perf-$1.data" > "$OUT/perf-$1.log" 2>&1 &
    PERF_PID=$!
    track "$PERF_PID" timeout
}
perf_finish() {     # tag
    [ -n "$PERF_PID" ] || return 0
    wait "$PERF_PID" 2> /dev/null || true
    untrack "$PERF_PID"
    PERF_PID=""
    [ -s "$OUT/perf-$1.data" ] || return 0
    {
        echo "# perf $1: share of samples by thread, by object, then by symbol (self), then callers of the top (children)"
        perf report -i "$OUT/perf-$1.data" --stdio --no-children --sort comm -g none 2> /dev/null | grep -E '^ +[0-9]' 2> /dev/null | head -12 || true
        echo
        perf report -i "$OUT/perf-$1.data" --stdio --no-children --sort dso -g none 2> /dev/null | grep -E '^ +[0-9]' 2> /dev/null | head -12 || true
        echo
        perf report -i "$OUT/perf-$1.data" --stdio --no-children --sort sym -g none 2> /dev/null | grep -E '^ +[0-9]' 2> /dev/null | head -50 || true
        echo
        perf report -i "$OUT/perf-$1.data" --stdio --children --sort sym -g none 2> /dev/null | grep -E '^ +[0-9]' 2> /dev/null | head -50 || true
    } > "$OUT/perf-$1.txt"
}

proc_ticks() {      # pid: user + system clock ticks of the whole process (all threads)
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2> /dev/null || echo 0
}
thread_ticks() {    # pid: "tid ticks name" per thread
    local t
    for t in /proc/"$1"/task/*; do
        awk -v tid="${t##*/}" '{ name = $0; sub(/^[^(]*\(/, "", name); sub(/\) .*$/, "", name); sub(/^.*\) /, ""); gsub(/ /, "_", name); print tid, $12 + $13, name }' "$t/stat" 2> /dev/null || true
    done
}
HZ=$(getconf CLK_TCK)

COUNTERS_PID=""
counters_start() {  # tag (ours only)
    [ -n "$COUNTERS" ] && [ "$MID_NAME" = VhostUserNet ] || return 0
    "$COUNTERS" collect -p "$MID_PID" --refresh-interval 1 --format csv -o "$OUT/$1-counters.csv" \
        --counters 'System.Runtime[dotnet.gc.collections,dotnet.gc.heap.total_allocated]' \
        --duration "00:00:00:$(printf '%02d' $((SECS > 2 ? SECS - 1 : 1)))" > "$OUT/$1-counters.log" 2>&1 &
    COUNTERS_PID=$!
    track "$COUNTERS_PID" "$(basename "$COUNTERS" | cut -c1-15)"
}
counters_finish() { # wait for the tool (it stops itself after --duration)
    [ -n "$COUNTERS_PID" ] || return 0
    wait "$COUNTERS_PID" 2> /dev/null || true
    untrack "$COUNTERS_PID"
    COUNTERS_PID=""
}
counters_summary() { # tag frames → "allocated bytes in the window, GCs in the window, bytes per frame" (or "-")
    local tag=$1 frames=$2
    [ -s "$OUT/$tag-counters.csv" ] || { echo "no counters"; return 0; }
    # Rates per refresh interval: the sum of the increments is what happened while the tool listened.
    awk -F, -v f="$frames" 'NR > 1 && $3 ~ /total_allocated/ { a += $NF } NR > 1 && $3 ~ /gc.collections/ { g += $NF }
        END { printf "alloc %.0f B, %d GCs, %.4f B/frame\n", a, g, (f > 0 ? a / f : 0) }' "$OUT/$tag-counters.csv" 2> /dev/null || echo "-"
}

# --- one case --------------------------------------------------------------------------------------------------------
RESULTS=$OUT/results.tsv
printf 'rep\tsharing\tside\tlayout\tsize\tqueues\tseconds\tb_rx_frames\tb_mpps\tb_gbps\ta_tx_frames\ta_mpps\tmatch\tmid_cpu_pct\tmid_cpu_ns_per_frame\ta_refused_pct\tnote\n' > "$RESULTS"

run_case() {        # rep sharing side layout size queues
    local rep=$1 sharing=$2 side=$3 layout=$4 size=$5 q=$6
    local tag="r$1-$2-$3-$4-$5-q$6" mid_cpus drv_cpus mid_lcores drv_lcores a_cpus a_lcores packed="" mbufs mem
    local a0 a1 b0 b1 t0 t1 c0 c1 secs brx brb bmpps bgbps ampps match note cpu nspf refused
    case "$sharing" in
        pinned) mid_cpus=1; drv_cpus=0; mid_lcores="0@1,1@1"; drv_lcores="0@0,1@0" ;;
        split-a) mid_cpus=1; drv_cpus=1; mid_lcores="0@1,1@1"; drv_lcores="0@1,1@1" ;;
        float) mid_cpus=0-1; drv_cpus=0-1; mid_lcores="0@(0-1),1@(0-1)"; drv_lcores="0@(0-1),1@(0-1)" ;;
    esac
    a_cpus=$drv_cpus; a_lcores=$drv_lcores
    [ "$sharing" = split-a ] && { a_cpus=0; a_lcores="0@0,1@0"; }
    [ "$layout" = packed ] && packed=",packed_vq=1"
    # B's receive rings are full of mbufs (RING per queue) plus the per-lcore caches and a burst in flight.
    mbufs=$(( 2 * RING * q + 8192 ))
    mem=$(( 512 + mbufs * 3 / 1024 ))      # MB: each mbuf takes ~2.4 KB with its data room
    rm -rf "$SOCKDIR"; mkdir -p "$SOCKDIR"
    log "case $tag"

    if [ "$side" = ours ]; then start_ours "$tag-mid" "$q" "$mid_cpus"; else start_dpdk_middle "$tag-mid" "$q" "$mid_cpus" "$mid_lcores"; fi

    # B first (its port must be up before A sends), then A.
    start_testpmd B "$drv_cpus" "$tag-B" --lcores "$drv_lcores" --no-pci --no-huge -m "$mem" \
        --vdev "net_virtio_user0,path=$SOCKDIR/b.sock,queues=$q,queue_size=$RING,mac=$MAC_B$packed" \
        -- -i --total-num-mbufs="$mbufs" --rxq="$q" --txq="$q" --rxd="$RING" --txd="$RING" --nb-cores=1 \
        --forward-mode=rxonly --burst="$BURST" --txpkts="$size" --eth-peer="0,$MAC_A"
    wait_for 60 "testpmd B's prompt" prompt_seen B
    wait_link_up B
    if [ "$side" = ours ]; then
        # The switch learns B's MAC from a short burst of B (A is not connected yet: the flooded frames are dropped).
        pmd B "set fwd txonly"; pmd B start; sleep 0.3; pmd B stop; pmd B "set fwd rxonly"
    fi
    pmd B start
    log "  B up ($side)"

    start_testpmd A "$a_cpus" "$tag-A" --lcores "$a_lcores" --no-pci --no-huge -m "$mem" \
        --vdev "net_virtio_user0,path=$SOCKDIR/a.sock,queues=$q,queue_size=$RING,mac=$MAC_A$packed" \
        -- -i --total-num-mbufs="$mbufs" --rxq="$q" --txq="$q" --rxd="$RING" --txd="$RING" --nb-cores=1 \
        --forward-mode=txonly --burst="$BURST" --txpkts="$size" --eth-peer="0,$MAC_B"
    wait_for 60 "testpmd A's prompt" prompt_seen A
    wait_link_up A
    [ "$side" = dpdk ] && pmd M start      # forwarding starts once both sides are connected (see RESULTS.md)
    pmd A start
    log "  A up, traffic"

    sleep "$WARMUP"
    stats_request A; stats_request B; t0=$(now); stats_wait
    read -r _ _ a0 _ <<< "$(port0_stats A)"
    read -r b0 brb _ _ <<< "$(port0_stats B)"
    c0=$(proc_ticks "$MID_PID"); thread_ticks "$MID_PID" > "$OUT/$tag-threads0.txt"
    perf_start "$tag"
    counters_start "$tag"
    sleep "$SECS"
    stats_request A; stats_request B; t1=$(now); stats_wait
    read -r _ _ a1 _ <<< "$(port0_stats A)"
    read -r b1 brx _ _ <<< "$(port0_stats B)"
    c1=$(proc_ticks "$MID_PID"); thread_ticks "$MID_PID" > "$OUT/$tag-threads1.txt"
    perf_finish "$tag"
    counters_finish
    # Where the middle's CPU time went in the window, per thread (ticks of 1/HZ s).
    awk 'NR == FNR { t[$1] = $2; next } { d = $2 - t[$1]; if (d > 0) printf "%6d ticks  %s (tid %s)\n", d, $3, $1 }' \
        "$OUT/$tag-threads0.txt" "$OUT/$tag-threads1.txt" | sort -rn > "$OUT/$tag-threads.txt"

    log "  window done; stopping"
    stop_testpmd A
    sleep 0.5
    stop_testpmd B
    stop_middle "$side"
    rm -rf "$SOCKDIR"
    for p in "vrv$$-$tag-A" "vrv$$-$tag-B" "vrv$$-$tag-mid"; do rm -rf "/var/run/dpdk/$p"; done

    secs=$(elapsed "$t0" "$t1")
    # A's forward statistics (whole run): TX-dropped = frames txonly built that A's PMD refused because its transmit
    # ring was full. Far above 0: A had more to give than the middle and B took, so A was not the bottleneck.
    refused=$(awk '/TX-packets:.*TX-dropped:.*TX-total:/ { for (i = 1; i <= NF; i++) { if ($i == "TX-dropped:") d = $(i + 1); if ($i == "TX-total:") t = $(i + 1) } }
                   END { if (t > 0) printf "%.1f", 100 * d / t; else print "-" }' "$OUT/$tag-A.log")
    # "match": A's and B's counts differ by at most what the rings between them hold (A's transmit ring and B's receive
    # ring, RING each per queue pair) plus 0.5 %; otherwise the difference in % of B (DPDK: frames its io forwarding dropped).
    read -r bmpps bgbps ampps match cpu nspf <<< "$(awk -v b=$((b1 - b0)) -v bb=$((brx - brb)) -v a=$((a1 - a0)) -v s="$secs" \
        -v slack=$((2 * RING * q)) -v c=$((c1 - c0)) -v hz="$HZ" 'BEGIN {
        d = b > a ? b - a : a - b
        m = d <= slack + 0.005 * a ? "match" : sprintf("A%+.1f%%", 100 * (a - b) / (b > 0 ? b : 1))
        cs = c / hz
        printf "%.3f %.2f %.3f %s %.0f %.0f\n", b / s / 1e6, bb * 8 / s / 1e9, a / s / 1e6, m, 100 * cs / s, (b > 0 ? cs * 1e9 / b : 0)
    }')"
    note=""
    if [ "$side" = ours ]; then
        note=$(grep -E '^vu0 ' "$OUT/$tag-mid.log" | tail -1 || true)
        [ -n "$COUNTERS" ] && note="$(counters_summary "$tag" $((b1 - b0))) (dotnet-counters); $note"
    else
        note=$(awk '/Forward statistics for port 1/ { f = 1 } f && /TX-packets:/ { print "M port1 fwd " $0; f = 0 }' "$OUT/$tag-mid.log" | tail -1 | tr -s ' ')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$sharing" "$side" "$layout" "$size" "$q" "$secs" \
        $((b1 - b0)) "$bmpps" "$bgbps" $((a1 - a0)) "$ampps" "$match" "$cpu" "$nspf" "$refused" "$note" >> "$RESULTS"
    log "  $side: B rx $bmpps Mpps ($bgbps Gbit/s), A tx $ampps Mpps ($match; A's ring refused $refused % of its tries), middle CPU $cpu % = $nspf ns/frame"
}

# --- run -------------------------------------------------------------------------------------------------------------
log "output in $OUT"
wait_idle "$WAIT_IDLE"
load_snapshot "start"
if [ "$BUILD" = 1 ] && [ "$ONLY" != dpdk ]; then
    log "building samples/VhostUserNet (Release)"
    dotnet build "$DAEMON_PROJECT" -c Release > "$OUT/build.log" 2>&1 || die "build failed (see $OUT/build.log)"
fi
[ "$ONLY" = dpdk ] || [ -x "$DAEMON" ] || die "$DAEMON is missing (build it, or drop --no-build)"
{
    echo "command: $0 $ARGS"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S') UTC"
    echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2> /dev/null || echo unknown)"
    echo "seconds $SECS warmup $WARMUP reps $REPS sizes '$SIZES' queues '$QUEUES' layouts '$LAYOUTS' sharing '$SHARINGS' ring $RING burst $BURST"
    echo "daemon args: $DAEMON_ARGS"
    echo "testpmd: $(dpkg-query -W -f '${Package} ${Version}' dpdk 2> /dev/null || echo unknown)"
    echo "dotnet: $(dotnet --version 2> /dev/null)"
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread)' || true
} > "$OUT/setup.txt"

for rep in $(seq "$REPS"); do
    if [ $((rep % 2)) = 1 ]; then order=$SIDES; else order=$(echo "$SIDES" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'); fi
    for sharing in $SHARINGS; do
        for layout in $LAYOUTS; do
            for size in $SIZES; do
                for q in $QUEUES; do
                    for side in $order; do
                        run_case "$rep" "$sharing" "$side" "$layout" "$size" "$q"
                    done
                    load_snapshot "after rep $rep $sharing $layout $size B x$q"
                done
            done
        done
    done
done
load_snapshot "end"

# --- table: median of the repetitions, spread = min–max ---------------------------------------------------------------
summary() {         # sharing side layout size q → "median min max a_median matches/reps cpu%_median"
    awk -F'\t' -v s="$1" -v w="$2" -v l="$3" -v z="$4" -v q="$5" '
        NR > 1 && $2 == s && $3 == w && $4 == l && $5 == z && $6 == q { n++; v[n] = $9; a[n] = $12; u[n] = $14; if ($13 == "match") m++ }
        function median(x, k,   i, j, t) { for (i = 2; i <= k; i++) { t = x[i]; for (j = i - 1; j > 0 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
                                          return k % 2 ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2 }
        END { if (n == 0) { print "- - - - - -"; exit }
              for (i = 1; i <= n; i++) c[i] = v[i]; med = median(c, n); lo = c[1]; hi = c[n]
              for (i = 1; i <= n; i++) c[i] = a[i]; amed = median(c, n)
              for (i = 1; i <= n; i++) c[i] = u[i]; umed = median(c, n)
              printf "%.3f %.3f %.3f %.3f %d/%d %.0f\n", med, lo, hi, amed, m, n, umed }' "$RESULTS"
}
{
    for sharing in $SHARINGS; do
        echo
        echo "sharing: $sharing; B's receive rate, median of $REPS (spread: min–max); A: A's transmit rate (median; how many"
        echo "repetitions matched B); CPU: the middle's CPU time in the window (median, % of one core)"
        echo
        echo "| layout | frame | queues | ours Mpps | spread | A | CPU | DPDK Mpps | spread | A | CPU | ours/DPDK |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for layout in $LAYOUTS; do
            for size in $SIZES; do
                for q in $QUEUES; do
                    read -r om olo ohi oa omatch ocpu <<< "$(summary "$sharing" ours "$layout" "$size" "$q")"
                    read -r dm dlo dhi da dmatch dcpu <<< "$(summary "$sharing" dpdk "$layout" "$size" "$q")"
                    ratio=$(awk -v a="$om" -v b="$dm" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }')
                    echo "| $layout | $size | $q | $om | $olo–$ohi | $oa ($omatch) | $ocpu % | $dm | $dlo–$dhi | $da ($dmatch) | $dcpu % | $ratio |"
                done
            done
        done
    done
} | tee "$OUT/table.md"
log "table: $OUT/table.md; raw: $RESULTS; load: $OUT/load.txt; setup: $OUT/setup.txt"
