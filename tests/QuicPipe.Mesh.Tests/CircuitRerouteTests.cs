using System.Diagnostics;
using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;
using Xunit.Abstractions;

namespace QuicPipe.Mesh.Tests;

/// <summary>A live circuit whose middle node dies goes on over another path, under the same end-to-end connection.</summary>
public sealed class CircuitRerouteTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task In_a_diamond_killing_the_middle_node_mid_transfer_reroutes_and_32_MiB_each_way_arrive_byte_exact_on_the_same_connection()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var (a, d) = await lab.StartDiamondAsync(timeout.Token);

        var circuit = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);
        var middle = Assert.Single(circuit.Via);
        var (dead, other) = middle == lab.Id("B") ? ("B", "C") : ("C", "B");
        var survivor = lab[other];
        var rerouted = new TaskCompletionSource<IReadOnlyList<NodeId>>(TaskCreationOptions.RunContinuationsAsynchronously);
        circuit.Rerouted += (_, _) => rerouted.TrySetResult(circuit.Path);
        var acceptedRerouted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        accepted.Rerouted += (_, _) => acceptedRerouted.TrySetResult();

        const int size = 32 * 1024 * 1024;
        var fromA = RandomNumberGenerator.GetBytes(size);
        var fromD = RandomNumberGenerator.GetBytes(size);
        var stream = await circuit.Connection.OpenBidirectionalStreamAsync(timeout.Token);

        // A quarter each way, some of it through the first path, then its middle node goes with the rest unsent.
        const int first = size / 4;
        var sendingA = stream.WriteAsync(fromA.AsMemory(0, first), cancellationToken: timeout.Token).AsTask();
        var incoming = await accepted.Connection.AcceptStreamAsync(timeout.Token);
        var sendingD = incoming.WriteAsync(fromD.AsMemory(0, first), cancellationToken: timeout.Token).AsTask();
        var atD = new Received();
        var atA = new Received();
        var readingD = atD.ReadAllAsync(incoming, timeout.Token);
        var readingA = atA.ReadAllAsync(stream, timeout.Token);
        while (atD.Count < first / 2 || atA.Count < first / 2)
        {
            await Task.Delay(10, timeout.Token);
        }

        var arrivedBeforeKill = atD.Count;
        var killed = Stopwatch.StartNew();
        await lab.StopAsync(dead);
        await Task.WhenAll(sendingA, sendingD);
        sendingA = stream.WriteAsync(fromA.AsMemory(first), endStream: true, timeout.Token).AsTask();
        sendingD = incoming.WriteAsync(fromD.AsMemory(first), endStream: true, timeout.Token).AsTask();
        var newPath = await rerouted.Task.WaitAsync(TimeSpan.FromSeconds(10), timeout.Token);
        var rerouteTook = killed.Elapsed;
        await Task.WhenAll(sendingA, sendingD, readingD, readingA);

        Assert.Equal(SHA256.HashData(fromA), SHA256.HashData(await readingD));
        Assert.Equal(SHA256.HashData(fromD), SHA256.HashData(await readingA));
        Assert.True(arrivedBeforeKill <= first, $"{arrivedBeforeKill} bytes had arrived before the kill");

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

        output.WriteLine($"re-routed via {other} {rerouteTook.TotalMilliseconds:0} ms after the kill, {arrivedBeforeKill} bytes at D by then; A dropped {a.Counters.CellsDropped} cells");
        Assert.True(rerouteTook < TimeSpan.FromSeconds(10), $"re-routed {rerouteTook} after the kill");
        Assert.Equal(1, a.Counters.Circuits);
        Assert.Equal(1, d.Counters.Circuits);
    }

    [Fact]
    public async Task With_a_zero_reroute_window_a_break_ends_both_ends_even_when_a_second_path_exists()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var (a, d) = await lab.StartDiamondAsync(timeout.Token, configureA: o => o.RerouteWindow = TimeSpan.Zero, configureD: o => o.RerouteWindow = TimeSpan.Zero);
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

    [Fact]
    public async Task A_target_whose_origin_does_not_reroute_ends_the_circuit_once_the_window_has_passed()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();

        // A gives up at once; D still has a link that could bring a re-route, so it waits its window for one.
        var (a, d) = await lab.StartDiamondAsync(timeout.Token, configureA: o => o.RerouteWindow = TimeSpan.Zero, configureD: o => o.RerouteWindow = TimeSpan.FromSeconds(2));
        var circuit = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);

        var killed = Stopwatch.StartNew();
        await lab.StopAsync(Assert.Single(circuit.Via) == lab.Id("B") ? "B" : "C");
        await EndedAsync(circuit.Connection, TimeSpan.FromSeconds(5), timeout.Token);
        var originEnded = killed.Elapsed;
        await EndedAsync(accepted.Connection, TimeSpan.FromSeconds(10), timeout.Token);
        var targetEnded = killed.Elapsed;

        Assert.True(targetEnded >= TimeSpan.FromSeconds(1.9), $"D ended {targetEnded} after the kill, before its 2 s window had passed");
        Assert.True(targetEnded - originEnded > TimeSpan.FromSeconds(1), $"A ended after {originEnded}, D after {targetEnded}");
        Assert.Contains("no other path within 2 s", accepted.DownReason, StringComparison.Ordinal);
        Assert.Equal(0, d.Counters.Circuits);
    }

    [Fact]
    public async Task With_no_second_path_the_origin_says_its_reroute_probe_found_no_other_path()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var (a, _, _, d) = await lab.StartLineAsync(timeout.Token);
        var circuit = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);

        await lab.StopAsync("C");
        await EndedAsync(circuit.Connection, TimeSpan.FromSeconds(5), timeout.Token);
        await EndedAsync(accepted.Connection, TimeSpan.FromSeconds(5), timeout.Token);

        // A tried (B had nowhere to send the probe), D had no link left to bring a re-route and did not wait.
        Assert.Contains("no other path: ", circuit.DownReason, StringComparison.Ordinal);
        Assert.Contains("unreachable", circuit.DownReason, StringComparison.Ordinal);
        Assert.DoesNotContain("no other path", accepted.DownReason, StringComparison.Ordinal);
    }

    /// <summary>Waits for the connection to end, however it ended (closed here: no error; by the peer: an error).</summary>
    private static async Task EndedAsync(QuicConnection connection, TimeSpan limit, CancellationToken cancellationToken)
    {
        try
        {
            await connection.Closed.WaitAsync(limit, cancellationToken);
        }
        catch (QuicConnectionException)
        {
        }
    }
}
