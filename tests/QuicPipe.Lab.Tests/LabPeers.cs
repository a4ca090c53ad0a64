namespace QuicPipe.Lab.Tests;

/// <summary>
/// The three quicpipe processes of a NAT traversal, as a user runs them: <c>relay</c> in R, <c>accept</c> in B
/// (allowing A), <c>dial</c> in A (started by the test, when it wants). Their stderr shares one clock. Dispose kills
/// whatever still runs and removes the identity files.
/// </summary>
internal sealed class LabPeers : LabProcesses
{
    private readonly (string File, string Id) _dialerKey;
    private readonly (string File, string Id) _accepterKey;

    private LabPeers(NatLab lab)
        : base(lab, "quicpipe-lab-")
    {
        _dialerKey = Identity("a");
        _accepterKey = Identity("b");
    }

    public LabQuicpipe Accept { get; private set; } = null!;

    /// <summary>Started by <see cref="StartDial"/>.</summary>
    public LabQuicpipe? Dial { get; private set; }

    /// <summary>Starts the relay in R and the accepter in B, and waits until B is registered with the relay.</summary>
    public static LabPeers Start(NatLab lab)
    {
        var peers = new LabPeers(lab);
        try
        {
            peers.StartRelay();
            peers.Accept = peers.Run(
                LabHost.B, "accept", "--relay", RelayAddress, "--relay-id", peers.RelayKey.Id, "--key", peers._accepterKey.File, "--allow", peers._dialerKey.Id);
            peers.Expect(peers.Accept, l => l.StartsWith("accepting as", StringComparison.Ordinal), "accept did not register");
            return peers;
        }
        catch
        {
            peers.Dispose();
            throw;
        }
    }

    /// <summary>Starts <c>quicpipe dial</c> in A toward B, with <paramref name="extra"/> flags.</summary>
    public LabQuicpipe StartDial(params string[] extra)
    {
        Dial = Run(LabHost.A, ["dial", "--relay", RelayAddress, "--relay-id", RelayKey.Id, "--key", _dialerKey.File, .. extra, _accepterKey.Id]);
        return Dial;
    }

    protected override IEnumerable<(string Name, LabQuicpipe? Process)> Named() => [("relay", Relay), ("accept", Accept), ("dial", Dial)];
}
