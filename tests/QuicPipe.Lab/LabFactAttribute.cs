using Xunit;

namespace QuicPipe.Lab;

/// <summary>
/// A fact that is skipped, with the reason shown, where no NAT lab can be built: xunit 2 has no skip
/// from inside a running test, so the check runs here, at discovery.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LabFactAttribute : FactAttribute
{
    public LabFactAttribute()
    {
        if (NatLab.UnsupportedReason is { } reason)
        {
            Skip = reason;
        }
    }
}
