// vrb-tapfloor: the kernel's floor for a TAP user, for the issue-6 benchmarks (benchmarks/linux/tap-vs-dpdk.sh).
//
// A plain C loop that does nothing but the system calls any user-space TAP driver must make — one writev (transmit)
// or one readv (receive) per frame with the virtio-net header in front (IFF_VNET_HDR), non-blocking, busy-polling —
// so the table can show how much of a TAP backend's time is the kernel's and how much is the backend's own.
// Run it only inside a network namespace the benchmark created (VRB_NETNS, checked as in vrb-gen).
//
//   vrb-tapfloor tx|rx IFACE SIZE SECONDS QUEUES CPU0 [CPU1]
//
//   tx   creates the TAP (multi-queue when QUEUES is 2), waits 1 s (the caller brings it up and gives it an
//        address), then writes frames for SECONDS on every queue, one thread per queue pinned to CPU0/CPU1.
//        64..1514: IPv4/UDP to 02:00:00:00:00:00 (the kernel drops them after the TAP, as testpmd's txonly), one
//        flow per thread (source port 9 + thread);
//        65536: an IPv4/TCP super-frame with NEEDS_CSUM + GSO_TCPV4 (gso_size 1448), as our guest sends.
//   rx   creates the TAP with TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6 (super-frames arrive whole), waits 1 s, then
//        one thread pinned to CPU0 reads every queue in turn for SECONDS (vrb-gen is the source).
//
// Prints: frames, bytes and the rate over the window, measured by the loop itself.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef TUN_F_USO4   // Linux 6.2; older linux-libc-dev headers lack them
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

