namespace QuicPipe.Mesh.Internal;

/// <summary>Sees one cell (valid only during the call).</summary>
internal delegate void CellTap(ReadOnlySpan<byte> cell);
