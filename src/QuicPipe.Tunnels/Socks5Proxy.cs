using System.Net;
using System.Net.Sockets;
using QuicPipe.Tunnels.Internal;

namespace QuicPipe.Tunnels;

/// <summary>
/// A SOCKS5 proxy (RFC 1928, CONNECT only; no authentication or username/password, RFC 1929) whose only
/// destinations are ports on peers: the domain-name address <c>&lt;nodeid&gt;.quicpipe</c> and a port open a
/// TCP-over-QUIC tunnel (through the <see cref="PeerTunnelConnector"/>) to that port on the peer. Reply codes:
/// docs/proxies.md.
/// </summary>
public sealed class Socks5Proxy : PeerProxy
{
    // Largest negotiation message: a password request, 3 + 255 + 255 bytes.
    private const int NegotiationBufferSize = 1024;

    private static readonly byte[] PasswordAccepted = [Socks5PasswordRequest.Version, 0x00];
    private static readonly byte[] PasswordRejected = [Socks5PasswordRequest.Version, 0x01];

    private Socks5Proxy(PeerTunnelConnector connector, IPEndPoint? listen, ProxyOptions options)
        : base(connector, listen, options)
    {
    }

    /// <summary>Starts listening on <paramref name="listen"/>; tunnels go through <paramref name="connector"/>.</summary>
    public static Socks5Proxy Start(PeerTunnelConnector connector, IPEndPoint listen, ProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(listen);
        return new(connector, listen, options);
    }

    /// <summary>A proxy without a listener of its own: the handler of a server's TCP listener (<see cref="TunnelServerBuilderExtensions"/>).</summary>
    internal static Socks5Proxy CreateHandler(PeerTunnelConnector connector, ProxyOptions options) => new(connector, listen: null, options);

    private protected override async Task HandleAsync(Socket client, CancellationToken stopping)
    {
        client.NoDelay = true;
        var reader = new ClientPrefixReader(client, NegotiationBufferSize);
        Socks5Request request;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            deadline.CancelAfter(Options.HeaderTimeout);
            try
            {
                if (await NegotiateAsync(client, reader, deadline.Token).ConfigureAwait(false) is not { } negotiated)
                {
                    return;
                }

                request = negotiated;
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                // No SOCKS5 message says "too slow": close, as for any other negotiation failure.
                await FailAsync(client, null, "SOCKS5 negotiation timed out", ReadOnlyMemory<byte>.Empty, stopping).ConfigureAwait(false);
                return;
            }
        }

        var target = $"{request.Host}:{request.Port}";
        if (Check(request) is { } refusal)
        {
            await FailAsync(client, target, $"SOCKS5 reply 0x{(byte)refusal:x2}", Reply(refusal), stopping).ConfigureAwait(false);
            return;
        }

        PeerHostName.Parse(request.Host, out var peer);
        var (outcome, stream) = await Connector.ConnectAsync(peer, request.Port, stopping).ConfigureAwait(false);
        var code = ToReplyCode(outcome);
        if (code != Socks5ReplyCode.Succeeded)
        {
            await FailAsync(client, target, $"SOCKS5 reply 0x{(byte)code:x2} ({outcome})", Reply(code), stopping).ConfigureAwait(false);
            return;
        }

