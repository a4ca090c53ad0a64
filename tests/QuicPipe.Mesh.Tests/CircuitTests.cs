using System.Diagnostics;
using System.Security.Cryptography;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Mesh.Tests;

/// <summary>Circuits through real peers on a real relay: setup, byte-exact transfer, ciphertext only in between, teardown.</summary>
public sealed class CircuitTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_line_of_four_carries_32_MiB_each_way_byte_exact_and_the_middle_nodes_never_see_the_plaintext(bool encryptedHops)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var (a, b, c, d) = await lab.StartLineAsync(timeout.Token, options => options.EncryptedHops = encryptedHops);

        // The 32-byte marker recurs every 4 KiB of both payloads: in plaintext, many copies would lie whole in some cell.
        var marker = RandomNumberGenerator.GetBytes(32);
        var seen = new MarkerWatch(marker);
        b.ForwardTap = seen.Look;
        c.ForwardTap = seen.Look;

        var circuit = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);

        Assert.Equal(new[] { lab.Id("A"), lab.Id("B"), lab.Id("C"), lab.Id("D") }, circuit.Path);
        Assert.Equal(circuit.Path, accepted.Path);
        Assert.Equal(lab.Id("A"), accepted.Connection.RemoteNodeId);
        Assert.Equal(lab.Id("D"), circuit.Connection.RemoteNodeId);

        const int size = 32 * 1024 * 1024;
        var fromA = Payload(size, marker);
        var fromD = Payload(size, marker);
        var stream = await circuit.Connection.OpenBidirectionalStreamAsync(timeout.Token);
        var sendingA = stream.WriteAsync(fromA, endStream: true, timeout.Token).AsTask();
        var incoming = await accepted.Connection.AcceptStreamAsync(timeout.Token);
        var sendingD = incoming.WriteAsync(fromD, endStream: true, timeout.Token).AsTask();
        var atD = Received.AllAsync(incoming, timeout.Token);
        var atA = Received.AllAsync(stream, timeout.Token);
        await Task.WhenAll(sendingA, sendingD, atD, atA);

        Assert.Equal(SHA256.HashData(fromA), SHA256.HashData(await atD));
        Assert.Equal(SHA256.HashData(fromD), SHA256.HashData(await atA));

        // B and C relayed all of it (64 MiB and more each), and never a cell holding the marker.
        Assert.True(b.Counters.CellBytesForwarded > 2L * size, $"B forwarded {b.Counters.CellBytesForwarded} bytes");
        Assert.True(c.Counters.CellBytesForwarded > 2L * size, $"C forwarded {c.Counters.CellBytesForwarded} bytes");
        Assert.True(seen.Bytes > 4L * size, $"the taps saw {seen.Bytes} bytes");
        Assert.Equal(0, seen.Hits);


        // A clean close ends the circuit everywhere, a moment later, and is no break.
        await circuit.Connection.CloseAsync(0, "done", timeout.Token);
        var peerClosed = await Assert.ThrowsAsync<QuicConnectionException>(() => accepted.Connection.Closed.WaitAsync(timeout.Token));
        Assert.Contains("\"done\"", peerClosed.Message, StringComparison.Ordinal);
        while (new[] { a, b, c, d }.Any(n => n.Counters.Circuits > 0))
        {
            await Task.Delay(100, timeout.Token);
        }

        Assert.Null(circuit.DownReason);
        Assert.Null(accepted.DownReason);

        // By default every cell crossed each link unprotected, switched by label; with encrypted hops, inside the link.
        // (Read once the circuits are gone: no cell is crossing then.)
        foreach (var counters in new[] { b.Counters, c.Counters })
        {
            Assert.Equal(encryptedHops ? counters.CellsForwarded : 0, counters.CellsForwardedEncrypted);
        }
    }

    [Fact]
    public async Task When_a_middle_node_dies_mid_transfer_both_ends_see_the_circuit_down_within_5_s()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var (a, b, _, d) = await lab.StartLineAsync(timeout.Token);
        var circuit = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);

        // A sends for ever; once bytes flow, C goes.
        var stream = await circuit.Connection.OpenBidirectionalStreamAsync(timeout.Token);
        var sending = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            while (true)
            {
                await stream.WriteAsync(chunk, cancellationToken: timeout.Token);
            }
        });
        var incoming = await accepted.Connection.AcceptStreamAsync(timeout.Token);
        var first = await incoming.Input.ReadAsync(timeout.Token);
        incoming.Input.AdvanceTo(first.Buffer.End);
        var draining = Task.Run(async () =>
        {
            while (true)
            {
                var r = await incoming.Input.ReadAsync(timeout.Token);
                incoming.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    return;
                }
            }
        });

        var killed = Stopwatch.StartNew();
        await lab.StopAsync("C");
        await Task.WhenAll(circuit.Connection.Closed, accepted.Connection.Closed).WaitAsync(TimeSpan.FromSeconds(5), timeout.Token);
        var elapsed = killed.Elapsed;

        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"took {elapsed}");
        Assert.Contains("circuit down", circuit.Connection.CloseReason, StringComparison.Ordinal);
        Assert.Contains("circuit down", accepted.Connection.CloseReason, StringComparison.Ordinal);
        Assert.NotNull(circuit.DownReason);
        Assert.NotNull(accepted.DownReason);
        await Assert.ThrowsAnyAsync<Exception>(() => sending);
        await Assert.ThrowsAnyAsync<Exception>(() => draining);
        Assert.Equal(0, a.Counters.Circuits);
        Assert.Equal(0, b.Counters.Circuits);
        Assert.Equal(0, d.Counters.Circuits);
    }

    [Fact]
    public async Task With_a_second_path_a_dial_after_a_break_goes_round_the_dead_node()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        // No re-route (CircuitRerouteTests has it): the first circuit ends, and a new dial finds the way round.
        var (a, d) = await lab.StartDiamondAsync(timeout.Token, configureA: o => o.RerouteWindow = TimeSpan.Zero, configureD: o => o.RerouteWindow = TimeSpan.Zero);
        var first = await a.DialAsync(lab.Id("D"), timeout.Token);
        var firstAccepted = await d.AcceptAsync(timeout.Token);
        var middle = Assert.Single(first.Via);
        var other = middle == lab.Id("B") ? "C" : "B";

        await lab.StopAsync(middle == lab.Id("B") ? "B" : "C");
        await Task.WhenAll(first.Connection.Closed, firstAccepted.Connection.Closed).WaitAsync(TimeSpan.FromSeconds(5), timeout.Token);
        var second = await a.DialAsync(lab.Id("D"), timeout.Token);
        var accepted = await d.AcceptAsync(timeout.Token);

        Assert.Equal(new[] { lab.Id("A"), lab.Id(other), lab.Id("D") }, second.Path);
        var stream = await second.Connection.OpenBidirectionalStreamAsync(timeout.Token);
        await stream.WriteAsync(new byte[] { 1, 2, 3 }, endStream: true, timeout.Token);
        var incoming = await accepted.Connection.AcceptStreamAsync(timeout.Token);
        Assert.Equal(new byte[] { 1, 2, 3 }, await Received.AllAsync(incoming, timeout.Token));
    }

    [Fact]
    public async Task A_hundred_dials_to_a_NodeId_nobody_has_fail_as_unreachable_and_every_node_forwards_each_probe_at_most_once()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();

        // A square with a diagonal: the flood meets itself, so duplicates must be dropped.
        var a = await lab.StartAsync("A", ["B", "C"], timeout.Token);
        var b = await lab.StartAsync("B", ["A", "C", "D"], timeout.Token);
        var c = await lab.StartAsync("C", ["A", "B", "D"], timeout.Token);
        var d = await lab.StartAsync("D", ["B", "C"], timeout.Token);
        await a.WaitForLinksAsync([lab.Id("B"), lab.Id("C")], timeout.Token);
        await d.WaitForLinksAsync([lab.Id("B"), lab.Id("C")], timeout.Token);
        await b.WaitForLinksAsync([lab.Id("C")], timeout.Token);
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);

        var nobody = NodeIdentity.Generate().NodeId;
        var started = Stopwatch.StartNew();
        var dials = Enumerable.Range(0, 100).Select(_ => Assert.ThrowsAsync<MeshException>(() => a.DialAsync(nobody, timeout.Token))).ToList();
        var errors = await Task.WhenAll(dials);
        var elapsed = started.Elapsed;

        Assert.All(errors, e => Assert.Contains("unreachable", e.Message, StringComparison.Ordinal));
        Assert.All(errors, e => Assert.Contains(nobody.ToString(), e.Message, StringComparison.Ordinal));
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"took {elapsed} (probe timeout 10 s)");
        foreach (var node in new[] { b, c, d })
        {
            var counters = node.Counters;
            Assert.True(counters.ProbesForwarded <= 100, $"forwarded {counters.ProbesForwarded}");
            Assert.True(counters.ProbeStates <= 100, $"{counters.ProbeStates} probe states");
        }

        // The cycles brought copies back: they were dropped, not forwarded again.
        Assert.True(new[] { a, b, c, d }.Sum(n => n.Counters.ProbesDuplicate) > 0);
        Assert.Equal(0, new[] { a, b, c, d }.Sum(n => n.Counters.Circuits));
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(memoryAfter - memoryBefore < 16 * 1024 * 1024, $"grew by {memoryAfter - memoryBefore} bytes");
    }

    [Fact]
    public async Task A_target_that_refuses_the_origin_makes_the_dial_fail_as_unreachable()
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var lab = new MeshLab();
        var a = await lab.StartAsync("A", ["B"], timeout.Token);
        var b = await lab.StartAsync("B", ["A", "C"], timeout.Token);
        await lab.StartAsync("C", ["B"], timeout.Token, configure: o => o.AcceptCircuitsFrom = null);
        await b.WaitForLinksAsync([lab.Id("A"), lab.Id("C")], timeout.Token);

        var error = await Assert.ThrowsAsync<MeshException>(() => a.DialAsync(lab.Id("C"), timeout.Token));

        Assert.Contains("unreachable", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, b.Counters.Circuits);
    }

    private static byte[] Payload(int size, byte[] marker)
    {
        var payload = RandomNumberGenerator.GetBytes(size);
        for (var at = 0; at + marker.Length <= size; at += 4096)
        {
            marker.CopyTo(payload, at);
        }

        return payload;
    }

    /// <summary>Counts the cells that hold the marker, and the bytes looked at (from the links' loop threads).</summary>
    private sealed class MarkerWatch(byte[] marker)
    {
        private long _hits;
        private long _bytes;

        public long Hits => Interlocked.Read(ref _hits);

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Look(ReadOnlySpan<byte> cell)
        {
            Interlocked.Add(ref _bytes, cell.Length);
            if (cell.IndexOf(marker) >= 0)
            {
                Interlocked.Increment(ref _hits);
            }
        }
    }
}
