namespace QuicPipe.Lab;

/// <summary>How a command run inside a lab namespace ended.</summary>
public sealed record LabResult(int ExitCode, string StandardOutput, string StandardError);
