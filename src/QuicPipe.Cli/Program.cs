using System.CommandLine;
using QuicPipe.Cli;

var root = new RootCommand("quicpipe: point-to-point QUIC across NATs, and the relay that forwards it by connection ID.")
{
    RelayCommand.Create(),
    KeygenCommand.Create(),
    DialCommand.Create(),
    AcceptCommand.Create(),
    ForwardCommand.Create(),
    ExposeCommand.Create(),
};

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
