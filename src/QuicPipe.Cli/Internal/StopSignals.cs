using System.Runtime.InteropServices;

namespace QuicPipe.Cli.Internal;

/// <summary>
/// SIGINT and SIGTERM as a stop of the command: both cancel <c>stop</c> and neither ends the process by itself, so
/// the command closes its connections, unregisters from its relay and exits with its own code. System.CommandLine
/// cancels on SIGINT only; a service manager stops a unit with SIGTERM, whose default action kills the process
/// (exit 143) with its routes left at the relay for the grace period.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration _terminate;
    private readonly PosixSignalRegistration _interrupt;

    public StopSignals(CancellationTokenSource stop)
    {
        _stop = stop;
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    }

    public void Dispose()
    {
        _terminate.Dispose();
        _interrupt.Dispose();
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _stop.Cancel();
    }
}
