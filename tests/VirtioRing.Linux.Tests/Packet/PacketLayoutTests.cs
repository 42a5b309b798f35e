using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Linux.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>
/// The <c>AF_PACKET</c> layouts and constants the packet-socket backend uses — its own (<c>tpacket_req3</c>,
/// <c>tpacket_block_desc</c>, <c>tpacket3_hdr</c>, <c>sock_fprog</c>, the fanout and <c>TP_STATUS</c> values) and
/// Tmds.LibC's (<c>sockaddr_ll</c>, <c>packet_mreq</c>, <c>PACKET_*</c> options, <c>msghdr</c>, <c>iovec</c>) —
/// compiled with <c>cc</c> against <c>&lt;linux/if_packet.h&gt;</c> and compared.
/// </summary>
public sealed class PacketLayoutTests
{
    private const string Program = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <sys/socket.h>
        #include <sys/uio.h>
        #include <linux/if_packet.h>
        #include <linux/if_ether.h>
        #include <linux/filter.h>
        #include <linux/virtio_net.h>
        #define P(name, value) printf("%s=%lld\n", name, (long long)(value))
        #define S(t) P("sizeof(" #t ")", sizeof(t))
        #define O(t, f) P("offsetof(" #t ", " #f ")", offsetof(t, f))
        int main(void) {
            S(struct tpacket_req3);
            O(struct tpacket_req3, tp_block_size); O(struct tpacket_req3, tp_block_nr); O(struct tpacket_req3, tp_frame_size);
            O(struct tpacket_req3, tp_frame_nr); O(struct tpacket_req3, tp_retire_blk_tov); O(struct tpacket_req3, tp_sizeof_priv);
            O(struct tpacket_req3, tp_feature_req_word);
            S(struct tpacket_block_desc);
            O(struct tpacket_block_desc, version); O(struct tpacket_block_desc, offset_to_priv); O(struct tpacket_block_desc, hdr.bh1);
            S(struct tpacket_hdr_v1);
            O(struct tpacket_hdr_v1, block_status); O(struct tpacket_hdr_v1, num_pkts); O(struct tpacket_hdr_v1, offset_to_first_pkt);
            O(struct tpacket_hdr_v1, blk_len); O(struct tpacket_hdr_v1, seq_num); O(struct tpacket_hdr_v1, ts_first_pkt);
            O(struct tpacket_hdr_v1, ts_last_pkt);
            S(struct tpacket3_hdr);
            O(struct tpacket3_hdr, tp_next_offset); O(struct tpacket3_hdr, tp_sec); O(struct tpacket3_hdr, tp_nsec);
            O(struct tpacket3_hdr, tp_snaplen); O(struct tpacket3_hdr, tp_len); O(struct tpacket3_hdr, tp_status);
            O(struct tpacket3_hdr, tp_mac); O(struct tpacket3_hdr, tp_net); O(struct tpacket3_hdr, hv1.tp_rxhash);
            O(struct tpacket3_hdr, hv1.tp_vlan_tci); O(struct tpacket3_hdr, hv1.tp_vlan_tpid); O(struct tpacket3_hdr, tp_padding);
            P("TPACKET3_HDRLEN", TPACKET3_HDRLEN);
            S(struct sock_filter);
            O(struct sock_filter, code); O(struct sock_filter, jt); O(struct sock_filter, jf); O(struct sock_filter, k);
            S(struct sock_fprog);
            O(struct sock_fprog, len); O(struct sock_fprog, filter);
            S(struct sockaddr_ll);
            O(struct sockaddr_ll, sll_family); O(struct sockaddr_ll, sll_protocol); O(struct sockaddr_ll, sll_ifindex);
            O(struct sockaddr_ll, sll_hatype); O(struct sockaddr_ll, sll_pkttype); O(struct sockaddr_ll, sll_halen); O(struct sockaddr_ll, sll_addr);
            S(struct packet_mreq);
            O(struct packet_mreq, mr_ifindex); O(struct packet_mreq, mr_type); O(struct packet_mreq, mr_alen); O(struct packet_mreq, mr_address);
            S(struct msghdr); O(struct msghdr, msg_iov); O(struct msghdr, msg_iovlen);
            S(struct iovec); O(struct iovec, iov_len);
            S(struct virtio_net_hdr);
            P("ETH_P_ALL", ETH_P_ALL);
            P("TPACKET_V3", TPACKET_V3);
            P("TPACKET_ALIGNMENT", TPACKET_ALIGNMENT);
            P("TP_STATUS_KERNEL", TP_STATUS_KERNEL);
            P("TP_STATUS_USER", TP_STATUS_USER);
            P("TP_STATUS_CSUMNOTREADY", TP_STATUS_CSUMNOTREADY);
            P("TP_STATUS_VLAN_VALID", TP_STATUS_VLAN_VALID);
            P("TP_STATUS_VLAN_TPID_VALID", TP_STATUS_VLAN_TPID_VALID);
            P("PACKET_FANOUT_HASH", PACKET_FANOUT_HASH);
            P("PACKET_FANOUT_FLAG_UNIQUEID", PACKET_FANOUT_FLAG_UNIQUEID);
            P("PACKET_FANOUT_FLAG_DEFRAG", PACKET_FANOUT_FLAG_DEFRAG);
            P("BPF_RET|BPF_K", BPF_RET | BPF_K);
            P("SOL_PACKET", SOL_PACKET);
            P("PACKET_VERSION", PACKET_VERSION);
            P("PACKET_RX_RING", PACKET_RX_RING);
            P("PACKET_VNET_HDR", PACKET_VNET_HDR);
            P("PACKET_FANOUT", PACKET_FANOUT);
            P("PACKET_ADD_MEMBERSHIP", PACKET_ADD_MEMBERSHIP);
            P("PACKET_MR_PROMISC", PACKET_MR_PROMISC);
            P("PACKET_IGNORE_OUTGOING", PACKET_IGNORE_OUTGOING);
            P("PACKET_QDISC_BYPASS", PACKET_QDISC_BYPASS);
            P("PACKET_STATISTICS", PACKET_STATISTICS);
            P("SO_ATTACH_FILTER", SO_ATTACH_FILTER);
            P("SO_DETACH_FILTER", SO_DETACH_FILTER);
            P("SO_ERROR", SO_ERROR);
            P("AF_PACKET", AF_PACKET);
            P("SOCK_RAW", SOCK_RAW);
            P("MSG_DONTWAIT", MSG_DONTWAIT);
            return 0;
        }
        """;

    [CcFact]
    public unsafe void CHeaders_PacketLayoutsAndConstants_MatchTheManagedSide()
    {
        Assert.True(CCompiler.Path is not null, "CI is set but `cc` is not on PATH: install gcc and linux-libc-dev");
        Dictionary<string, long> c = CompileAndRun(Program);

        var managed = new Dictionary<string, long>
        {
            ["sizeof(struct tpacket_req3)"] = sizeof(tpacket_req3),
            ["offsetof(struct tpacket_req3, tp_block_size)"] = Off<tpacket_req3>(nameof(tpacket_req3.tp_block_size)),
            ["offsetof(struct tpacket_req3, tp_block_nr)"] = Off<tpacket_req3>(nameof(tpacket_req3.tp_block_nr)),
            ["offsetof(struct tpacket_req3, tp_frame_size)"] = Off<tpacket_req3>(nameof(tpacket_req3.tp_frame_size)),
            ["offsetof(struct tpacket_req3, tp_frame_nr)"] = Off<tpacket_req3>(nameof(tpacket_req3.tp_frame_nr)),
            ["offsetof(struct tpacket_req3, tp_retire_blk_tov)"] = Off<tpacket_req3>(nameof(tpacket_req3.tp_retire_blk_tov)),
            ["offsetof(struct tpacket_req3, tp_sizeof_priv)"] = Off<tpacket_req3>(nameof(tpacket_req3.tp_sizeof_priv)),
            ["offsetof(struct tpacket_req3, tp_feature_req_word)"] = Off<tpacket_req3>(nameof(tpacket_req3.tp_feature_req_word)),
            ["sizeof(struct tpacket_block_desc)"] = sizeof(tpacket_block_desc),
            ["offsetof(struct tpacket_block_desc, version)"] = Off<tpacket_block_desc>(nameof(tpacket_block_desc.version)),
            ["offsetof(struct tpacket_block_desc, offset_to_priv)"] = Off<tpacket_block_desc>(nameof(tpacket_block_desc.offset_to_priv)),
            ["offsetof(struct tpacket_block_desc, hdr.bh1)"] = Off<tpacket_block_desc>(nameof(tpacket_block_desc.bh1)),
            ["sizeof(struct tpacket_hdr_v1)"] = sizeof(tpacket_hdr_v1),
            ["offsetof(struct tpacket_hdr_v1, block_status)"] = Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.block_status)),
            ["offsetof(struct tpacket_hdr_v1, num_pkts)"] = Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.num_pkts)),
            ["offsetof(struct tpacket_hdr_v1, offset_to_first_pkt)"] = Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.offset_to_first_pkt)),
            ["offsetof(struct tpacket_hdr_v1, blk_len)"] = Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.blk_len)),
            ["offsetof(struct tpacket_hdr_v1, seq_num)"] = Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.seq_num)),
            ["offsetof(struct tpacket_hdr_v1, ts_first_pkt)"] = Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.ts_first_pkt_sec)),
            ["offsetof(struct tpacket_hdr_v1, ts_last_pkt)"] = Off<tpacket_hdr_v1>(nameof(tpacket_hdr_v1.ts_last_pkt_sec)),
            ["sizeof(struct tpacket3_hdr)"] = sizeof(tpacket3_hdr),
            ["offsetof(struct tpacket3_hdr, tp_next_offset)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_next_offset)),
            ["offsetof(struct tpacket3_hdr, tp_sec)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_sec)),
            ["offsetof(struct tpacket3_hdr, tp_nsec)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_nsec)),
            ["offsetof(struct tpacket3_hdr, tp_snaplen)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_snaplen)),
            ["offsetof(struct tpacket3_hdr, tp_len)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_len)),
            ["offsetof(struct tpacket3_hdr, tp_status)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_status)),
            ["offsetof(struct tpacket3_hdr, tp_mac)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_mac)),
            ["offsetof(struct tpacket3_hdr, tp_net)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_net)),
            ["offsetof(struct tpacket3_hdr, hv1.tp_rxhash)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_rxhash)),
            ["offsetof(struct tpacket3_hdr, hv1.tp_vlan_tci)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_vlan_tci)),
            ["offsetof(struct tpacket3_hdr, hv1.tp_vlan_tpid)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_vlan_tpid)),
            ["offsetof(struct tpacket3_hdr, tp_padding)"] = Off<tpacket3_hdr>(nameof(tpacket3_hdr.tp_padding)),
            ["TPACKET3_HDRLEN"] = ((sizeof(tpacket3_hdr) + PacketLibC.TPACKET_ALIGNMENT - 1) & ~(PacketLibC.TPACKET_ALIGNMENT - 1)) + sizeof(sockaddr_ll),
            ["sizeof(struct sock_filter)"] = sizeof(sock_filter),
            ["offsetof(struct sock_filter, code)"] = Off<sock_filter>(nameof(sock_filter.code)),
            ["offsetof(struct sock_filter, jt)"] = Off<sock_filter>(nameof(sock_filter.jt)),
            ["offsetof(struct sock_filter, jf)"] = Off<sock_filter>(nameof(sock_filter.jf)),
            ["offsetof(struct sock_filter, k)"] = Off<sock_filter>(nameof(sock_filter.k)),
            ["sizeof(struct sock_fprog)"] = sizeof(sock_fprog),
            ["offsetof(struct sock_fprog, len)"] = Off<sock_fprog>(nameof(sock_fprog.len)),
            ["offsetof(struct sock_fprog, filter)"] = Off<sock_fprog>(nameof(sock_fprog.filter)),
            ["sizeof(struct sockaddr_ll)"] = sizeof(sockaddr_ll),
            ["offsetof(struct sockaddr_ll, sll_family)"] = Auto<sockaddr_ll>("sll_family"),
            ["offsetof(struct sockaddr_ll, sll_protocol)"] = Auto<sockaddr_ll>("sll_protocol"),
            ["offsetof(struct sockaddr_ll, sll_ifindex)"] = Auto<sockaddr_ll>("sll_ifindex"),
            ["offsetof(struct sockaddr_ll, sll_hatype)"] = Auto<sockaddr_ll>("sll_hatype"),
            ["offsetof(struct sockaddr_ll, sll_pkttype)"] = Auto<sockaddr_ll>("sll_pkttype"),
            ["offsetof(struct sockaddr_ll, sll_halen)"] = Auto<sockaddr_ll>("sll_halen"),
            ["offsetof(struct sockaddr_ll, sll_addr)"] = Off<sockaddr_ll>("sll_addr"),
            ["sizeof(struct packet_mreq)"] = sizeof(packet_mreq),
            ["offsetof(struct packet_mreq, mr_ifindex)"] = Auto<packet_mreq>("mr_ifindex"),
            ["offsetof(struct packet_mreq, mr_type)"] = Auto<packet_mreq>("mr_type"),
            ["offsetof(struct packet_mreq, mr_alen)"] = Auto<packet_mreq>("mr_alen"),
            ["offsetof(struct packet_mreq, mr_address)"] = Off<packet_mreq>("mr_address"),
            ["sizeof(struct msghdr)"] = sizeof(msghdr),
            ["offsetof(struct msghdr, msg_iov)"] = Auto<msghdr>("msg_iov"),
            ["offsetof(struct msghdr, msg_iovlen)"] = Off<msghdr>("_msg_iovlen"),
            ["sizeof(struct iovec)"] = sizeof(iovec),
            ["offsetof(struct iovec, iov_len)"] = Auto<iovec>("iov_len"),
            ["sizeof(struct virtio_net_hdr)"] = PacketLibC.VirtioNetHdrSize,
            ["ETH_P_ALL"] = PacketLibC.ETH_P_ALL,
            ["TPACKET_V3"] = PacketLibC.TPACKET_V3,
            ["TPACKET_ALIGNMENT"] = PacketLibC.TPACKET_ALIGNMENT,
            ["TP_STATUS_KERNEL"] = PacketLibC.TP_STATUS_KERNEL,
            ["TP_STATUS_USER"] = PacketLibC.TP_STATUS_USER,
            ["TP_STATUS_CSUMNOTREADY"] = PacketLibC.TP_STATUS_CSUMNOTREADY,
            ["TP_STATUS_VLAN_VALID"] = PacketLibC.TP_STATUS_VLAN_VALID,
            ["TP_STATUS_VLAN_TPID_VALID"] = PacketLibC.TP_STATUS_VLAN_TPID_VALID,
            ["PACKET_FANOUT_HASH"] = PacketLibC.PACKET_FANOUT_HASH,
            ["PACKET_FANOUT_FLAG_UNIQUEID"] = PacketLibC.PACKET_FANOUT_FLAG_UNIQUEID,
            ["PACKET_FANOUT_FLAG_DEFRAG"] = PacketLibC.PACKET_FANOUT_FLAG_DEFRAG,
            ["BPF_RET|BPF_K"] = PacketLibC.BPF_RET_K,
            ["SOL_PACKET"] = LibC.SOL_PACKET,
            ["PACKET_VERSION"] = LibC.PACKET_VERSION,
            ["PACKET_RX_RING"] = LibC.PACKET_RX_RING,
            ["PACKET_VNET_HDR"] = LibC.PACKET_VNET_HDR,
            ["PACKET_FANOUT"] = LibC.PACKET_FANOUT,
            ["PACKET_ADD_MEMBERSHIP"] = LibC.PACKET_ADD_MEMBERSHIP,
            ["PACKET_MR_PROMISC"] = LibC.PACKET_MR_PROMISC,
            ["PACKET_IGNORE_OUTGOING"] = LibC.PACKET_IGNORE_OUTGOING,
            ["PACKET_QDISC_BYPASS"] = LibC.PACKET_QDISC_BYPASS,
            ["PACKET_STATISTICS"] = LibC.PACKET_STATISTICS,
            ["SO_ATTACH_FILTER"] = LibC.SO_ATTACH_FILTER,
            ["SO_DETACH_FILTER"] = LibC.SO_DETACH_FILTER,
            ["SO_ERROR"] = LibC.SO_ERROR,
            ["AF_PACKET"] = LibC.AF_PACKET,
            ["SOCK_RAW"] = LibC.SOCK_RAW,
            ["MSG_DONTWAIT"] = LibC.MSG_DONTWAIT,
        };

        Assert.Equal(managed.Count, c.Count);
        foreach ((string name, long value) in managed)
        {
            Assert.True(c.TryGetValue(name, out long expected), $"the C program did not print {name}");
            Assert.True(expected == value, $"{name}: C says {expected}, managed says {value}");
        }
    }

    private static long Off<T>(string field) => Marshal.OffsetOf<T>(field).ToInt64();

    /// <summary>Tmds.LibC declares many fields as auto-properties: their backing field carries the offset.</summary>
    private static long Auto<T>(string property) => Marshal.OffsetOf<T>($"<{property}>k__BackingField").ToInt64();

    private static Dictionary<string, long> CompileAndRun(string source)
    {
        string dir = Directory.CreateTempSubdirectory("virtioring-packet-layout-").FullName;
        try
        {
            string src = Path.Combine(dir, "layout.c");
            string exe = Path.Combine(dir, "layout");
            File.WriteAllText(src, source);
            Run(CCompiler.Path!, $"-std=c11 -Wall -Werror -o \"{exe}\" \"{src}\"", out _);
            Run(exe, string.Empty, out string output);
            var result = new Dictionary<string, long>();
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = line.LastIndexOf('=');
                result[line[..eq]] = long.Parse(line[(eq + 1)..], CultureInfo.InvariantCulture);
            }

            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Run(string file, string arguments, out string stdout)
    {
        using var p = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        System.Threading.Tasks.Task<string> err = p.StandardError.ReadToEndAsync();
        stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), $"{file} did not finish");
        Assert.True(p.ExitCode == 0, $"{file} {arguments} exited with {p.ExitCode}: {err.Result}");
    }
}
