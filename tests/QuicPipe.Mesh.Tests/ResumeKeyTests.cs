using System.Security.Cryptography;
using QuicPipe.Mesh.Internal;
using QuicPipe.Quic;
using Xunit;

namespace QuicPipe.Mesh.Tests;

/// <summary>Which circuit a re-route probe may take over at its target: only the live one its origin keyed.</summary>
public sealed class ResumeKeyTests
{
    [Fact]
    public void Only_the_exact_key_from_the_same_origin_finds_a_live_circuit_that_ends_here()
    {
        var origin = NodeIdentity.Generate().NodeId;
        var stranger = NodeIdentity.Generate().NodeId;
        var self = NodeIdentity.Generate().NodeId;
        var carrier = new CircuitCarrier(null!);
        var key = RandomNumberGenerator.GetBytes(16);
        var circuit = carrier.Add([origin, stranger, self], isOrigin: false, key);
        var dialed = carrier.Add([self, stranger, origin], isOrigin: true, RandomNumberGenerator.GetBytes(16));
        var unkeyed = carrier.Add([origin, self], isOrigin: false, null);

        Assert.Same(circuit, carrier.FindResumable(origin, key));

        var flipped = (byte[])key.Clone();
        flipped[15] ^= 1;
        Assert.Null(carrier.FindResumable(origin, flipped));
        Assert.Null(carrier.FindResumable(stranger, key));
        Assert.Null(carrier.FindResumable(origin, key.AsSpan(0, 15)));
        Assert.Null(carrier.FindResumable(origin, []));

        // A circuit this node dialed is resumed by this node, never by a probe.
        Assert.Null(carrier.FindResumable(origin, dialed.Key));
        Assert.NotNull(unkeyed);

        circuit.Down("gone", clean: false);
        Assert.Null(carrier.FindResumable(origin, key));
    }
}
