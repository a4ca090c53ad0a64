using Microsoft.Extensions.Logging;
using QuicPipe.Peer;
using QuicPipe.Protocol.Mesh;
using QuicPipe.Quic;

namespace QuicPipe.Mesh.Internal;

/// <summary>
/// Keeps a link to each of the node's neighbours (docs/circuits.md, "Links"): dials those whose NodeId sorts after
/// this node's (again after the retry interval when a dial fails or the link goes down), takes the others' dials,
/// and runs each link until it goes down, which it tells the node. Of two neighbours only one dials, so the two
/// never dial each other at once.
/// </summary>
/// <remarks>The node's lock (<paramref name="gate"/>) guards the table of links.</remarks>
internal sealed partial class LinkKeeper(MeshNode node, PeerEndpoint peer, MeshNodeOptions options, Lock gate, ILogger logger)
{
    // Under gate: the links up now, by neighbour.
    private readonly Dictionary<NodeId, NeighborLink> _links = [];

    /// <summary>Under the gate: the links up now.</summary>
    public IEnumerable<NeighborLink> Up => _links.Values;

    /// <summary>Under the gate: how many links are up.</summary>
    public int Count => _links.Count;

    /// <summary>Starts dialing the neighbours this node dials, and accepting the others'.</summary>
    public void Start(List<Task> tasks, CancellationToken stopping)
    {
        foreach (var neighbor in options.Neighbors)
        {
            if (SortsFirst(peer.NodeId, neighbor))
            {
                tasks.Add(Task.Run(() => DialLinkAsync(neighbor, stopping), stopping));
            }
        }

        tasks.Add(Task.Run(() => AcceptLinksAsync(stopping), stopping));
    }

    /// <summary>Waits until the links to every one of <paramref name="neighbors"/> are up and carry cells.</summary>
    public async Task WaitForAsync(IEnumerable<NodeId> neighbors, CancellationToken cancellationToken)
    {
        var wanted = neighbors.ToList();
        while (true)
        {
            lock (gate)
            {
                if (wanted.All(n => _links.TryGetValue(n, out var link) && link.CarriesCells))
                {
                    return;
                }
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Whether any link carries cells now.</summary>
    public bool AnyCarriesCells()
    {
        lock (gate)
        {
            return _links.Values.Any(l => l.CarriesCells);
        }
    }

    /// <summary>Under the gate: the link is down; a newer one to the same neighbour stays.</summary>
    public void Forget(NeighborLink link)
    {
        if (_links.TryGetValue(link.Neighbor, out var current) && current == link)
        {
            _links.Remove(link.Neighbor);
        }
    }

    private async Task DialLinkAsync(NodeId neighbor, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var connection = await peer.DialAsync(neighbor, MeshProtocol.Alpn, stopping).ConfigureAwait(false);
                QuicStream control;
                try
                {
                    control = await connection.OpenBidirectionalStreamAsync(stopping).ConfigureAwait(false);
                }
                catch (QuicConnectionException)
                {
                    continue;
                }

                var link = new NeighborLink(node, connection, control, neighbor, weSortFirst: true, options.ProbesPerSecondPerNeighbor, options.EncryptedHops);

                // The first keep-alive opens the stream at the neighbour, which waits for it to take the link.
                link.Send(new MeshMessage { KeepAlive = new LinkKeepAlive() });
                await RunLinkAsync(link, stopping).ConfigureAwait(false);
            }
            catch (PeerException e)
            {
                LogLinkDialFailed(logger, neighbor, e.Message);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await Task.Delay(options.LinkRetryInterval, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task AcceptLinksAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            QuicConnection connection;
            try
            {
                connection = await peer.AcceptAsync(MeshProtocol.Alpn, stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or PeerException)
            {
                return;
            }

            _ = Task.Run(() => TakeLinkAsync(connection, stopping), stopping);
        }
    }

    private async Task TakeLinkAsync(QuicConnection connection, CancellationToken stopping)
    {
        if (connection.RemoteNodeId is not { } neighbor || !options.Neighbors.Contains(neighbor))
        {
            await connection.CloseAsync(1, "not a neighbour of this node", CancellationToken.None).ConfigureAwait(false);
            return;
        }

        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            limit.CancelAfter(options.LinkTimeout * 2);
            var control = await connection.AcceptStreamAsync(limit.Token).ConfigureAwait(false);
            var link = new NeighborLink(node, connection, control, neighbor, weSortFirst: SortsFirst(peer.NodeId, neighbor), options.ProbesPerSecondPerNeighbor, options.EncryptedHops);
            await RunLinkAsync(link, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or QuicConnectionException)
        {
            _ = connection.CloseAsync(1, "no mesh control stream", CancellationToken.None);
        }
    }

    private async Task RunLinkAsync(NeighborLink link, CancellationToken stopping)
    {
        NeighborLink? replaced;
        lock (gate)
        {
            _links.TryGetValue(link.Neighbor, out replaced);
            _links[link.Neighbor] = link;
        }

        if (replaced is not null)
        {
            // The neighbour came back (restarted, or its old connection is dying unseen): the new link is the one.
            _ = replaced.Connection.CloseAsync(0, "replaced by a new link", CancellationToken.None);
        }

        _ = LogWhenCarryingAsync(link, stopping);
        var reason = await link.RunAsync(options.LinkKeepAliveInterval, options.LinkTimeout, stopping).ConfigureAwait(false);
        LogLinkDown(logger, link.Neighbor, reason);
        node.OnLinkDown(link, $"link {peer.NodeId}-{link.Neighbor} down: {reason}");
    }

    /// <summary>Says the link is up once it carries cells (path MTU discovery has raised its DATAGRAM limit).</summary>
    private async Task LogWhenCarryingAsync(NeighborLink link, CancellationToken stopping)
    {
        try
        {
            while (!link.CarriesCells)
            {
                if (link.IsDown)
                {
                    return;
                }

                await Task.Delay(20, stopping).ConfigureAwait(false);
            }

            LogLinkUp(logger, link.Neighbor);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static bool SortsFirst(NodeId a, NodeId b) => a.Bytes.SequenceCompareTo(b.Bytes) < 0;

    [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "Mesh link to {Neighbor} up")]
    private static partial void LogLinkUp(ILogger logger, NodeId neighbor);

    [LoggerMessage(EventId = 61, Level = LogLevel.Information, Message = "Mesh link to {Neighbor} down: {Reason}")]
    private static partial void LogLinkDown(ILogger logger, NodeId neighbor, string reason);

    [LoggerMessage(EventId = 62, Level = LogLevel.Debug, Message = "Mesh link to {Neighbor}: dial failed: {Reason}")]
    private static partial void LogLinkDialFailed(ILogger logger, NodeId neighbor, string reason);
}
