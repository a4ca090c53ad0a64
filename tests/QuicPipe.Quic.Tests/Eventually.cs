namespace QuicPipe.Quic.Tests;

/// <summary>Polls a condition the engine reaches asynchronously, failing after a bound.</summary>
internal static class Eventually
{
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan limit, string what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: still {value} after {limit}.");
            }

            await Task.Delay(20);
        }
    }
}
