using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using QuicPipe.Dataplane.Wire;

namespace QuicPipe.Peer.Direct;

/// <summary>
/// The birthday search that finds a direct path when one peer's NAT maps each destination to a new port
/// (endpoint-dependent, "symmetric") and the other's does not (docs/nat-traversal.md, "Symmetric NATs"). The hard side
/// opens up to <see cref="MaxSockets"/> extra sockets, each sending one ping toward the easy side's public mapping,
/// which gives its NAT that many mappings toward it, at random ports; the easy side pings random ports of the hard
/// side's public address from its one socket. A ping that lands on one of those mappings comes through both NATs
/// (each side sent toward the other's address and port), and the extra socket it arrived on becomes a
/// <see cref="PortBridge"/>. With N ports open among P and M probes the chance of a hit is about 1 - (1 - N/P)^M.
/// Both roles send at most <see cref="MaxPacketsPerSecond"/> datagrams a second (each one a conntrack entry on some
/// NAT); one search runs at a time per endpoint; every socket is closed when the role ends, but the hit's.
/// </summary>
internal sealed class PortSearch
{
    public const int MaxSockets = 256;
    public const int MaxPacketsPerSecond = 100;

    /// <summary>
    /// The easy side probes ports within this distance of the hard side's public port (the relay's view of it). NATs
    /// that allocate in sequence put new mappings next to it. For those that draw at random from a range (which holds
    /// it), a probe hits with the chance 256 / (range) wherever it lands inside the range, so a window narrower than
    /// the range costs nothing and wastes fewer probes beyond its ends; 2,001 ports still hold 8 of the 256 mappings
    /// on average even when the range is all of 1024-65535.
    /// </summary>
    public const int PortWindow = 1000;

    /// <summary>Most datagrams sent back to back: a tick that came late catches up this far, no further.</summary>
    private const int MaxBurst = 10;

    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    private readonly HolePuncher _puncher;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private long _searches;
    private long _hits;
    private long _probesSent;
    private long _socketsOpened;
    private int _socketsOpen;

    public PortSearch(HolePuncher puncher) => _puncher = puncher;

    /// <summary>Searches started, and hits (either role).</summary>
    public long Searches => Interlocked.Read(ref _searches);

    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Datagrams the searches sent: the easy side's probes and the hard side's opening pings.</summary>
    public long ProbesSent => Interlocked.Read(ref _probesSent);

    public long SocketsOpened => Interlocked.Read(ref _socketsOpened);

    /// <summary>Extra sockets open now, bridges not counted.</summary>
    public int SocketsOpen => Volatile.Read(ref _socketsOpen);

    /// <summary>Takes the endpoint's one search slot; false while another search runs (this one is then skipped).</summary>
    public bool TryBegin()
    {
        if (!_oneAtATime.Wait(0))
        {
            return false;
        }

        Interlocked.Increment(ref _searches);
        return true;
    }

    public void End() => _oneAtATime.Release();

    /// <summary>
    /// Easy role: pings random ports of <paramref name="hard"/>'s address near its port from our one socket, until a pong
    /// comes back (its source, the hard side's found mapping, is returned) or <paramref name="duration"/> ends (null).
    /// </summary>
    public async Task<IPEndPoint?> ProbePortsAsync(PunchSession session, IPEndPoint hard, TimeSpan duration, CancellationToken cancellationToken)
    {
        var answered = session.BeginRound();
        var low = Math.Max(1024, hard.Port - PortWindow);
        var high = Math.Min(65535, hard.Port + PortWindow);
        await PaceAsync(
            duration,
            () =>
            {
                Interlocked.Increment(ref _probesSent);
                _puncher.SendPing(session, new IPEndPoint(hard.Address, Random.Shared.Next(low, high + 1)));
                return true;
            },
            answered,
            cancellationToken).ConfigureAwait(false);
        return answered.IsCompletedSuccessfully ? answered.Result : null;
    }

