using Xunit;

namespace QuicPipe.Lab;

/// <summary>The theory twin of <see cref="LabFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LabTheoryAttribute : TheoryAttribute
{
    public LabTheoryAttribute()
    {
        if (NatLab.UnsupportedReason is { } reason)
        {
            Skip = reason;
        }
    }
}
