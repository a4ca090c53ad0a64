using System.CommandLine;
using QuicPipe.Quic;

namespace QuicPipe.Cli;

/// <summary><c>quicpipe keygen --out FILE</c>: a new node identity; its NodeId on stdout (scripts read it).</summary>
internal static class KeygenCommand
{
    public static Command Create()
    {
        var output = new Option<FileInfo>("--out", "-o")
        {
            Description = "Where to write the new identity (private key and self-signed certificate, PEM, mode 0600). An existing file is never overwritten.",
            HelpName = "FILE",
            Required = true,
        };
        var command = new Command("keygen", "Create a node identity (ECDSA P-256 key and self-signed certificate) and print its NodeId, the base32 SHA-256 of its public key, which peers use to address and pin this node.")
        {
            output,
        };
        command.SetAction(parse =>
        {
            var file = parse.GetRequiredValue(output);
            var identity = NodeIdentity.Generate();
            try
            {
                identity.SaveKeyFile(file.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var why = File.Exists(file.FullName) ? "it already exists (remove it first; quicpipe never overwrites an identity)" : e.Message;
                Console.Error.WriteLine($"quicpipe keygen: cannot write {file.FullName}: {why}");
                return 2;
            }

            Console.Out.WriteLine(identity.NodeId.ToString());
            return 0;
        });
        return command;
    }
}
