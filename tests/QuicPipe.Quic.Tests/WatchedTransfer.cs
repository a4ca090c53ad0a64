using System.Security.Cryptography;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// One stream's worth of random bytes from a sender to a receiver, hashed on both ends, with the receiver's
/// progress visible so a test can act mid-transfer.
/// </summary>
internal sealed class WatchedTransfer
{
    private const int WriteSize = 256 * 1024;
    private readonly byte[] _payload;
    private long _received;

    private WatchedTransfer(byte[] payload) => _payload = payload;

    public long Received => Interlocked.Read(ref _received);

    public int Length => _payload.Length;

    public byte[] SentHash => SHA256.HashData(_payload);

    public byte[]? ReceivedHash { get; private set; }

    /// <summary>Opens a stream on <paramref name="sender"/>, writes the payload on it, and reads it whole on <paramref name="receiver"/>.</summary>
    public static (WatchedTransfer Transfer, Task Completion) Start(QuicConnection sender, QuicConnection receiver, int length, CancellationToken cancellationToken)
    {
        var transfer = new WatchedTransfer(RandomNumberGenerator.GetBytes(length));
        return (transfer, transfer.RunAsync(sender, receiver, cancellationToken));
    }

    /// <summary>Waits until the receiver has at least <paramref name="bytes"/>.</summary>
    public async Task ReceivedAtLeastAsync(long bytes, CancellationToken cancellationToken)
    {
        while (Received < bytes)
        {
            await Task.Delay(5, cancellationToken);
        }
    }

    private async Task RunAsync(QuicConnection sender, QuicConnection receiver, CancellationToken cancellationToken)
    {
        var stream = await sender.OpenBidirectionalStreamAsync(cancellationToken);
        var writing = Task.Run(
            async () =>
            {
                for (var offset = 0; offset < _payload.Length; offset += WriteSize)
                {
                    var size = Math.Min(WriteSize, _payload.Length - offset);
                    await stream.WriteAsync(_payload.AsMemory(offset, size), cancellationToken: cancellationToken);
                }

                await stream.CompleteWritesAsync(cancellationToken);
            },
            cancellationToken);

        var incoming = await receiver.AcceptStreamAsync(cancellationToken);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        while (true)
        {
            var result = await incoming.Input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                hash.AppendData(segment.Span);
            }

            Interlocked.Add(ref _received, result.Buffer.Length);
            incoming.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await incoming.Input.CompleteAsync();
        await writing;
        ReceivedHash = hash.GetHashAndReset();
    }
}
