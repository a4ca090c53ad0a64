using System.Net;

namespace QuicPipe.Tunnels;

/// <summary>A proxy client's request and the answer it got (raised for failures, for logs).</summary>
public sealed class ProxyRequestEventArgs(EndPoint? client, string? target, string answer) : EventArgs
{
    /// <summary>The client's address.</summary>
    public EndPoint? Client { get; } = client;

    /// <summary>The requested <c>host:port</c>, if the request got that far.</summary>
    public string? Target { get; } = target;

    /// <summary>What the client was told, e.g. <c>502 port refused</c> or <c>SOCKS5 reply 0x05</c>.</summary>
    public string Answer { get; } = answer;
}
