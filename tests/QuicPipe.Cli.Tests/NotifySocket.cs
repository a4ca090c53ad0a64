using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// What systemd does for a <c>Type=notify</c> service, reduced to what the tests read: a unix datagram socket the
/// child finds through <c>NOTIFY_SOCKET</c>, and every message (<c>READY=1</c>, <c>STOPPING=1</c>) kept in arrival
/// order. <see cref="OnMessage"/> runs on the receiving thread as each one arrives, to check the child's state at that
/// moment.
/// </summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-notify-").FullName;
    private readonly Thread _receiver;

    public NotifySocket(Action<string>? onMessage = null)
    {
        OnMessage = onMessage ?? (_ => { });
        Path = System.IO.Path.Combine(_directory, "notify");
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
        _receiver = new Thread(Receive) { IsBackground = true, Name = "notify-socket" };
        _receiver.Start();
    }

    public string Path { get; }

    /// <summary>The environment a child needs to notify this socket.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["NOTIFY_SOCKET"] = Path };

    public ConcurrentQueue<string> Messages { get; } = new();

    public Action<string> OnMessage { get; }

    public bool WaitFor(string message, TimeSpan timeout) =>
        SpinWait.SpinUntil(() => Messages.Contains(message), timeout);

    public void Dispose()
    {
        _socket.Dispose();
        _receiver.Join(TimeSpan.FromSeconds(5));
        Directory.Delete(_directory, recursive: true);
    }

    private void Receive()
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = _socket.Receive(buffer);

                // One datagram may carry several assignments, one per line (sd_notify's format).
                foreach (var message in Encoding.UTF8.GetString(buffer, 0, n).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    OnMessage(message);
                    Messages.Enqueue(message);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Disposed: the test is over.
        }
    }
}
