namespace System.Runtime.CompilerServices;

/// <summary>Lets init-only setters and records compile on netstandard2.0.</summary>
internal static class IsExternalInit
{
}
