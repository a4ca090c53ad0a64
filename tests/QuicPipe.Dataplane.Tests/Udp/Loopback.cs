using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace QuicPipe.Dataplane.Tests.Udp;

/// <summary>Helpers for socket tests. Every address here is loopback: tests never send anywhere else.</summary>
internal static class Loopback
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    public static PeerAddress Any(AddressFamily family = AddressFamily.InterNetwork) =>
        PeerAddress.FromEndPoint(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));

    public static UdpSocketOptions Options(bool gro = true, bool gso = true) => new()
    {
        EnableGro = gro,
        EnableGso = gso,
        ReceiveTimeout = TimeSpan.FromMilliseconds(100),
        ReceiveBufferBytes = 1 << 20,
        SendBufferBytes = 1 << 20,
    };

    /// <summary>A plain .NET socket bound to an ephemeral loopback port, with a receive timeout.</summary>
    public static Socket PlainSocket(AddressFamily family = AddressFamily.InterNetwork)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
        socket.ReceiveTimeout = (int)Deadline.TotalMilliseconds;
        return socket;
    }

    public static PeerAddress AddressOf(Socket socket) => PeerAddress.FromEndPoint((IPEndPoint)socket.LocalEndPoint!);

    /// <summary>A datagram whose bytes say which one it is: sequence number, then a pattern.</summary>
    public static byte[] Datagram(int sequence, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((sequence * 31) + (i * 7));
        }

        if (length >= 4)
        {
            BitConverter.TryWriteBytes(bytes, sequence);
        }

        return bytes;
    }

    /// <summary>Receives until <paramref name="expected"/> datagrams came out or the deadline passed; copies each.</summary>
    public static List<(byte[] Payload, PeerAddress Source, PacketVerdict Verdict, DropReason Reason)> ReceiveAll(
        UdpBatchSocket socket, PacketBatch batch, DataplaneCounters counters, int expected)
    {
        var result = new List<(byte[], PeerAddress, PacketVerdict, DropReason)>();
        var clock = Stopwatch.StartNew();
        while (result.Count < expected && clock.Elapsed < Deadline)
        {
            var n = socket.Receive(batch, counters);
            for (var i = 0; i < n; i++)
            {
                result.Add((batch.Payload(i).ToArray(), batch.Sources[i], batch.Verdicts[i], batch.DropReasons[i]));
            }
        }

        return result;
    }
}
