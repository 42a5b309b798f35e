// vrb-gen: a bounded frame generator for the issue-6 receive benchmarks (benchmarks/linux/tap-vs-dpdk.sh).
//
// Sends Ethernet frames into a network interface from the kernel side through an AF_PACKET socket
// (sendmmsg; PACKET_QDISC_BYPASS for plain frames), so a TAP's reader (DPDK's net_tap or our TapBackend) receives them.
// Run it only inside a network namespace the benchmark created: it refuses to start otherwise
// (VRB_NETNS must name the namespace it runs in).
//
//   vrb-gen IFACE SIZE SECONDS DSTMAC [FLOWS]
//
//   SIZE    frame length from the Ethernet header on: 60..1514 sends IPv4/UDP frames; 65536 sends
//           IPv4/TCP GSO super-frames (PACKET_VNET_HDR, NEEDS_CSUM + GSO_TCPV4, gso_size 1448), which the
//           kernel passes to a TAP with TSO4 offload as they are and segments for a TAP without it.
//   SECONDS the longest run (1..3600); it also stops on SIGINT/SIGTERM or when IFACE goes away.
//   DSTMAC  destination MAC (the receiving guest's, so its receive filter accepts the frames).
//   FLOWS   distinct UDP/TCP source ports, 1..256 (default 64), so a multi-queue TAP spreads them.
//
// Prints one line at the end: frames and bytes handed to the kernel, seconds, Mpps, Gbit/s.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
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
#define MSS 1448

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

// Writes one frame (and, for TSO, its virtio-net header in front) for flow f; returns the bytes to send.
static size_t build(uint8_t *buf, size_t size, int tso, const uint8_t dst[6], int f)
{
    uint8_t *eth = buf;
    if (tso) {
        struct virtio_net_hdr *vh = (struct virtio_net_hdr *)buf;
        memset(vh, 0, sizeof *vh);
        vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        vh->hdr_len = 14 + 20 + 20;
        vh->gso_size = MSS;
        vh->csum_start = 14 + 20;
        vh->csum_offset = 16;
        eth = buf + sizeof *vh;
    }

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
    ip[9] = tso ? 6 : 17;
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
    if (tso) {
        l4[12] = 0x50;                    // data offset 5
        l4[13] = 0x18;                    // PSH ACK
        l4[14] = 0xff;
        l4[15] = 0xff;                    // window
        // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum (the kernel or the guest finishes it).
        uint32_t ps = sum16(saddr, 4, 0);
        ps = sum16(daddr, 4, ps);
        ps += 6 + (uint32_t)l4_len;
        uint16_t p = fold(ps);
        l4[16] = (uint8_t)(p >> 8);
        l4[17] = (uint8_t)p;
        return sizeof(struct virtio_net_hdr) + 14 + ip_len;
    }

    l4[4] = (uint8_t)(l4_len >> 8);
    l4[5] = (uint8_t)l4_len;      // UDP checksum 0: none
    return size;
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
    int tso = size == TSO_SIZE;
    if ((!tso && (size < 60 || size > 1514)) || seconds < 1 || seconds > 3600 || parse_mac(argv[4], dst) != 0 ||
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

    // Protocol 0: the socket sends only, it never receives a copy of the traffic.
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) {
        fprintf(stderr, "vrb-gen: socket(AF_PACKET): %s\n", strerror(errno));
        return 1;
    }

    // Plain frames skip the qdisc (as DPDK's af_packet does by default). GSO super-frames must go through
    // dev_queue_xmit: the direct path drops any skb that validate_xmit_skb changes (segmentation for a TAP
    // without TSO, __dev_direct_xmit: "skb != orig_skb").
    int one = 1;
    if (!tso && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0)
        fprintf(stderr, "vrb-gen: PACKET_QDISC_BYPASS: %s (going through the qdisc)\n", strerror(errno));
    if (tso && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
        fprintf(stderr, "vrb-gen: PACKET_VNET_HDR: %s\n", strerror(errno));
        return 1;
    }
    int sndbuf = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);

    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;
    sll.sll_ifindex = (int)ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
        fprintf(stderr, "vrb-gen: bind(%s): %s\n", iface, strerror(errno));
        return 1;
    }

    // One prepared frame per flow; a batch cycles through the flows.
    size_t stride = (size_t)size + sizeof(struct virtio_net_hdr);
    uint8_t *frames = calloc((size_t)flows, stride);
    size_t *lengths = calloc((size_t)flows, sizeof *lengths);
    if (frames == NULL || lengths == NULL) {
        fprintf(stderr, "vrb-gen: out of memory\n");
        return 1;
    }
    for (int f = 0; f < flows; f++)
        lengths[f] = build(frames + (size_t)f * stride, (size_t)size, tso, dst, f);

    enum { BATCH = 32 };
    int batch = tso ? 4 : BATCH;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    unsigned long long frames_sent = 0, bytes_sent = 0, send_errors = 0;
    const char *why = "time limit";
    double start = now_seconds(), deadline = start + (double)seconds, t = start;
    int next = 0;
    for (unsigned long long round = 0; !stop_requested; round++) {
        if ((round & 63) == 0) {
            t = now_seconds();
            if (t >= deadline)
                break;
        }

        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < batch; i++) {
            int f = (next + i) % (int)flows;
            iov[i].iov_base = frames + (size_t)f * stride;
            iov[i].iov_len = lengths[f];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }

        int n = sendmmsg(fd, msgs, (unsigned)batch, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS || errno == EAGAIN) {
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

        for (int i = 0; i < n; i++) {
            int f = (next + i) % (int)flows;
            bytes_sent += lengths[f] - (tso ? sizeof(struct virtio_net_hdr) : 0);
        }
        frames_sent += (unsigned long long)n;
        next = (next + n) % (int)flows;
    }

    if (stop_requested)
        why = "signal";
    double elapsed = now_seconds() - start;
    printf("vrb-gen: %s size %ld: sent %llu frames, %llu bytes in %.3f s (%.3f Mpps, %.2f Gbit/s), %llu ENOBUFS, stopped by %s\n",
           iface, size, frames_sent, bytes_sent, elapsed, frames_sent / elapsed / 1e6, bytes_sent * 8.0 / elapsed / 1e9,
           send_errors, why);
    close(fd);
    return 0;
}
