using System.IO.Pipelines;
using QuicPipe.Quic;

namespace QuicPipe.Tunnels.Internal;

/// <summary>
/// The forwarding side's half of the tunnel handshake (docs/tcp-over-quic.md): open a stream, write the header,
/// read the status byte. Shared by <see cref="TcpForwarder"/> and the proxies, which differ only in where the TCP
/// connection comes from and how a failure is told to its client.
/// </summary>
internal static class TunnelOpener
{
    /// <summary>
    /// Returns <see cref="TunnelStatus.Ok"/> and the stream, ready for data; or a failure and null, the stream already
    /// aborted. A lost connection is <see cref="TunnelStatus.Unreachable"/>. Cancellation of <paramref name="setup"/>
    /// aborts the stream (code "unreachable", or "tunnel closing" if <paramref name="stopping"/> fired) and throws.
    /// </summary>
    public static async Task<(TunnelStatus Status, QuicStream? Stream)> OpenAsync(
        QuicConnection connection,
        ReadOnlyMemory<byte> header,
        CancellationToken setup,
        CancellationToken stopping)
    {
        QuicStream? stream = null;
        TunnelStatus status;
        try
        {
            stream = await connection.OpenBidirectionalStreamAsync(setup).ConfigureAwait(false);
            await stream.WriteAsync(header, endStream: false, setup).ConfigureAwait(false);
            status = await ReadStatusAsync(stream.Input, setup).ConfigureAwait(false);
        }
        catch (QuicStreamAbortedException e)
        {
            status = e.ErrorCode is >= TunnelErrorCodes.Refused and <= TunnelErrorCodes.BadHeader ? (TunnelStatus)e.ErrorCode.Value : TunnelStatus.Unreachable;
        }
        catch (Exception e) when (e is QuicConnectionException or ObjectDisposedException)
        {
            status = TunnelStatus.Unreachable;
        }
        catch (OperationCanceledException)
        {
            if (stream is not null)
            {
                await AbortAsync(stream, stopping.IsCancellationRequested ? TunnelErrorCodes.TunnelClosing : TunnelErrorCodes.Unreachable).ConfigureAwait(false);
            }

            throw;
        }

        if (status == TunnelStatus.Ok)
        {
            return (status, stream);
        }

        if (stream is not null)
        {
            await AbortAsync(stream, Enum.IsDefined(status) ? (long)status : TunnelErrorCodes.BadStatus).ConfigureAwait(false);
        }

        return (status, null);
    }

    private static async Task AbortAsync(QuicStream stream, long code)
    {
        await TcpStreamPump.AbortQuietlyAsync(stream, code).ConfigureAwait(false);
        await stream.Input.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Reads the exposing side's one status byte; an end before it counts as unreachable.</summary>
    private static async Task<TunnelStatus> ReadStatusAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (!result.Buffer.IsEmpty)
            {
                var status = result.Buffer.FirstSpan[0];
                input.AdvanceTo(result.Buffer.GetPosition(1));
                return (TunnelStatus)status;
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            if (result.IsCompleted)
            {
                return TunnelStatus.Unreachable;
            }
        }
    }
}
