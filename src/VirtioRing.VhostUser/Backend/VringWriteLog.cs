using System.Diagnostics;
using VirtioRing.Queues;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// One started vring's <see cref="GuestWriteLog"/> while the front-end logs (<c>VHOST_F_LOG_ALL</c> and
/// a <c>SET_LOG_BASE</c> log): buffer and descriptor-ring writes are marked at their guest-physical
/// address; device-area (used ring) writes at <paramref name="deviceAreaLogAddress"/> plus their
/// offset, which is the ring's <c>log_guest_addr</c> when <c>SET_VRING_ADDR</c> set <c>VHOST_VRING_F_LOG</c>.
/// </summary>
[DebuggerDisplay("vring log, device area at 0x{_deviceArea,h}")]
internal sealed class VringWriteLog(VhostUserDirtyLog log, ulong deviceAreaLogAddress) : GuestWriteLog
{
    private readonly VhostUserDirtyLog _log = log;
    private readonly ulong _deviceArea = deviceAreaLogAddress;

    public VhostUserDirtyLog Log => _log;

    public ulong DeviceArea => _deviceArea;

    public override void LogWrite(ulong guestAddress, ulong length) => _log.Mark(guestAddress, length);

    public override void LogDeviceAreaWrite(ulong offset, ulong length)
    {
        // log_guest_addr comes from the front-end: an address past 2^64 is not logged rather than wrapped.
        if (offset <= ulong.MaxValue - _deviceArea)
        {
            _log.Mark(_deviceArea + offset, length);
        }
    }
}
