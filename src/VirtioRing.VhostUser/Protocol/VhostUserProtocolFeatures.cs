using System;

namespace VirtioRing.VhostUser.Protocol;

/// <summary>Protocol feature bits (<c>VHOST_USER_PROTOCOL_F_*</c>, vhost-user "Protocol features").</summary>
[Flags]
public enum VhostUserProtocolFeatures : ulong
{
    /// <summary>No protocol feature.</summary>
    None = 0,

    /// <summary><c>MQ</c> (0): <c>GET_QUEUE_NUM</c>, several queue pairs.</summary>
    Mq = 1UL << 0,

    /// <summary><c>LOG_SHMFD</c> (1): the dirty log is shared memory passed with <c>SET_LOG_BASE</c>.</summary>
    LogShmfd = 1UL << 1,

    /// <summary><c>RARP</c> (2): <c>SEND_RARP</c>.</summary>
    Rarp = 1UL << 2,

    /// <summary><c>REPLY_ACK</c> (3): <c>NEED_REPLY</c> is honoured on every request.</summary>
    ReplyAck = 1UL << 3,

    /// <summary><c>MTU</c> (4): <c>NET_SET_MTU</c>.</summary>
    Mtu = 1UL << 4,

    /// <summary><c>BACKEND_REQ</c> (5, formerly <c>SLAVE_REQ</c>): a back-end-to-front-end channel.</summary>
    BackendReq = 1UL << 5,

    /// <summary><c>CROSS_ENDIAN</c> (6).</summary>
    CrossEndian = 1UL << 6,

    /// <summary><c>CRYPTO_SESSION</c> (7).</summary>
    CryptoSession = 1UL << 7,

    /// <summary><c>PAGEFAULT</c> (8): postcopy.</summary>
    Pagefault = 1UL << 8,

    /// <summary><c>CONFIG</c> (9): <c>GET_CONFIG</c>/<c>SET_CONFIG</c>.</summary>
    Config = 1UL << 9,

    /// <summary><c>BACKEND_SEND_FD</c> (10).</summary>
    BackendSendFd = 1UL << 10,

    /// <summary><c>HOST_NOTIFIER</c> (11).</summary>
    HostNotifier = 1UL << 11,

    /// <summary><c>INFLIGHT_SHMFD</c> (12).</summary>
    InflightShmfd = 1UL << 12,

    /// <summary><c>RESET_DEVICE</c> (13).</summary>
    ResetDevice = 1UL << 13,

    /// <summary><c>INBAND_NOTIFICATIONS</c> (14).</summary>
    InbandNotifications = 1UL << 14,

    /// <summary><c>CONFIGURE_MEM_SLOTS</c> (15): <c>GET_MAX_MEM_SLOTS</c>, <c>ADD_MEM_REG</c>, <c>REM_MEM_REG</c>.</summary>
    ConfigureMemSlots = 1UL << 15,

    /// <summary><c>STATUS</c> (16): <c>SET_STATUS</c>/<c>GET_STATUS</c>.</summary>
    Status = 1UL << 16,
}
