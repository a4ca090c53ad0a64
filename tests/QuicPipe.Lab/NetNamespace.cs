using System.ComponentModel;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using QuicPipe.Lab.Interop;

namespace QuicPipe.Lab;

/// <summary>
/// Runs code inside a named network namespace (/run/netns/NAME) on a thread of its own: setns(2)
/// moves only the calling thread, and a socket stays in the namespace it was created in, so a
/// socket made here works from any thread afterwards while the rest of the process stays put.
/// </summary>
internal static class NetNamespace
{
    public static T Run<T>(string name, Func<T> action)
    {
        T? result = default;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle(Path.Combine("/run/netns", name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                if (Libc.SetNs(handle, Libc.CloneNewNet) != 0)
                {
                    throw new Win32Exception(Marshal.GetLastPInvokeError(), $"setns into network namespace {name} failed");
                }

                result = action();
            }
#pragma warning disable CA1031 // Rethrown on the caller's thread below.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result!;
    }
}
