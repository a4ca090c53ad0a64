using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Lab;

namespace QuicPipe.Xdp.Tests;

/// <summary>One loaded program for a test class (loading runs the verifier: worth sharing). Null when not root.</summary>
public sealed class XdpProgramFixture : IDisposable
{
    public const int RelayPort = 4433;

    /// <summary>Listened on <see cref="SpecificRelay4"/> and <see cref="SpecificRelay6"/> only.</summary>
    public const int SpecificPort = 4434;

    /// <summary>Listened on 0.0.0.0 only (IPv4 wildcard, no IPv6).</summary>
    public const int Wildcard4Port = 4435;

    public static readonly IPAddress SpecificRelay4 = IPAddress.Parse("203.0.113.1");
    public static readonly IPAddress SpecificRelay6 = IPAddress.Parse("2001:db8:ffff::1");

    public XdpProgramFixture()
    {
        if (Root.IsRoot)
        {
            Program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 4096, MissBufferBytes = 64 * 1024 });
            Program.AddPort(RelayPort);
            Program.AddListener(PeerAddress.FromEndPoint(new IPEndPoint(SpecificRelay4, SpecificPort)));
            Program.AddListener(PeerAddress.FromEndPoint(new IPEndPoint(SpecificRelay6, SpecificPort)));
            Program.AddListener(PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Any, Wildcard4Port)));
        }
    }

    public XdpProgram? Program { get; }

    public void Dispose() => Program?.Dispose();

    /// <summary>A fresh 12-byte peer-namespace CID (top bit clear), unique per call.</summary>
    public static ConnectionId NewCid(byte firstByte = 0x2b)
    {
        var bytes = new byte[12];
        Random.Shared.NextBytes(bytes);
        bytes[0] = firstByte;
        return new ConnectionId(bytes);
    }
}
