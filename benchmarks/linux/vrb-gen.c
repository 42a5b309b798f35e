// vrb-gen: a bounded frame generator for the issue-6 receive benchmarks (benchmarks/linux/tap-vs-dpdk.sh).
//
// Sends Ethernet frames into a network interface from the kernel side — through an AF_PACKET socket
// (sendmmsg, PACKET_QDISC_BYPASS), or 64 KiB UDP GSO super-frames through the IP stack — so that a TAP's
// reader (DPDK's net_tap or our TapBackend) receives them.
// Run it only inside a network namespace the benchmark created: it refuses to start otherwise
// (VRB_NETNS must name the namespace it runs in).
//
//   vrb-gen IFACE SIZE SECONDS DSTMAC [FLOWS]
//
//   SIZE    frame length from the Ethernet header on: 60..1514 sends IPv4/UDP frames through AF_PACKET;
//           65536 sends 65535-byte IPv4/UDP GSO super-frames (UDP_SEGMENT, gso_size 1472, 45 segments) from UDP
//           sockets to 10.199.0.2:5201 through the IP stack (the caller adds a permanent neighbour entry for
//           10.199.0.2 → DSTMAC on IFACE): the kernel hands them whole to a TAP whose reader accepts USO4
//           (TUNSETOFFLOAD TUN_F_USO4) and segments them for one that does not. Why not TCP: a packet socket's
//           GSO frames are SKB_GSO_DODGY and a TAP (no tx-gso-robust) always segments those, and a TCP socket
//           needs a peer that acknowledges.
//   SECONDS the longest run (1..3600); it also stops on SIGINT/SIGTERM or when IFACE goes away.
//   DSTMAC  destination MAC (the receiving guest's, so its receive filter accepts the frames).
//   FLOWS   distinct UDP/TCP source ports, 1..256 (default 64), so a multi-queue TAP spreads them.
//
// Prints one line at the end: frames and bytes handed to the kernel, seconds, Mpps, Gbit/s.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/udp.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS 256
#define TSO_SIZE 65536
#define USO_SIZE 1472
// 65535-byte frames: the kernel segments any GSO skb of 65536 bytes or more before a device
// (gso_features_check: skb->len >= gso_max_size, 65536 by default), however capable the device.
#define USO_FRAME (TSO_SIZE - 1)
#define USO_PAYLOAD (USO_FRAME - 14 - 20 - 8)
#define USO_SOCKETS 16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)((p[i] << 8) | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255)
            return -1;
        mac[i] = (uint8_t)v[i];
    }
    return 0;
}

