using System.Runtime.InteropServices;
using QuicPipe.Dataplane.Interop;
using QuicPipe.Interop;

namespace QuicPipe.Dataplane.Internal;

/// <summary>
/// An epoll instance for a loop thread that waits on several descriptors at once, with a timeout in nanoseconds
/// (epoll_pwait2), each descriptor registered under a key of the caller's. Only the owning loop calls
/// <see cref="Wait"/>; Add and Remove too.
/// </summary>
internal sealed unsafe class EpollSet : IDisposable
{
    public const uint Readable = 0x001;
    public const uint PeerClosed = 0x2000;
    public const uint EdgeTriggered = 1u << 31;

    private readonly SafeFdHandle _epoll;
    private readonly EpollEvent[] _ready;

    public EpollSet(int maxEventsPerWait)
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("struct epoll_event is laid out for x86-64 only.");
        }

        var fd = Libc.EpollCreate1(Libc.EpollCloExec);
        if (fd < 0)
        {
            ThrowLastError("epoll_create1");
        }

        _epoll = new SafeFdHandle(fd);
        _ready = GC.AllocateArray<EpollEvent>(maxEventsPerWait, pinned: true);
    }

    /// <summary>The event layout this type declares is x86-64's.</summary>
    public static bool IsSupported => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>Watches <paramref name="descriptor"/> for <paramref name="events"/>; <see cref="KeyAt"/> reports <paramref name="key"/>.</summary>
    public void Add(SafeHandle descriptor, ulong key, uint events)
    {
        var ev = new EpollEvent { Events = events, Data = key };
        if (Control(Libc.EpollCtlAdd, descriptor, &ev) != 0)
        {
            ThrowLastError("epoll_ctl(EPOLL_CTL_ADD)");
        }
    }

    /// <summary>Stops watching <paramref name="descriptor"/> (a descriptor already closed is gone from the set anyway).</summary>
    public void Remove(SafeHandle descriptor) => _ = Control(Libc.EpollCtlDel, descriptor, null);

    /// <summary>Waits at most <paramref name="timeout"/> (zero: does not wait); returns how many descriptors are ready.</summary>
    public int Wait(TimeSpan timeout)
    {
        var spec = TimeSpec.From(timeout);
        fixed (EpollEvent* events = _ready)
        {
            var count = Libc.EpollPWait2(_epoll, events, _ready.Length, &spec, null);

            // EINTR (a signal) is an empty wait: the loop comes back.
            return Math.Max(count, 0);
        }
    }

    /// <summary>The key of the <paramref name="index"/>th ready descriptor of the last <see cref="Wait"/>.</summary>
    public ulong KeyAt(int index) => _ready[index].Data;

    public void Dispose() => _epoll.Dispose();

    private static void ThrowLastError(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        throw new IOException($"{call}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    private int Control(int operation, SafeHandle descriptor, EpollEvent* ev)
    {
        var added = false;
        try
        {
            descriptor.DangerousAddRef(ref added);
            return Libc.EpollCtl(_epoll, operation, (int)descriptor.DangerousGetHandle(), ev);
        }
        finally
        {
            if (added)
            {
                descriptor.DangerousRelease();
            }
        }
    }
}
