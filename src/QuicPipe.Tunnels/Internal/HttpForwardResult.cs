namespace QuicPipe.Tunnels.Internal;

/// <summary>A failure the proxy answers with a status and closes; <see cref="Status"/> 0: close without an answer.</summary>
internal readonly record struct HttpFailure(int Status, string Reason, string Explanation)
{
    /// <summary>The client went away, or a response was already under way: nothing more can be said.</summary>
    public static readonly HttpFailure Silent = new(0, string.Empty, string.Empty);
}

/// <summary>How one forwarded request ended for the client's connection.</summary>
internal readonly record struct HttpForwardResult(bool KeepAlive, HttpFailure? Failure)
{
    public static readonly HttpForwardResult Continue = new(true, null);

    public static readonly HttpForwardResult Close = new(false, null);

    public static HttpForwardResult Fail(int status, string reason, string explanation) => new(false, new HttpFailure(status, reason, explanation));

    public static HttpForwardResult Fail(HttpFailure failure) => new(false, failure);
}
