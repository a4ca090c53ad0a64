using System.Diagnostics.Metrics;

namespace QuicPipe.Lab;

/// <summary>
/// Reads the observable instruments of one <see cref="Meter"/> instance through a real <see cref="MeterListener"/>, as
/// an exporter or <c>dotnet-counters</c> does. One instance, not one name: tests run many relays and endpoints at once,
/// each with its own meter of the same name.
/// </summary>
public sealed class MeterReader : IDisposable
{
    private readonly Meter _meter;
    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _values = [];
    private readonly HashSet<string> _instruments = [];

    public MeterReader(Meter meter)
    {
        _meter = meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter))
            {
                lock (_lock)
                {
                    _instruments.Add(instrument.Name);
                }

                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The names of the meter's instruments.</summary>
    public IReadOnlyCollection<string> Instruments
    {
        get
        {
            lock (_lock)
            {
                return [.. _instruments];
            }
        }
    }

    /// <summary>
    /// Collects now and returns <paramref name="instrument"/>'s measurement with exactly <paramref name="tags"/>
    /// (<c>"reason=unknown_cid"</c>). Throws if the meter has no such instrument or it reported no such tags.
    /// </summary>
    public long Read(string instrument, params string[] tags)
    {
        lock (_lock)
        {
            _values.Clear();
        }

        _listener.RecordObservableInstruments();
        var key = Key(instrument, tags);
        lock (_lock)
        {
            return _values.TryGetValue(key, out var value)
                ? value
                : throw new KeyNotFoundException($"{_meter.Name} reported no {key}; it reported: {string.Join(", ", _values.Keys)}");
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var names = new string[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            names[i] = $"{tags[i].Key}={tags[i].Value}";
        }

        lock (_lock)
        {
            _values[Key(instrument.Name, names)] = value;
        }
    }

    private static string Key(string instrument, string[] tags) =>
        tags.Length == 0 ? instrument : $"{instrument}{{{string.Join(',', tags.Order(StringComparer.Ordinal))}}}";
}
