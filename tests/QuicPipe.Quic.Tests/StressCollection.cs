using Xunit;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// The stress tests (a gigabyte, ten thousand streams, a lossy link) keep both cores busy for seconds. They run
/// in this collection, alone and after the other tests of this assembly, so that tests with timing in them do not
/// run starved beside them, and so that the stress tests' own durations mean something.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    public const string Name = "stress";
}
