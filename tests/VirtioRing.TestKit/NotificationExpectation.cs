namespace VirtioRing.TestKit;

/// <summary>What the model expects of a notification decision.</summary>
/// <param name="Expected">The required answer, or <see langword="null"/> when either is acceptable.</param>
/// <param name="Violation">Set when the ring state itself already breaks the rules (the other side wrote a wrong suppression value).</param>
/// <param name="Explanation">The inputs the expectation came from, for failure messages.</param>
public readonly record struct NotificationExpectation(bool? Expected, string? Violation, string Explanation);
