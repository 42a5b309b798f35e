// netstandard2.0 lacks the nullable-analysis attributes; the compiler recognises these by name.
namespace System.Diagnostics.CodeAnalysis;

/// <summary>Marks a method that never returns (it always throws).</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
internal sealed class DoesNotReturnAttribute : Attribute
{
}

/// <summary>Says that an out parameter is not null when the method returns the given value.</summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
internal sealed class NotNullWhenAttribute(bool returnValue) : Attribute
{
    /// <summary>Gets the return value for which the parameter is not null.</summary>
    public bool ReturnValue { get; } = returnValue;
}

/// <summary>Says that an out parameter may be null when the method returns the given value.</summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
internal sealed class MaybeNullWhenAttribute(bool returnValue) : Attribute
{
    /// <summary>Gets the return value for which the parameter may be null.</summary>
    public bool ReturnValue { get; } = returnValue;
}
