namespace QuicPipe.Cli.Internal;

/// <summary>
/// Something a running relay re-reads on SIGHUP without a restart. <see cref="RelayHostedService"/> calls every one
/// registered in the relay host's services (<c>AddSingleton&lt;IReloadable&gt;</c>), in registration order, and logs
/// one line for the signal: what was reloaded, or why a part was not. This is where a config file's reloadable
/// settings plug in; what needs a restart is for the reloadable to say in its failure.
/// </summary>
internal interface IReloadable
{
    /// <summary>What is re-read, for the log line, e.g. <c>routes file /etc/quicpipe/routes.txt</c>.</summary>
    string What { get; }

    /// <summary>
    /// Re-reads and applies, returning a short summary for the log line (e.g. <c>3 routes</c>). On failure throws
    /// <see cref="ReloadException"/> with the reason, with the old state kept whole.
    /// </summary>
    string Reload();
}

/// <summary>A reload that was refused; the old state stays. The message is one line for the operator.</summary>
internal sealed class ReloadException(string message, Exception? inner = null) : Exception(message, inner);
