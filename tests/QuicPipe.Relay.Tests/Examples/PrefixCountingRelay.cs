using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Hosting;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Relay.Tests.Examples;

/// <summary>
/// Packets counted by source prefix (IPv4 /24, IPv6 /64). At most <see cref="MaxPrefixes"/> prefixes get a counter
/// of their own, so a spoofing sender cannot grow the table; the rest count as <see cref="Other"/>. After a prefix's
/// first packet, counting allocates nothing.
/// </summary>
public sealed class SourcePrefixCounter
{
    public const int MaxPrefixes = 1024;

    private readonly ConcurrentDictionary<ulong, StrongBox<long>> _counts = new();
    private long _other;

    public long Other => Interlocked.Read(ref _other);

    /// <summary>A packet stage: counts the batch's sources, then hands the batch on unchanged.</summary>
    public PacketDelegate Stage(PacketDelegate next) => batch =>
    {
        for (var i = 0; i < batch.Count; i++)
        {
            Count(Prefix(batch.Sources[i]));
        }

        next(batch);
    };

    /// <summary>Packets seen from the prefix <paramref name="address"/> is in.</summary>
    public long PacketsFrom(IPAddress address) =>
        _counts.TryGetValue(Prefix(PeerAddress.FromEndPoint(new IPEndPoint(address, 0))), out var count) ? Interlocked.Read(ref count.Value) : 0;

    private void Count(ulong prefix)
    {
        if (!_counts.TryGetValue(prefix, out var count))
        {
            if (_counts.Count >= MaxPrefixes)
            {
                Interlocked.Increment(ref _other);
                return;
            }

            count = _counts.GetOrAdd(prefix, static _ => new StrongBox<long>());
        }

        Interlocked.Increment(ref count.Value);
    }

    /// <summary>IPv4: the top 24 bits, tagged so that no IPv6 prefix equals it; IPv6: the first 64 bits.</summary>
    private static ulong Prefix(in PeerAddress source)
    {
        var bytes = source.AddressBytes;
        return source.IsIPv4
            ? (1UL << 32) | ((ulong)bytes[0] << 16) | ((ulong)bytes[1] << 8) | bytes[2]
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes);
    }
}

/// <summary>A relay with one stage of our own in front of it, composed on the server builder.</summary>
public static class PrefixCountingRelay
{
    public static QuicPipeServer Build(IPEndPoint listen, RelayOptions options, SourcePrefixCounter counter)
    {
        var builder = QuicPipeServer.CreateBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var relay = new RelayRouter(options);
        builder.ListenUdp(listen, udp => udp
            .Use(counter.Stage)     // first: it sees every datagram, whatever the relay then decides
            .UseRelay(relay));      // the relay's control endpoint, header parsing, control delivery, forwarding
        return builder.Build();
    }
}
