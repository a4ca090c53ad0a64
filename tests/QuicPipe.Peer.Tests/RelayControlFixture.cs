using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Protocol;
using QuicPipe.Quic;
using QuicPipe.Relay;
using QuicPipe.Relay.Control;

namespace QuicPipe.Peer.Tests;

/// <summary>
/// A relay's control plane on loopback: a CID table, its registry, the control service on its own QUIC endpoint;
/// and peers (each an identity with its own client endpoint) that connect to it with <see cref="RelayControlClient"/>.
/// </summary>
internal sealed class RelayControlFixture : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly Task _service;

    public RelayControlFixture(RegistryOptions? registry = null, RelayControlOptions? control = null, string alpn = RelayProtocol.Alpn, PeerAllowList? allowList = null)
    {
        Table = new CidTable(4096);
        Registry = new CidRegistry(Table, registry ?? new RegistryOptions());
        Service = new RelayControlService(Registry, control ?? new RelayControlOptions { RouteUseInterval = TimeSpan.FromMilliseconds(20), SweepInterval = TimeSpan.FromMilliseconds(100) }, logger: null, allowList);
        Endpoint = QuicEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), new QuicEndpointOptions
        {
            Identity = Identity,
            AcceptIncoming = true,
            AllowAnyClient = true,
            ServerAlpn = alpn,
        });
        _service = Service.RunAsync(Endpoint, _stop.Token);
    }

    public static TimeSpan Limit { get; } = TimeSpan.FromSeconds(10);

    public NodeIdentity Identity { get; } = NodeIdentity.Generate();

    public CidTable Table { get; }

    public CidRegistry Registry { get; }

    public RelayControlService Service { get; }

    public QuicEndpoint Endpoint { get; }

    public IPEndPoint Address => Endpoint.LocalEndPoint;

    /// <summary>A client endpoint on loopback (127.0.0.1, or <paramref name="address"/>) for <paramref name="identity"/>, disposed with the fixture.</summary>
    public QuicEndpoint NewEndpoint(NodeIdentity identity, IPAddress? address = null)
    {
        var endpoint = QuicEndpoint.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0), new QuicEndpointOptions { Identity = identity });
        _owned.Add(endpoint);
        return endpoint;
    }

    /// <summary>Connects <paramref name="identity"/> (a new one if null) to the relay from a new endpoint.</summary>
    public async Task<(RelayControlClient Client, QuicEndpoint Endpoint)> ConnectAsync(NodeIdentity? identity = null, QuicEndpoint? endpoint = null)
    {
        endpoint ??= NewEndpoint(identity ?? NodeIdentity.Generate());
        using var timeout = new CancellationTokenSource(Limit);
        var client = await RelayControlClient.ConnectAsync(endpoint, Address, Identity.NodeId, timeout.Token);
        _owned.Insert(0, client);
        return (client, endpoint);
    }

    /// <summary>Stops the service (it closes every control connection) and waits for it.</summary>
    public async Task StopServiceAsync()
    {
        await _stop.CancelAsync();
        await _service.WaitAsync(Limit);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        await StopServiceAsync();
        await Endpoint.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>Whether the table routes <paramref name="cid"/> to <paramref name="address"/> now.</summary>
    public bool Routes(ConnectionId cid, IPEndPoint address) =>
        Table.TryGet(cid, out var route) && route.Endpoint.Equals(PeerAddress.FromEndPoint(address));

    public static CancellationToken Timeout() => new CancellationTokenSource(Limit).Token;

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after <see cref="Limit"/>.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not true after {Limit}.");
            }

            await Task.Delay(20);
        }
    }
}
