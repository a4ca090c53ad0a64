using Xunit;

namespace QuicPipe.Lab.Tests;

/// <summary>Builds a lab for one test body, and checks afterwards that not one of its namespaces is left.</summary>
internal static class LabRun
{
    public static void With(NatKind natA, NatKind natB, Action<NatLab> body)
    {
        string name;
        using (var lab = NatLab.Create(natA, natB))
        {
            name = lab.Name;
            body(lab);
        }

        AssertGone(name);
    }

    /// <inheritdoc cref="With"/>
    public static async Task WithAsync(NatKind natA, NatKind natB, Func<NatLab, Task> body)
    {
        string name;
        using (var lab = NatLab.Create(natA, natB))
        {
            name = lab.Name;
            await body(lab);
        }

        AssertGone(name);
    }

    public static void AssertGone(string name) =>
        Assert.DoesNotContain(NatLab.ListNamespaces(), ns => ns.StartsWith(name + "-", StringComparison.Ordinal));
}
