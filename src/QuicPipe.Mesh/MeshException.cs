namespace QuicPipe.Mesh;

/// <summary>A circuit could not be built, or broke; the message says why in one line.</summary>
public sealed class MeshException : Exception
{
    public MeshException()
    {
    }

    public MeshException(string message)
        : base(message)
    {
    }

    public MeshException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