#define MAX_QUEUES 2
#define HDR 12   // struct virtio_net_hdr_mrg_rxbuf (VERSION_1 layout), as our guest negotiates

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static int open_queue(const char *iface, int multi, int offload)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi ? IFF_MULTI_QUEUE : 0);
    strncpy(ifr.ifr_name, iface, IFNAMSIZ - 1);
    int hdr = HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) != 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) != 0 ||
        (offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6) != 0)) {
        fprintf(stderr, "vrb-tapfloor: %s: %s\n", iface, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct worker {
    uint8_t *frame;
    int fds[MAX_QUEUES];
    int nfds;
    int cpu;
    int tx;
    size_t size;
    double seconds;
    unsigned long long frames, bytes, again;
    double elapsed;
};

static uint8_t header[HDR];
static uint8_t *frame;   // the template; each transmit thread sends its own copy with UDP/TCP source port 9 + thread (one flow per queue)

static void *run(void *arg)
{
    struct worker *w = arg;
    pin(w->cpu);
    size_t cap = 65536 + HDR;
    uint8_t *buf = malloc(cap);
    struct iovec iov[2];
    double start = now_seconds(), deadline = start + w->seconds;
    unsigned long long n = 0;
    int q = 0;
    while (!stop_requested) {
        if ((n++ & 255) == 0 && now_seconds() >= deadline)
            break;
        ssize_t r;
        if (w->tx) {
            iov[0].iov_base = header;
            iov[0].iov_len = HDR;
            iov[1].iov_base = w->frame;
            iov[1].iov_len = w->size;
            r = writev(w->fds[0], iov, 2);
        } else {
            iov[0].iov_base = buf;
            iov[0].iov_len = cap;
            r = readv(w->fds[q], iov, 1);
            q = (q + 1) % w->nfds;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                w->again++;
                continue;
            }
            fprintf(stderr, "vrb-tapfloor: %s: %s\n", w->tx ? "writev" : "readv", strerror(errno));
            break;
        }
        w->frames++;
        w->bytes += (unsigned long long)r - HDR;
    }
    w->elapsed = now_seconds() - start;
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 7 || argc > 8 || (strcmp(argv[1], "tx") != 0 && strcmp(argv[1], "rx") != 0)) {
        fprintf(stderr, "usage: vrb-tapfloor tx|rx IFACE SIZE SECONDS QUEUES CPU0 [CPU1]\n");
        return 2;
    }
    int tx = strcmp(argv[1], "tx") == 0;
    const char *iface = argv[2];
    long size = strtol(argv[3], NULL, 10);
    long seconds = strtol(argv[4], NULL, 10);
    int queues = (int)strtol(argv[5], NULL, 10);
    int cpu0 = (int)strtol(argv[6], NULL, 10), cpu1 = argc == 8 ? (int)strtol(argv[7], NULL, 10) : cpu0;
    int tso = size == 65536;
    if ((!tso && (size < 60 || size > 1514)) || seconds < 1 || seconds > 600 || queues < 1 || queues > MAX_QUEUES) {
        fprintf(stderr, "vrb-tapfloor: bad argument\n");
        return 2;
    }
    if (!in_benchmark_namespace()) {
        fprintf(stderr, "vrb-tapfloor: refusing to run: not inside the benchmark's namespace (VRB_NETNS)\n");
        return 3;
    }

    int fds[MAX_QUEUES];
    for (int i = 0; i < queues; i++) {
        fds[i] = open_queue(iface, queues > 1, !tx);
        if (fds[i] < 0)
            return 1;
    }

    frame = calloc(1, (size_t)size);
    for (long i = 0; i < size; i++)
        frame[i] = (uint8_t)(i * 7);
    static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0 }, src[6] = { 0x52, 0x54, 0, 0, 0, 0x02 };
    memcpy(frame, dst, 6);
    memcpy(frame + 6, src, 6);
    frame[12] = 0x08;
    uint8_t *ip = frame + 14;
    size_t ip_len = (size_t)size - 14 > 65535 ? 65535 : (size_t)size - 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[2] = (uint8_t)(ip_len >> 8);
    ip[3] = (uint8_t)ip_len;
    ip[8] = 64;
    ip[9] = tso ? 6 : 17;
    uint8_t a[8] = { 198, 18, 0, 1, 198, 18, 0, 2 };
    memcpy(ip + 12, a, 8);
    if (tso) {
        struct virtio_net_hdr *vh = (struct virtio_net_hdr *)header;
        vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        vh->hdr_len = 54;
        vh->gso_size = 1448;
        vh->csum_start = 34;
        vh->csum_offset = 16;
        uint8_t *tcp = ip + 20;
        memset(tcp, 0, 20);
        tcp[12] = 0x50;
        tcp[13] = 0x18;
    } else {
        uint8_t *udp = ip + 20;
        memset(udp, 0, 8);
        udp[1] = 9;
        udp[3] = 9;
        udp[4] = (uint8_t)((ip_len - 20) >> 8);
        udp[5] = (uint8_t)(ip_len - 20);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("vrb-tapfloor: %s ready\n", iface);
    fflush(stdout);
    sleep(1);   // the caller brings the TAP up and gives it an address

    struct worker w[MAX_QUEUES];
    memset(w, 0, sizeof w);
    int nworkers = tx ? queues : 1;
    pthread_t th[MAX_QUEUES];
    for (int i = 0; i < nworkers; i++) {
        w[i].tx = tx;
        w[i].size = (size_t)size;
        w[i].seconds = (double)seconds;
        w[i].cpu = i == 0 ? cpu0 : cpu1;
        if (tx) {
            w[i].fds[0] = fds[i];
            w[i].nfds = 1;
            w[i].frame = malloc((size_t)size);
            memcpy(w[i].frame, frame, (size_t)size);
            w[i].frame[14 + 20 + 1] = (uint8_t)(9 + i);   // source port 9 + thread
        } else {
            memcpy(w[i].fds, fds, sizeof fds);
            w[i].nfds = queues;
        }
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    unsigned long long frames = 0, bytes = 0, again = 0;
    double elapsed = 0;
    for (int i = 0; i < nworkers; i++) {
        pthread_join(th[i], NULL);
        frames += w[i].frames;
        bytes += w[i].bytes;
        again += w[i].again;
        if (w[i].elapsed > elapsed)
            elapsed = w[i].elapsed;
    }
    printf("vrb-tapfloor: %s %s size %ld x%d: %llu frames, %llu bytes in %.3f s (%.3f Mpps, %.2f Gbit/s), %llu EAGAIN\n",
           argv[1], iface, size, queues, frames, bytes, elapsed, frames / elapsed / 1e6, bytes * 8.0 / elapsed / 1e9, again);
    return 0;
}
