using System;

namespace VirtioRing.VhostUser.Backend;

/// <summary>How a session ended, and why.</summary>
/// <param name="End">The kind of end.</param>
/// <param name="Messages">The number of messages handled.</param>
/// <param name="Error">The protocol or transport error, if any.</param>
public sealed record VhostUserSessionResult(VhostUserSessionEnd End, long Messages, Exception? Error);
