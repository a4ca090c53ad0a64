using Xunit;

namespace QuicPipe.Lab;

/// <summary>A fact that needs root (loading BPF programs, network namespaces); skipped, with the reason, otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Root.IsRoot)
        {
            Skip = Root.SkipReason;
        }
    }
}

/// <summary>A theory that needs root.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!Root.IsRoot)
        {
            Skip = Root.SkipReason;
        }
    }
}

/// <summary>Whether this process runs as root, which the root-only facts and fixtures need.</summary>
public static class Root
{
    public const string SkipReason = "needs root: loads BPF programs and creates network namespaces (CI runs as root)";

    public static bool IsRoot => Environment.UserName == "root";
}
