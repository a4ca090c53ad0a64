using System.Diagnostics;
using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Mesh.Tests;

/// <summary>A live circuit whose middle node dies goes on over another path, under the same end-to-end connection.</summary>
public sealed class CircuitRerouteTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task In_a_diamond_killing_the_middle_node_mid_transfer_reroutes_and_32_MiB_each_way_arrive_byte_exact_on_the_same_connection()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var a = await lab.StartAsync("A", ["B", "C"], timeout.Token);
        var b = await lab.StartAsync("B", ["A", "D"], timeout.Token);
        var c = await lab.StartAsync("C", ["A", "D"], timeout.Token);
        var d = await lab.StartAsync("D", ["B", "C"], timeout.Token);
        await a.WaitForLinksAsync([lab.Id("B"), lab.Id("C")], timeout.Token);
        await d.WaitForLinksAsync([lab.Id("B"), lab.Id("C")], timeout.Token);

        var circuit = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);
        var middle = Assert.Single(circuit.Via);
        var (dead, other) = middle == lab.Id("B") ? ("B", "C") : ("C", "B");
        var survivor = other == "B" ? b : c;
        var rerouted = new TaskCompletionSource<IReadOnlyList<NodeId>>(TaskCreationOptions.RunContinuationsAsynchronously);
        circuit.Rerouted += (_, _) => rerouted.TrySetResult(circuit.Path);
        var acceptedRerouted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        accepted.Rerouted += (_, _) => acceptedRerouted.TrySetResult();

        const int size = 32 * 1024 * 1024;
        var fromA = RandomNumberGenerator.GetBytes(size);
        var fromD = RandomNumberGenerator.GetBytes(size);
        var stream = await circuit.Connection.OpenBidirectionalStreamAsync(timeout.Token);
        var sendingA = stream.WriteAsync(fromA, endStream: true, timeout.Token).AsTask();
        var incoming = await accepted.Connection.AcceptStreamAsync(timeout.Token);
        var sendingD = incoming.WriteAsync(fromD, endStream: true, timeout.Token).AsTask();
        var atD = new Received();
        var atA = new Received();
        var readingD = atD.ReadAllAsync(incoming, timeout.Token);
        var readingA = atA.ReadAllAsync(stream, timeout.Token);

        // Some MiB through the first path, then its middle node goes.
        while (atD.Count < 4 * 1024 * 1024 || atA.Count < 4 * 1024 * 1024)
        {
            await Task.Delay(10, timeout.Token);
        }

        var arrivedBeforeKill = atD.Count;
        var killed = Stopwatch.StartNew();
        await lab.StopAsync(dead);
        var newPath = await rerouted.Task.WaitAsync(TimeSpan.FromSeconds(10), timeout.Token);
        var rerouteTook = killed.Elapsed;
        await Task.WhenAll(sendingA, sendingD, readingD, readingA);

        Assert.Equal(SHA256.HashData(fromA), SHA256.HashData(await readingD));
        Assert.Equal(SHA256.HashData(fromD), SHA256.HashData(await readingA));
        Assert.True(arrivedBeforeKill < size / 2, $"{arrivedBeforeKill} bytes had arrived before the kill");

        // The same connection went on: never closed, no circuit down, no second accept; the new path goes round.
        Assert.Equal(new[] { lab.Id("A"), lab.Id(other), lab.Id("D") }, newPath);
        Assert.Equal(newPath, circuit.Path);
        Assert.Equal(1, circuit.Reroutes);
        await acceptedRerouted.Task.WaitAsync(TimeSpan.FromSeconds(10), timeout.Token);
        Assert.Equal(newPath, accepted.Path);
        Assert.False(circuit.Connection.Closed.IsCompleted);
        Assert.False(accepted.Connection.Closed.IsCompleted);
        Assert.Null(circuit.DownReason);
        Assert.Null(accepted.DownReason);
        Assert.True(survivor.Counters.CellBytesForwarded > size / 2, $"{other} forwarded {survivor.Counters.CellBytesForwarded} bytes");
        using (var none = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await d.AcceptAsync(none.Token));
        }

        Assert.True(rerouteTook < TimeSpan.FromSeconds(10), $"re-routed {rerouteTook} after the kill");
        Assert.Equal(1, a.Counters.Circuits);
        Assert.Equal(1, d.Counters.Circuits);
    }

    [Fact]
    public async Task With_a_zero_reroute_window_a_break_ends_both_ends_even_when_a_second_path_exists()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var a = await lab.StartAsync("A", ["B", "C"], timeout.Token, configure: o => o.RerouteWindow = TimeSpan.Zero);
        await lab.StartAsync("B", ["A", "D"], timeout.Token);
        await lab.StartAsync("C", ["A", "D"], timeout.Token);
        var d = await lab.StartAsync("D", ["B", "C"], timeout.Token, configure: o => o.RerouteWindow = TimeSpan.Zero);
        await a.WaitForLinksAsync([lab.Id("B"), lab.Id("C")], timeout.Token);
        await d.WaitForLinksAsync([lab.Id("B"), lab.Id("C")], timeout.Token);
        var circuit = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);
        var rerouted = 0;
        circuit.Rerouted += (_, _) => Interlocked.Increment(ref rerouted);

        await lab.StopAsync(Assert.Single(circuit.Via) == lab.Id("B") ? "B" : "C");
        await Task.WhenAll(circuit.Connection.Closed, accepted.Connection.Closed).WaitAsync(TimeSpan.FromSeconds(5), timeout.Token);

        Assert.Contains("circuit down", circuit.Connection.CloseReason, StringComparison.Ordinal);
        Assert.NotNull(circuit.DownReason);
        Assert.NotNull(accepted.DownReason);
        Assert.Equal(0, Volatile.Read(ref rerouted));
    }

    /// <summary>Reads a stream to its end, counting as it goes (the count is read from the test's thread).</summary>
    private sealed class Received
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public async Task<byte[]> ReadAllAsync(QuicStream stream, CancellationToken cancellationToken)
        {
            using var buffer = new MemoryStream();
            while (true)
            {
                var result = await stream.Input.ReadAsync(cancellationToken);
                foreach (var segment in result.Buffer)
                {
                    buffer.Write(segment.Span);
                }

                Interlocked.Add(ref _count, result.Buffer.Length);
                stream.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return buffer.ToArray();
                }
            }
        }
    }
}
