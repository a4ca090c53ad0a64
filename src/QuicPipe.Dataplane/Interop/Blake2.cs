namespace QuicPipe.Dataplane.Interop;

/// <summary>libb2, the BLAKE2 authors' library (Debian package libb2-1). One file per native function.</summary>
internal static partial class Blake2
{
    internal const string Name = "libb2.so.1";
}
