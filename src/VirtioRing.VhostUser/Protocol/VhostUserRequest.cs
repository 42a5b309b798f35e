namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// The front-end's request codes (QEMU <c>docs/interop/vhost-user.rst</c>, "Front-end message types";
/// the number is the spec's <c>:id:</c>). A value not named here is unknown to this library.
/// </summary>
public enum VhostUserRequest : uint
{
    /// <summary>Not a request (0 is never sent).</summary>
    None = 0,

    /// <summary><c>VHOST_USER_GET_FEATURES</c> (1): reply u64, the device features plus bit 30.</summary>
    GetFeatures = 1,

    /// <summary><c>VHOST_USER_SET_FEATURES</c> (2): u64, the features the driver accepted.</summary>
    SetFeatures = 2,

    /// <summary><c>VHOST_USER_SET_OWNER</c> (3): no payload; the session starts.</summary>
    SetOwner = 3,

    /// <summary><c>VHOST_USER_RESET_OWNER</c> (4): no payload; deprecated, disables every ring.</summary>
    ResetOwner = 4,

    /// <summary><c>VHOST_USER_SET_MEM_TABLE</c> (5): a memory regions description, one fd per region.</summary>
    SetMemTable = 5,

    /// <summary><c>VHOST_USER_SET_LOG_BASE</c> (6): a log description and its fd (dirty logging).</summary>
    SetLogBase = 6,

    /// <summary><c>VHOST_USER_SET_LOG_FD</c> (7): an eventfd, no payload.</summary>
    SetLogFd = 7,

    /// <summary><c>VHOST_USER_SET_VRING_NUM</c> (8): vring state (index, queue size).</summary>
    SetVringNum = 8,

    /// <summary><c>VHOST_USER_SET_VRING_ADDR</c> (9): a vring address description (front-end virtual addresses).</summary>
    SetVringAddr = 9,

    /// <summary><c>VHOST_USER_SET_VRING_BASE</c> (10): vring state (index, next avail position).</summary>
    SetVringBase = 10,

    /// <summary><c>VHOST_USER_GET_VRING_BASE</c> (11): vring state; stops the ring and replies its position.</summary>
    GetVringBase = 11,

    /// <summary><c>VHOST_USER_SET_VRING_KICK</c> (12): u64 (index in bits 0–7, bit 8 = no fd), the kick eventfd.</summary>
    SetVringKick = 12,

    /// <summary><c>VHOST_USER_SET_VRING_CALL</c> (13): u64 (index, no-fd flag), the call eventfd.</summary>
    SetVringCall = 13,

    /// <summary><c>VHOST_USER_SET_VRING_ERR</c> (14): u64 (index, no-fd flag), the error eventfd.</summary>
    SetVringErr = 14,

    /// <summary><c>VHOST_USER_GET_PROTOCOL_FEATURES</c> (15): reply u64.</summary>
    GetProtocolFeatures = 15,

    /// <summary><c>VHOST_USER_SET_PROTOCOL_FEATURES</c> (16): u64.</summary>
    SetProtocolFeatures = 16,

    /// <summary><c>VHOST_USER_GET_QUEUE_NUM</c> (17): reply u64, the most queue pairs (with <c>MQ</c>).</summary>
    GetQueueNum = 17,

    /// <summary><c>VHOST_USER_SET_VRING_ENABLE</c> (18): vring state (index, 0 or 1).</summary>
    SetVringEnable = 18,

    /// <summary><c>VHOST_USER_SEND_RARP</c> (19): u64 whose first 6 bytes are the guest's MAC.</summary>
    SendRarp = 19,

    /// <summary><c>VHOST_USER_NET_SET_MTU</c> (20): u64.</summary>
    NetSetMtu = 20,

    /// <summary><c>VHOST_USER_SET_BACKEND_REQ_FD</c> (21, formerly <c>SET_SLAVE_REQ_FD</c>): a socket fd.</summary>
    SetBackendReqFd = 21,

    /// <summary><c>VHOST_USER_IOTLB_MSG</c> (22).</summary>
    IotlbMsg = 22,

    /// <summary><c>VHOST_USER_SET_VRING_ENDIAN</c> (23): vring state.</summary>
    SetVringEndian = 23,

    /// <summary><c>VHOST_USER_GET_CONFIG</c> (24): config space description; the reply carries the bytes.</summary>
    GetConfig = 24,

    /// <summary><c>VHOST_USER_SET_CONFIG</c> (25): config space description with the bytes to write.</summary>
    SetConfig = 25,

    /// <summary><c>VHOST_USER_CREATE_CRYPTO_SESSION</c> (26).</summary>
    CreateCryptoSession = 26,

    /// <summary><c>VHOST_USER_CLOSE_CRYPTO_SESSION</c> (27).</summary>
    CloseCryptoSession = 27,

    /// <summary><c>VHOST_USER_POSTCOPY_ADVISE</c> (28).</summary>
    PostcopyAdvise = 28,

    /// <summary><c>VHOST_USER_POSTCOPY_LISTEN</c> (29).</summary>
    PostcopyListen = 29,

    /// <summary><c>VHOST_USER_POSTCOPY_END</c> (30).</summary>
    PostcopyEnd = 30,

    /// <summary><c>VHOST_USER_GET_INFLIGHT_FD</c> (31): an inflight description.</summary>
    GetInflightFd = 31,

    /// <summary><c>VHOST_USER_SET_INFLIGHT_FD</c> (32): an inflight description and its fd.</summary>
    SetInflightFd = 32,

    /// <summary><c>VHOST_USER_GPU_SET_SOCKET</c> (33).</summary>
    GpuSetSocket = 33,

    /// <summary><c>VHOST_USER_RESET_DEVICE</c> (34): no payload.</summary>
    ResetDevice = 34,

    /// <summary><c>VHOST_USER_VRING_KICK</c> (35): vring state (in-band kick).</summary>
    VringKick = 35,

    /// <summary><c>VHOST_USER_GET_MAX_MEM_SLOTS</c> (36): reply u64.</summary>
    GetMaxMemSlots = 36,

    /// <summary><c>VHOST_USER_ADD_MEM_REG</c> (37): a single memory region description and its fd.</summary>
    AddMemReg = 37,

    /// <summary><c>VHOST_USER_REM_MEM_REG</c> (38): a single memory region description.</summary>
    RemMemReg = 38,

    /// <summary><c>VHOST_USER_SET_STATUS</c> (39): u64, the virtio device status byte.</summary>
    SetStatus = 39,

    /// <summary><c>VHOST_USER_GET_STATUS</c> (40): reply u64, the device status byte.</summary>
    GetStatus = 40,
}
