namespace System.Runtime.CompilerServices;

/// <summary>Polyfill: the compiler omits the <c>.locals init</c> flag (and so the zeroing of <c>stackalloc</c>) where applied.</summary>
[AttributeUsage(AttributeTargets.Module | AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface | AttributeTargets.Constructor | AttributeTargets.Method | AttributeTargets.Property | AttributeTargets.Event, Inherited = false)]
internal sealed class SkipLocalsInitAttribute : Attribute
{
}
