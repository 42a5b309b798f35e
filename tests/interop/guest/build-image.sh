#!/bin/bash
# build-image.sh OUTDIR — the boot image for VirtioRing's QEMU interop tests: a Debian kernel and an
# initramfs (busybox, ethtool, iperf3, the virtio-pci and virtio-net modules) whose /init runs the
# script a test appends as a second cpio archive and reports "VR-EXIT=<status>" on the serial console.
#
# Writes OUTDIR/vmlinuz, OUTDIR/base.cpio and OUTDIR/kver. Needs busybox-static, cpio and a
# Debian kernel package (tests/run installs qemu-system-x86 linux-image-cloud-amd64 busybox-static
# cpio ethtool iperf3 as root). Rebuilds only when the kernel or this script changed.
set -euo pipefail
out=${1:?usage: build-image.sh OUTDIR}
fail() { echo "build-image: $*" >&2; exit 1; }

kver=$(ls /lib/modules 2>/dev/null | while read -r k; do
    [ -r "/boot/vmlinuz-$k" ] && [ -f "/lib/modules/$k/modules.dep" ] && echo "$k"; done | grep -- '-cloud-amd64$' | sort -V | tail -n 1 || true)
[ -n "$kver" ] || kver=$(ls /lib/modules | while read -r k; do [ -r "/boot/vmlinuz-$k" ] && echo "$k"; done | sort -V | tail -n 1)
[ -n "$kver" ] || fail "no kernel in /boot with modules (install linux-image-cloud-amd64)"
stamp="$kver $(sha256sum "$0" | cut -c1-16)"
mkdir -p "$out"
if [ -f "$out/base.cpio" ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
    exit 0
fi

bb=$(command -v busybox) || fail "busybox missing (busybox-static)"
command -v cpio >/dev/null || fail "cpio missing"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/{bin,dev,proc,sys,tmp,root,lib/modules,etc}

with_libraries() {   # with_libraries HOSTPATH: the binary at /bin/NAME and its shared libraries at their paths
    cp -L "$1" "$tree/bin/$(basename "$1")"
    ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
        mkdir -p "$tree$(dirname "$lib")"
        [ -e "$tree$lib" ] || cp -L "$lib" "$tree$lib"
    done
}
cp -L "$bb" "$tree/bin/busybox"
for a in $("$bb" --list); do [ -e "$tree/bin/$a" ] || ln -s busybox "$tree/bin/$a"; done
for tool in ethtool iperf3; do
    p=$(command -v "$tool" || true)
    if [ -n "$p" ]; then rm -f "$tree/bin/$tool"; with_libraries "$p"; fi
done

# Modules with their dependencies, each after what it needs (modules.dep lists a module's needs).
dep=/lib/modules/$kver/modules.dep
declare -A placed=()
place() {   # place RELPATH
    [ -n "${placed[$1]:-}" ] && return 0
    placed[$1]=1
    local d
    for d in $(grep -m1 "^$1:" "$dep" | cut -d: -f2-); do place "$d"; done
    local f=/lib/modules/$kver/$1 name
    name=$(basename "$1"); name=${name%%.ko*}.ko
    case $1 in
        *.xz) xz -dc "$f" > "$tree/lib/modules/$name" ;;
        *.zst) zstd -qdc "$f" > "$tree/lib/modules/$name" ;;
        *.gz) gzip -dc "$f" > "$tree/lib/modules/$name" ;;
        *) cp "$f" "$tree/lib/modules/$name" ;;
    esac
    echo "$name" >> "$tree/lib/modules/order"
}
: > "$tree/lib/modules/order"
for m in virtio_pci virtio_net; do
    rel=$(grep -oE "^[^:]*/${m}\.ko[^:]*" "$dep" | head -n 1 || true)
    if [ -n "$rel" ]; then place "$rel"
    elif ! grep -q "/${m}\.ko" "/lib/modules/$kver/modules.builtin" 2>/dev/null; then fail "module $m not found for $kver"; fi
done

cat > "$tree/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null || echo "VR-WARN insmod $m"; done < /lib/modules/order
ip link set lo up
i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
rc=0
if [ -f /vr/test.sh ]; then sh /vr/test.sh; rc=$?; fi
echo "VR-EXIT=$rc"
poweroff -f
INIT
chmod 755 "$tree/init"
(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$out/base.cpio.tmp"
mv "$out/base.cpio.tmp" "$out/base.cpio"
cp "/boot/vmlinuz-$kver" "$out/vmlinuz"
echo "$kver" > "$out/kver"
echo "$stamp" > "$out/stamp"
echo "build-image: $out ($kver, $(du -h "$out/base.cpio" | cut -f1))"
