using System.Buffers;
using System.Text;
using QuicPipe.Quic;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// The netcat-like part of <c>quicpipe dial</c> and <c>accept</c>: our stdin (or hello lines) to the peer, the
/// peer's bytes to our stdout, on one bidirectional stream. EOF on stdin half-closes; the session ends once both
/// directions are finished and our last bytes are acknowledged, so closing the connection loses nothing.
/// </summary>
/// <remarks>
/// The dialer opens the stream with one preamble byte (<see cref="Preamble"/>): QUIC creates a stream at the peer
/// only when bytes arrive, and a server program that speaks first (ssh) must not wait for the dialer to type.
/// </remarks>
/// <remarks>
/// Stdin may never answer (a terminal, a pipe with nothing to say) and its read ignores cancellation, so the session
/// never waits for it once the connection has ended or a signal stopped us: it ends then, and the process with it.
/// </remarks>
internal sealed class NetcatSession(QuicConnection connection, QuicStream stream, NodeId self, string command, TimeSpan peerTimeout)
{
    /// <summary>First byte of the dialer's stream: the version of this little protocol.</summary>
    public const byte Preamble = 0x01;

    /// <summary>Why the circuit the connection runs in went down, if it runs in one and it did (PeerReach).</summary>
    public Func<string?>? CircuitDown { get; init; }

    private static readonly TimeSpan AckWait = TimeSpan.FromSeconds(30);

    // Once the connection ended and what arrived is written out: how long our stdin reader gets to finish too.
    private static readonly TimeSpan EndGrace = TimeSpan.FromMilliseconds(500);

    /// <summary>Dialer side: opens the stream and sends the preamble.</summary>
    public static async Task<QuicStream> OpenAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        var stream = await connection.OpenBidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(new[] { Preamble }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return stream;
    }

    /// <summary>Accepter side: takes the dialer's stream and checks its preamble.</summary>
    public static async Task<QuicStream> AcceptAsync(QuicConnection connection, CancellationToken cancellationToken)
    {
        var stream = await connection.AcceptStreamAsync(cancellationToken).ConfigureAwait(false);
        var first = await stream.Input.ReadAtLeastAsync(1, cancellationToken).ConfigureAwait(false);
        if (first.Buffer.IsEmpty || first.Buffer.FirstSpan[0] != Preamble)
        {
            await stream.AbortAsync(1, QuicAbortDirection.Both, cancellationToken).ConfigureAwait(false);
            throw new InvalidDataException("the dialer's stream does not start with the quicpipe dial preamble (is it a quicpipe dial of this version?)");
        }

        stream.Input.AdvanceTo(first.Buffer.GetPosition(1));
        return stream;
    }

    /// <summary>
    /// Runs until both directions are done (exit 0), the connection fails (1), or a signal stops us: 1 if that cut
    /// the transfer, 0 with <c>--hello</c> (which runs until stopped).
    /// </summary>
    public async Task<int> RunAsync(bool hello, CancellationToken interrupted)
    {
        var sending = hello ? SendHelloAsync(interrupted) : SendStdinAsync(interrupted);
        var receiving = ReceiveToStdoutAsync(interrupted);
        var both = Task.WhenAll(sending, receiving);
        try
        {
            var stopped = Task.Delay(Timeout.Infinite, interrupted);
            await Task.WhenAny(both, connection.Closed, stopped).ConfigureAwait(false);
            if (!both.IsCompleted && !interrupted.IsCancellationRequested)
            {
                // The connection ended. What arrived is written out however slowly stdout takes it (the receiving side
                // ends by itself then); only our stdin reader may wait forever, so it gets a moment, not more.
                await Task.WhenAny(receiving, stopped).ConfigureAwait(false);
                await Task.WhenAny(both, stopped, Task.Delay(EndGrace, CancellationToken.None)).ConfigureAwait(false);
            }

            interrupted.ThrowIfCancellationRequested();
            if (!both.IsCompleted)
            {
                // Only our stdin reader is left, and the connection is gone: nothing more can be sent.
                return Fail(connection.Closed.Exception?.InnerException);
            }

            await both.ConfigureAwait(false);

            // Both FINs are through; wait until the peer has acknowledged our last bytes (or closed gracefully).
            await Task.WhenAny(stream.Completed, connection.Closed).WaitAsync(AckWait, interrupted).ConfigureAwait(false);
            if (connection.Closed.IsFaulted && !IsGracefulPeerClose(connection.Closed.Exception))
            {
                return Fail(connection.Closed.Exception!.InnerException);
            }

            await connection.CloseAsync(0, CancellationToken.None).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            // Closed with an error code: the peer must not take the cut for a complete transfer.
            var cut = !hello && !both.IsCompletedSuccessfully;
            await connection.CloseAsync(cut ? 1 : 0, "interrupted", CancellationToken.None).ConfigureAwait(false);
            if (!cut)
            {
                // --hello runs until stopped: that is its normal end.
                return 0;
            }

            await Console.Error.WriteLineAsync($"quicpipe {command}: stopped by a signal before the transfer was complete").ConfigureAwait(false);
            return 1;
        }
        catch (TimeoutException)
        {
            await Console.Error.WriteLineAsync($"quicpipe {command}: the peer did not acknowledge our last bytes within {AckWait.TotalSeconds:0} s").ConfigureAwait(false);
            await connection.CloseAsync(1, "no acknowledgement", CancellationToken.None).ConfigureAwait(false);
            return 1;
        }
        catch (Exception e) when (e is QuicConnectionException or QuicStreamAbortedException or IOException)
        {
            // The peer may close right after reading our FIN and sending its own: everything arrived both ways.
            if (IsGracefulPeerClose(e) && sending.IsCompletedSuccessfully && receiving.IsCompletedSuccessfully)
            {
                return 0;
            }

            return Fail(e);
        }
    }

    private int Fail(Exception? e)
    {
        // A circuit that broke says where; else, ended with no error and not by us: nothing came from the peer for the
        // idle timeout (it died, or the path did).
        var why = CircuitDown?.Invoke() is { } down
            ? $"circuit down: {down}"
            : connection.Closed.IsCompletedSuccessfully
            ? $"nothing from the peer for {peerTimeout.TotalSeconds:0.###} s (--peer-timeout)"
            : e?.Message ?? connection.CloseReason ?? "the connection ended";
        Console.Error.WriteLine($"quicpipe {command}: connection lost: {why}");
        return 1;
    }

    private static bool IsGracefulPeerClose(Exception? e) => e switch
    {
        AggregateException aggregate => aggregate.InnerExceptions.All(IsGracefulPeerClose),
        QuicConnectionException { PeerApplicationErrorCode: 0 } => true,
        _ => false,
    };

    private async Task SendStdinAsync(CancellationToken cancellationToken)
    {
        using var stdin = Console.OpenStandardInput();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (true)
            {
                var read = await stdin.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    await stream.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
                    return;
                }

                // Completes once the bytes are in the stream's send buffer: the buffer is ours again.
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task SendHelloAsync(CancellationToken cancellationToken)
    {
        for (var n = 1; ; n++)
        {
            var line = Encoding.UTF8.GetBytes($"hello {n} from {self} at {DateTimeOffset.UtcNow:HH:mm:ss}\n");
            await stream.WriteAsync(line, cancellationToken: cancellationToken).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReceiveToStdoutAsync(CancellationToken cancellationToken)
    {
        using var stdout = Console.OpenStandardOutput();
        while (true)
        {
            var result = await stream.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            foreach (var segment in result.Buffer)
            {
                await stdout.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
            }

            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
        }
    }
}