        await TunnelAsync(client, stream!, Reply(Socks5ReplyCode.Succeeded), reader.Remaining, stopping).ConfigureAwait(false);
    }

    /// <summary>
    /// Greeting, method choice, optional username/password, request. Null when the client was already answered
    /// and closed (or simply closed).
    /// </summary>
    private async Task<Socks5Request?> NegotiateAsync(Socket client, ClientPrefixReader reader, CancellationToken cancellationToken)
    {
        var (read, greeting) = await reader.ReadAsync<Socks5Greeting>(Socks5Greeting.TryParse, cancellationToken).ConfigureAwait(false);
        if (read != ClientReadResult.Complete)
        {
            await FailAsync(client, null, $"SOCKS5 bad greeting ({read})", ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var method = Options.Credentials is null
            ? (greeting.Offers(Socks5Greeting.NoAuthentication) ? Socks5Greeting.NoAuthentication : Socks5Greeting.NoAcceptableMethods)
            : (greeting.Offers(Socks5Greeting.UserNamePassword) ? Socks5Greeting.UserNamePassword : Socks5Greeting.NoAcceptableMethods);
        if (method == Socks5Greeting.NoAcceptableMethods)
        {
            await FailAsync(client, null, "SOCKS5 no acceptable authentication method", new byte[] { Socks5Greeting.Version, method }, cancellationToken).ConfigureAwait(false);
            return null;
        }

        await client.SendAsync(new byte[] { Socks5Greeting.Version, method }, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        if (method == Socks5Greeting.UserNamePassword)
        {
            var (readAuth, login) = await reader.ReadAsync<Socks5PasswordRequest>(Socks5PasswordRequest.TryParse, cancellationToken).ConfigureAwait(false);
            if (readAuth == ClientReadResult.Closed)
            {
                CountClosed();
                return null;
            }

            if (readAuth != ClientReadResult.Complete || !Options.Credentials!.Matches(login.User.Span, login.Password.Span))
            {
                await FailAsync(client, null, "SOCKS5 authentication failed", PasswordRejected, cancellationToken).ConfigureAwait(false);
                return null;
            }

            await client.SendAsync(PasswordAccepted, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }

        var (readRequest, request) = await reader.ReadAsync<Socks5Request>(Socks5Request.TryParse, cancellationToken).ConfigureAwait(false);
        if (readRequest != ClientReadResult.Complete)
        {
            // A request of another version has no reply we could trust the client to read: close.
            await FailAsync(client, null, $"SOCKS5 bad request ({readRequest})", ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            return null;
        }

        return request;
    }

    /// <summary>The reply for a request the proxy will not try, or null to go ahead.</summary>
    private static Socks5ReplyCode? Check(Socks5Request request)
    {
        if (request.Command != Socks5Request.CommandConnect)
        {
            return Socks5ReplyCode.CommandNotSupported;
        }

        if (request.AddressType != Socks5Request.AddressDomainName)
        {
            // A peer has no IP address the client could know: only <nodeid>.quicpipe names one.
            return Socks5ReplyCode.AddressTypeNotSupported;
        }

        if (request.Port == 0)
        {
            return Socks5ReplyCode.GeneralFailure;
        }

        return PeerHostName.Parse(request.Host, out _) switch
        {
            PeerHostNameKind.NotAPeer => Socks5ReplyCode.NotAllowedByRuleset,
            PeerHostNameKind.InvalidNodeId => Socks5ReplyCode.HostUnreachable,
            _ => null,
        };
    }

    private static Socks5ReplyCode ToReplyCode(PeerTunnelOutcome outcome) => outcome switch
    {
        PeerTunnelOutcome.Connected => Socks5ReplyCode.Succeeded,
        PeerTunnelOutcome.PeerRefused => Socks5ReplyCode.NotAllowedByRuleset,
        PeerTunnelOutcome.PortRefused => Socks5ReplyCode.ConnectionRefused,
        PeerTunnelOutcome.TimedOut => Socks5ReplyCode.TtlExpired,
        PeerTunnelOutcome.Failed => Socks5ReplyCode.GeneralFailure,
        _ => Socks5ReplyCode.HostUnreachable,
    };

    /// <summary>
    /// <c>VER | REP | RSV | ATYP=IPv4 | 0.0.0.0 | port 0</c>: the bound address means nothing here (the far end is
    /// a stream, not a socket of ours), and CONNECT clients ignore it.
    /// </summary>
    private static byte[] Reply(Socks5ReplyCode code) => [Socks5Greeting.Version, (byte)code, 0x00, Socks5Request.AddressIPv4, 0, 0, 0, 0, 0, 0];
}
