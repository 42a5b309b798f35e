namespace VirtioRing.Net.Control;

/// <summary>The <c>ack</c> byte the device writes for a control command (virtio 1.2 §5.1.6.5).</summary>
public enum ControlAck : byte
{
    /// <summary><c>VIRTIO_NET_OK</c> (0): the command was applied.</summary>
    Ok = 0,

    /// <summary><c>VIRTIO_NET_ERR</c> (1): the command was refused and changed nothing.</summary>
    Err = 1,
}