// The namespace guard: VRB_NETNS must be set and /run/netns/$VRB_NETNS must be this process's namespace.
static int in_benchmark_namespace(void)
{
    const char *name = getenv("VRB_NETNS");
    if (name == NULL || strncmp(name, "vrb-", 4) != 0 || strchr(name, '/') != NULL)
        return 0;
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    struct stat mine, theirs;
    if (stat("/proc/self/ns/net", &mine) != 0 || stat(path, &theirs) != 0)
        return 0;
    return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

// Writes one IPv4/UDP frame for flow f; returns its length.
static size_t build(uint8_t *buf, size_t size, const uint8_t dst[6], int f)
{
    uint8_t *eth = buf;

    memset(eth, 0, size);
    for (size_t i = 54; i < size; i++)
        eth[i] = (uint8_t)(i * 7 + f);
    memcpy(eth, dst, 6);
    const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
    memcpy(eth + 6, src, 6);
    eth[12] = 0x08;
    eth[13] = 0x00;

    uint8_t *ip = eth + 14;
    size_t ip_len = size - 14 > 65535 ? 65535 : size - 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(ip_len >> 8);
    ip[3] = (uint8_t)ip_len;
    ip[6] = 0x40;   // DF
    ip[8] = 64;
    ip[9] = 17;
    const uint8_t saddr[4] = { 10, 199, 1, (uint8_t)f };
    const uint8_t daddr[4] = { 10, 199, 0, 2 };
    memcpy(ip + 12, saddr, 4);
    memcpy(ip + 16, daddr, 4);
    uint16_t c = (uint16_t)~fold(sum16(ip, 20, 0));
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;

    uint8_t *l4 = ip + 20;
    uint16_t sport = (uint16_t)(10000 + f);
    l4[0] = (uint8_t)(sport >> 8);
    l4[1] = (uint8_t)sport;
    l4[2] = 5201 >> 8;
    l4[3] = 5201 & 0xff;
    size_t l4_len = ip_len - 20;
    l4[4] = (uint8_t)(l4_len >> 8);
    l4[5] = (uint8_t)l4_len;      // UDP checksum 0: none
    return size;
}

// AF_PACKET socket bound to the interface, sending the prepared frames.
static int open_packet_socket(unsigned ifindex)
{
    // Protocol 0: the socket sends only, it never receives a copy of the traffic.
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) {
        fprintf(stderr, "vrb-gen: socket(AF_PACKET): %s\n", strerror(errno));
        return -1;
    }

    // Skip the qdisc, as DPDK's af_packet does by default.
    int one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0)
        fprintf(stderr, "vrb-gen: PACKET_QDISC_BYPASS: %s (going through the qdisc)\n", strerror(errno));
    int sndbuf = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);

    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
        fprintf(stderr, "vrb-gen: bind: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

// UDP socket (source port 10000 + f) connected to 10.199.0.2:5201 through IFACE, with UDP_SEGMENT.
static int open_uso_socket(const char *iface, int f)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        fprintf(stderr, "vrb-gen: socket(AF_INET): %s\n", strerror(errno));
        return -1;
    }

    int gso = USO_SIZE, sndbuf = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface, (socklen_t)strlen(iface)) != 0 ||
        setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &gso, sizeof gso) != 0) {
        fprintf(stderr, "vrb-gen: SO_BINDTODEVICE/UDP_SEGMENT: %s\n", strerror(errno));
        close(fd);
        return -1;
    }

    struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(10000 + f)) };
    struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(5201) };
    inet_pton(AF_INET, "10.199.0.2", &peer.sin_addr);
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0 || connect(fd, (struct sockaddr *)&peer, sizeof peer) != 0) {
        fprintf(stderr, "vrb-gen: bind/connect 10.199.0.2:5201: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: vrb-gen IFACE SIZE SECONDS DSTMAC [FLOWS]\n");
        return 2;
    }

    const char *iface = argv[1];
    long size = strtol(argv[2], NULL, 10);
    long seconds = strtol(argv[3], NULL, 10);
    uint8_t dst[6];
    long flows = argc == 6 ? strtol(argv[5], NULL, 10) : 64;
    int uso = size == TSO_SIZE;
    if ((!uso && (size < 60 || size > 1514)) || seconds < 1 || seconds > 3600 || parse_mac(argv[4], dst) != 0 ||
        flows < 1 || flows > MAX_FLOWS) {
        fprintf(stderr, "vrb-gen: bad argument (SIZE 60..1514 or 65536, SECONDS 1..3600, DSTMAC aa:bb:cc:dd:ee:ff, FLOWS 1..256)\n");
        return 2;
    }

    if (!in_benchmark_namespace()) {
        fprintf(stderr, "vrb-gen: refusing to run: not inside the benchmark's namespace (VRB_NETNS=vrb-... and /run/netns/$VRB_NETNS must be this process's)\n");
        return 3;
    }

    unsigned ifindex = if_nametoindex(iface);
    if (ifindex == 0) {
        fprintf(stderr, "vrb-gen: interface %s: %s\n", iface, strerror(errno));
        return 1;
    }

    // Plain frames: one AF_PACKET socket, one prepared frame per flow, a batch cycles through the flows.
    // USO: one UDP socket per flow (at most USO_SOCKETS), each send one 64 KiB super-datagram.
    int nsock = uso ? (flows < USO_SOCKETS ? (int)flows : USO_SOCKETS) : 1;
    int socks[USO_SOCKETS];
    for (int i = 0; i < nsock; i++) {
        socks[i] = uso ? open_uso_socket(iface, i) : open_packet_socket(ifindex);
        if (socks[i] < 0)
            return 1;
    }

    size_t stride = uso ? USO_PAYLOAD : (size_t)size;
    int nframes = uso ? 1 : (int)flows;
    uint8_t *frames = calloc((size_t)nframes, stride);
    if (frames == NULL) {
        fprintf(stderr, "vrb-gen: out of memory\n");
        return 1;
    }
    if (uso) {
        for (size_t i = 0; i < stride; i++)
            frames[i] = (uint8_t)(i * 7);
    } else {
        for (int f = 0; f < nframes; f++)
            build(frames + (size_t)f * stride, (size_t)size, dst, f);
    }

    enum { BATCH = 32 };
    int batch = uso ? 4 : BATCH;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    unsigned long long frames_sent = 0, bytes_sent = 0, send_errors = 0;
    const char *why = "time limit";
    double start = now_seconds(), deadline = start + (double)seconds;
    int next = 0, sock = 0;
    for (unsigned long long round = 0; !stop_requested; round++) {
        if ((round & 63) == 0 && now_seconds() >= deadline)
            break;

        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < batch; i++) {
            int f = (next + i) % nframes;
            iov[i].iov_base = frames + (size_t)f * stride;
            iov[i].iov_len = stride;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }

        int n = sendmmsg(socks[sock], msgs, (unsigned)batch, 0);
        sock = (sock + 1) % nsock;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS || errno == EAGAIN) {
                // The interface's queue is full (with PACKET_QDISC_BYPASS: the TAP's ring): its reader is behind.
                send_errors++;
                sched_yield();
                continue;
            }
            if (errno == ENXIO || errno == ENODEV || errno == ENETDOWN) {
                why = "interface gone or down";
                break;
            }
            fprintf(stderr, "vrb-gen: sendmmsg: %s\n", strerror(errno));
            why = "send error";
            break;
        }

        frames_sent += (unsigned long long)n;
        bytes_sent += (unsigned long long)n * (uso ? (unsigned long long)USO_FRAME : (unsigned long long)size);
        next = (next + n) % nframes;
    }

    if (stop_requested)
        why = "signal";
    double elapsed = now_seconds() - start;
    printf("vrb-gen: %s size %ld%s: sent %llu frames, %llu bytes in %.3f s (%.3f Mpps, %.2f Gbit/s), %llu ENOBUFS, stopped by %s\n",
           iface, size, uso ? " (UDP GSO super-frames)" : "", frames_sent, bytes_sent, elapsed, frames_sent / elapsed / 1e6,
           bytes_sent * 8.0 / elapsed / 1e9, send_errors, why);
    for (int i = 0; i < nsock; i++)
        close(socks[i]);
    return 0;
}
