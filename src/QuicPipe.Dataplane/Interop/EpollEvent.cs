using System.Runtime.InteropServices;

namespace QuicPipe.Dataplane.Interop;

/// <summary>
/// <c>struct epoll_event { uint32_t events; epoll_data_t data; }</c>, which x86-64 declares packed (12 bytes); other
/// architectures align <c>data</c> to 8, so <see cref="Internal.EpollSet"/> refuses them.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}
