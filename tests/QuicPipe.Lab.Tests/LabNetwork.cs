namespace QuicPipe.Lab.Tests;

/// <summary>Changes to a lab's network that the traversal tests make mid-connection.</summary>
internal static class LabNetwork
{
    /// <summary>
    /// Cuts the direct path between the two sites at natA: drops forwarded packets to and from natB's public address,
    /// while traffic to and from the relay still passes. natA's forward hook sees outbound packets before SNAT (source
    /// A, destination natB) and inbound ones after conntrack has undone the translation (source natB, destination A),
    /// so natB's address is on the matching side both ways. Priority -10 runs ahead of the lab's own forward chain. (Not "fwd": that is an nft keyword.)
    /// </summary>
    public static void CutDirectPathAtNatA(NatLab lab)
    {
        var natB = NatLab.AddressOf(LabHost.NatB).ToString();
        Nft(lab, "add", "table", "inet", "cut");
        Nft(lab, "add", "chain", "inet", "cut", "drop_natb", "{ type filter hook forward priority -10; }");
        Nft(lab, "add", "rule", "inet", "cut", "drop_natb", "ip", "daddr", natB, "drop");
        Nft(lab, "add", "rule", "inet", "cut", "drop_natb", "ip", "saddr", natB, "drop");
    }

    /// <summary>Undoes <see cref="CutDirectPathAtNatA"/>.</summary>
    public static void RestoreDirectPathAtNatA(NatLab lab) => Nft(lab, "delete", "table", "inet", "cut");

    private static void Nft(NatLab lab, params string[] args)
    {
        var result = lab.Exec(LabHost.NatA, ["nft", .. args]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"nft {string.Join(' ', args)} in natA exited with {result.ExitCode}: {result.StandardError.Trim()}");
        }
    }
}
