using QuicPipe.Dataplane;

namespace QuicPipe.Xdp.Tests;

/// <summary>One loaded program for a test class (loading runs the verifier: worth sharing). Null when not root.</summary>
public sealed class XdpProgramFixture : IDisposable
{
    public const int RelayPort = 4433;

    public XdpProgramFixture()
    {
        if (Root.IsRoot)
        {
            Program = XdpProgram.Load(new XdpProgramOptions { RouteCapacity = 4096, MissBufferBytes = 64 * 1024 });
            Program.AddPort(RelayPort);
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
