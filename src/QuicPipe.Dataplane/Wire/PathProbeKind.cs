namespace QuicPipe.Dataplane.Wire;

/// <summary>The kind byte of a <see cref="PathProbe"/>.</summary>
internal enum PathProbeKind : byte
{
    Challenge = 1,
    Response = 2,
}
