using QuicPipe.Dataplane.Diagnostics;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The loops whose death makes a command useless (the receive loops of its UDP listeners, its QUIC endpoints' engine
/// loops), gathered for <c>/healthz</c>. Servers are added as they start: the metrics endpoint is bound first, so a
/// taken port fails the command before anything else is set up, and it answers for whatever runs by then.
/// </summary>
internal sealed class LivenessChecks
{
    private readonly Lock _lock = new();
    private readonly List<QuicPipeServer> _servers = [];

    public void Add(QuicPipeServer server)
    {
        lock (_lock)
        {
            _servers.Add(server);
        }
    }

    /// <summary>The loops that died, one line each; empty while everything runs.</summary>
    public IReadOnlyList<string> DeadLoops() => [.. Dead().Select(l => l.ToString())];

    /// <summary>The loops that died; empty while everything runs (what <see cref="LoopWatcher"/> acts on).</summary>
    public IReadOnlyList<LoopLiveness> Dead()
    {
        lock (_lock)
        {
            return [.. _servers.SelectMany(Loops).Where(l => l.IsDead)];
        }
    }

    /// <summary>Every loop of <paramref name="server"/>'s listeners: the UDP receive loops and the QUIC endpoints on them.</summary>
    internal static IEnumerable<LoopLiveness> Loops(QuicPipeServer server)
    {
        foreach (var listener in server.Listeners)
        {
            if (listener.Features.Get<UdpTransport>() is { } udp)
            {
                foreach (var loop in udp.Liveness)
                {
                    yield return loop;
                }
            }

            if (listener.Features.Get<QuicListenerEndpoints>() is { } quic)
            {
                foreach (var endpoint in quic.Endpoints)
                {
                    yield return endpoint.Liveness;
                }
            }
        }
    }
}
