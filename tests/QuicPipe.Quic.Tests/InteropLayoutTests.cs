using System.Runtime.CompilerServices;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Interop;
using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// The shim passes only scalars and pointers, with two exceptions: qp_conn_write_pkts writes each datagram's
/// destination sockaddr straight into PacketBatch's PeerAddress array, QP_ADDR_SIZE bytes apart, and the
/// connection constructors read a qp_conn_config and qp_conn_get_stats fills a qp_conn_stats (all uint64_t fields,
/// mirrored by QuicShim.ConnConfig and QuicShim.ConnStats).
/// </summary>
public class InteropLayoutTests
{
    [Fact]
    public void PeerAddress_is_the_28_byte_stride_the_shim_writes_addresses_at()
    {
        Assert.Equal(QuicShim.AddressSize, Unsafe.SizeOf<PeerAddress>());
        Assert.Equal(QuicShim.AddressSize, PeerAddress.Size);
    }

    [Fact]
    public void Batch_slots_hold_the_largest_datagram_the_shim_writes() =>
        Assert.True(PacketBatch.DefaultSlotSize >= QuicShim.MaxDatagramSize);

    [Fact]
    public void ConnConfig_has_the_size_of_qp_conn_config() =>
        Assert.Equal((int)QuicShim.ConnConfigSize(), Unsafe.SizeOf<QuicShim.ConnConfig>());

    [Fact]
    public void ConnStats_has_the_size_of_qp_conn_stats() =>
        Assert.Equal((int)QuicShim.ConnStatsSize(), Unsafe.SizeOf<QuicShim.ConnStats>());

    [Fact]
    public void The_shim_loads_and_describes_its_errors() =>
        Assert.Contains("pinned NodeId", QuicShim.Describe(QuicShim.ErrorPinMismatch), StringComparison.Ordinal);
}
