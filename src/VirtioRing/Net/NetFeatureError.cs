namespace VirtioRing.Net;

/// <summary>Why a set of net features was refused (see <see cref="NetFeatureCheck"/>).</summary>
public enum NetFeatureError
{
    /// <summary>The set is valid.</summary>
    None = 0,

    /// <summary>The driver accepted a feature the device did not offer (§2.2: the driver accepts a subset of the offered bits).</summary>
    NotOffered,

    /// <summary>A feature was accepted without the feature(s) it requires (§5.1.3.1, or a transport rule of §6).</summary>
    MissingDependency,

    /// <summary><c>VIRTIO_F_VERSION_1</c> was not accepted, and the check asked for the modern (non-legacy) interface (§6.1).</summary>
    Version1Required,
}
