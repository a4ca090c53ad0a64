using System.Runtime.InteropServices;
using QuicPipe.Dataplane;
using QuicPipe.Quic.Interop;

namespace QuicPipe.Quic.Internal;

/// <summary>
/// The shim's callbacks: static <see cref="UnmanagedCallersOnlyAttribute"/> methods registered once per process.
/// The user pointer is a GCHandle to the <see cref="QuicConnection"/>. They run on the endpoint's loop thread,
/// inside a shim call; an exception must not cross into C, so each one turns it into a failure code.
/// </summary>
internal static unsafe class NativeCallbacks
{
    private static readonly Lazy<int> Registration = new(Register);

    public static void EnsureRegistered()
    {
        if (Registration.Value != 0)
        {
            throw new InvalidOperationException($"qp_init failed: {QuicShim.Describe(Registration.Value)}");
        }
    }

    private static int Register() => QuicShim.Init(&OnHandshakeCompleted, &OnStreamOpen, &OnStreamData, &OnStreamClose, &OnStreamReset, &OnStreamSendStopped, &OnNewCid, &OnRemoveCid, &OnDatagram, &OnPathValidation, &OnPathChanged);

    private static QuicConnection Connection(nint user) => (QuicConnection)GCHandle.FromIntPtr(user).Target!;

    [UnmanagedCallersOnly]
    private static int OnHandshakeCompleted(nint user) => Guard(user, static c => c.OnHandshakeCompleted());

    [UnmanagedCallersOnly]
    private static int OnStreamOpen(nint user, long streamId)
    {
        try
        {
            Connection(user).OnStreamOpen(streamId);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnStreamData(nint user, long streamId, byte* data, nuint length, int fin)
    {
        try
        {
            Connection(user).OnStreamData(streamId, new ReadOnlySpan<byte>(data, checked((int)length)), fin != 0);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnStreamClose(nint user, long streamId, uint flags, ulong applicationErrorCode)
    {
        try
        {
            Connection(user).OnStreamClose(streamId, (flags & QuicShim.StreamCloseAppErrorSet) != 0, applicationErrorCode);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnStreamReset(nint user, long streamId, ulong applicationErrorCode)
    {
        try
        {
            Connection(user).OnStreamReset(streamId, applicationErrorCode);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnStreamSendStopped(nint user, long streamId)
    {
        try
        {
            Connection(user).OnStreamSendStopped(streamId);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnNewCid(nint user, byte* cid, nuint length, byte* token)
    {
        try
        {
            Connection(user).OnNewConnectionId(new Span<byte>(cid, (int)length), new Span<byte>(token, QuicShim.StatelessResetTokenSize));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnRemoveCid(nint user, byte* cid, nuint length)
    {
        try
        {
            Connection(user).OnRemoveConnectionId(new ReadOnlySpan<byte>(cid, (int)length));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnDatagram(nint user, byte* data, nuint length)
    {
        try
        {
            Connection(user).OnDatagram(new ReadOnlySpan<byte>(data, checked((int)length)));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnPathValidation(nint user, int succeeded, byte* local, uint localLength, byte* remote, uint remoteLength)
    {
        try
        {
            Connection(user).OnPathValidation(succeeded != 0, Address(local, localLength), Address(remote, remoteLength));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int OnPathChanged(nint user, byte* local, uint localLength, byte* remote, uint remoteLength)
    {
        try
        {
            Connection(user).OnPathChanged(Address(local, localLength), Address(remote, remoteLength));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    /// <summary>A sockaddr from the shim (at most 28 bytes) as the dataplane's PeerAddress, zero-padded.</summary>
    private static PeerAddress Address(byte* sockaddr, uint length)
    {
        var address = default(PeerAddress);
        new ReadOnlySpan<byte>(sockaddr, (int)Math.Min(length, (uint)QuicShim.AddressSize)).CopyTo(new Span<byte>(&address, QuicShim.AddressSize));
        return address;
    }

    private static int Guard(nint user, Action<QuicConnection> action)
    {
        try
        {
            action(Connection(user));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(user, e);
        }
    }

    private static int Fail(nint user, Exception e)
    {
        try
        {
            Connection(user).RecordCallbackFailure(e);
        }
        catch (InvalidOperationException)
        {
            // The handle is gone; nothing to record on.
        }

        return -1;
    }
}