    /// <summary>
    /// Hard role: opens extra sockets one by one, each sending one ping (TTL <paramref name="hopLimit"/>, 0: the
    /// default) to <paramref name="easy"/>, and waits on all of them until the easy side's probe arrives on one (that
    /// socket becomes the returned bridge to <paramref name="mainSocket"/>) or <paramref name="duration"/> ends (null).
    /// Every other socket is closed before this returns.
    /// </summary>
    public async Task<PortBridge?> OpenPortsAsync(PunchSession session, IPEndPoint easy, IPEndPoint mainSocket, int hopLimit, TimeSpan duration, CancellationToken cancellationToken)
    {
        var hit = new TaskCompletionSource<(Socket Socket, IPEndPoint From, byte[] First)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sockets = new List<Socket>(MaxSockets);
        var receivers = new List<Task>(MaxSockets);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ping = new byte[PunchProbe.Length];
        try
        {
            await PaceAsync(
                duration,
                () =>
                {
                    if (sockets.Count >= MaxSockets)
                    {
                        return false; // all open: wait for a hit until the end
                    }

                    var socket = Open(easy.AddressFamily, hopLimit);
                    if (socket is null)
                    {
                        return false;
                    }

                    sockets.Add(socket);
                    PunchProbe.Write(ping, PunchProbeKind.Ping, session.Token.Span, (ulong)Stopwatch.GetTimestamp());
                    try
                    {
                        socket.SendTo(ping, SocketFlags.None, easy);
                        Interlocked.Increment(ref _probesSent);
                    }
                    catch (SocketException)
                    {
                        // This mapping was not opened; the others may be.
                    }

                    receivers.Add(ReceiveAsync(socket, session, easy, hit, stop.Token));
                    return true;
                },
                hit.Task,
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(receivers).ConfigureAwait(false);
            var kept = hit.Task.IsCompletedSuccessfully ? hit.Task.Result.Socket : null;
            foreach (var socket in sockets.Where(s => s != kept))
            {
                socket.Dispose();
            }

            Interlocked.Add(ref _socketsOpen, -sockets.Count);
        }

        if (!hit.Task.IsCompletedSuccessfully)
        {
            return null;
        }

        Interlocked.Increment(ref _hits);
        var (found, from, first) = hit.Task.Result;
        return new PortBridge(found, from, mainSocket, first);
    }

    /// <summary>Counts an easy-role hit (the pong came back).</summary>
    public void CountHit() => Interlocked.Increment(ref _hits);

    /// <summary>
    /// Runs <paramref name="send"/> at <see cref="MaxPacketsPerSecond"/> on average (in ticks of <see cref="Tick"/>; a
    /// late tick, on a loaded machine, makes up for at most <see cref="MaxBurst"/> datagrams) until
    /// <paramref name="done"/> completes or the time is up.
    /// <paramref name="send"/> returns false when it has nothing more to send.
    /// </summary>
    private static async Task PaceAsync(TimeSpan duration, Func<bool> send, Task done, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        long sent = 0;
        var more = true;
        while (!done.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (elapsed >= duration)
            {
                return;
            }

            var due = Math.Min((long)(elapsed.TotalSeconds * MaxPacketsPerSecond) + 1, sent + MaxBurst);
            while (more && sent < due)
            {
                more = send();
                sent++;
            }

            var left = duration - elapsed;
            try
            {
                await Task.WhenAny(done, Task.Delay(left < Tick ? left : Tick, cancellationToken)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task ReceiveAsync(Socket socket, PunchSession session, IPEndPoint easy, TaskCompletionSource<(Socket, IPEndPoint, byte[])> hit, CancellationToken stop)
    {
        var buffer = new byte[2048];
        var any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stop).ConfigureAwait(false);
                var from = (IPEndPoint)received.RemoteEndPoint;

                // The easy side's probe: from its public address (any port: its NAT maps every destination alike, but
                // the relay's view may be stale), with our token.
                if (from.Address.Equals(easy.Address)
                    && PunchProbe.TryRead(buffer.AsSpan(0, received.ReceivedBytes), out _, out var key, out _)
                    && key == session.Key
                    && hit.TrySetResult((socket, from, buffer[..received.ReceivedBytes])))
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error for the opening ping (it expired on its way, as meant); keep listening.
            }
        }
    }

    private Socket? Open(AddressFamily family, int hopLimit)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (family == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = true; // an IPv4-mapped peer address
            }

            socket.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
            if (hopLimit > 0)
            {
                socket.Ttl = (short)hopLimit;
            }

            Interlocked.Increment(ref _socketsOpened);
            Interlocked.Increment(ref _socketsOpen);
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null; // out of ports or descriptors: search with what is open
        }
    }
}
