#!/bin/bash
# run-guest.sh — boots one Linux guest under QEMU (TCG) whose own virtio-net driver talks vhost-user
# to a socket, runs a script in it, and exits with the script's status.
#
#   run-guest.sh --image DIR --socket PATH --script FILE [--queues N] [--packed on|off] [--mrg on|off]
#                [--mac MAC] [--mem MB] [--timeout S] [--server] [--log FILE] [--qmp PATH]
#
# --image    what build-image.sh wrote            --socket   the backend's vhost-user socket
# --script   run as /vr/test.sh in the guest      --queues   queue pairs (mq=on when > 1; default 1)
# --packed   packed rings (default off)           --mrg      mergeable RX buffers (default on)
# --server   QEMU listens and the backend connects (the backend's client mode)
# --timeout  seconds before QEMU is ended (default 60); --log copies the serial console there.
# --qmp      a QMP socket QEMU listens on (the test drives a live migration through it).
# The guest has 2 vCPUs so that 2 queue pairs are used; vectors=0 (INTx): QEMU 7.2 under TCG
# crashes starting a vhost-user device with MSI-X. Memory is memfd-backed and shared, as vhost-user needs.
set -euo pipefail
image="" socket="" script="" queues=1 packed=off mrg=on mac=52:54:00:12:34:56 mem=256 timeout=60 server=0 log="" qmp=""
while [ $# -gt 0 ]; do
    case $1 in
        --image) image=$2; shift 2;; --socket) socket=$2; shift 2;; --script) script=$2; shift 2;;
        --queues) queues=$2; shift 2;; --packed) packed=$2; shift 2;; --mrg) mrg=$2; shift 2;;
        --mac) mac=$2; shift 2;; --mem) mem=$2; shift 2;; --timeout) timeout=$2; shift 2;;
        --server) server=1; shift;; --log) log=$2; shift 2;; --qmp) qmp=$2; shift 2;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
        *) echo "run-guest: unknown option $1" >&2; exit 2;;
    esac
done
[ -f "$image/base.cpio" ] && [ -f "$image/vmlinuz" ] || { echo "run-guest: no image in '$image' (build-image.sh)" >&2; exit 2; }
[ -n "$socket" ] && [ -f "$script" ] || { echo "run-guest: --socket and --script are required" >&2; exit 2; }

work=$(mktemp -d)
qemu_pid=""
[ -f "$work/console" ] || : > "$work/console"
cleanup() { [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/extra/vr"
cp "$script" "$work/extra/vr/test.sh"
(cd "$work/extra" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$work/extra.cpio"
cat "$image/base.cpio" "$work/extra.cpio" > "$work/initrd"

if [ $server = 1 ]; then chardev="socket,id=vu,path=$socket,server=on,wait=on"; rm -f "$socket"
else chardev="socket,id=vu,path=$socket"; for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done; fi
dev="virtio-net-pci,netdev=n0,mac=$mac,packed=$packed,mrg_rxbuf=$mrg,vectors=0,romfile="
[ "$queues" -gt 1 ] && dev="$dev,mq=on"
monitor=()
[ -n "$qmp" ] && monitor=(-qmp "unix:$qmp,server=on,wait=off")
qemu-system-x86_64 -accel tcg -machine q35,memory-backend=m0 -m "$mem" -smp 2 \
    -object "memory-backend-memfd,id=m0,size=${mem}M,share=on" \
    -nodefaults -no-user-config -no-reboot -display none -serial "file:$work/console" \
    -kernel "$image/vmlinuz" -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1" \
    -chardev "$chardev" -netdev "vhost-user,id=n0,chardev=vu,queues=$queues" -device "$dev" ${monitor[@]+"${monitor[@]}"} \
    < /dev/null > "$work/qemu.out" 2>&1 &
qemu_pid=$!
end=$((SECONDS + timeout))
while kill -0 "$qemu_pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
if kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid"; wait "$qemu_pid" 2>/dev/null || true
    echo "run-guest: timed out after ${timeout}s" >&2
fi
qemu_pid=""
[ -f "$work/console" ] || : > "$work/console"
[ -n "$log" ] && [ -f "$work/console" ] && cp "$work/console" "$log"
status=$(sed -n 's/.*VR-EXIT=\([0-9]*\).*/\1/p' "$work/console" | tail -n 1)
if [ -z "$status" ]; then
    echo "run-guest: the guest did not report VR-EXIT; console and QEMU output:" >&2
    tail -n 30 "$work/console" >&2 || true
    cat "$work/qemu.out" >&2
    exit 3
fi
exit "$status"
