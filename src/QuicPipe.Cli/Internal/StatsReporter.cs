using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using QuicPipe.Dataplane;
using QuicPipe.Relay;
using QuicPipe.Xdp;

namespace QuicPipe.Cli.Internal;

/// <summary>Prints the relay's counters to stderr every interval: rates for people, cumulative JSON for scripts.</summary>
internal sealed class StatsReporter(Func<RelayStats> snapshot, TimeSpan interval, StatsFormat format) : BackgroundService
{
    private readonly bool _live = format == StatsFormat.Text && !Console.IsErrorRedirected;
    private RelayStats? _previous;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Print(snapshot());
            }
        }
        catch (OperationCanceledException)
        {
        }

        if (_live)
        {
            Console.Error.WriteLine();
        }
    }

    private void Print(RelayStats stats)
    {
        if (format == StatsFormat.Json)
        {
            Console.Error.WriteLine(ToJson(stats));
        }
        else if (_live)
        {
            // Redraw one line in place: carriage return, then erase to the end of the line.
            Console.Error.Write("\r\u001b[K" + ToText(stats, _previous));
        }
        else
        {
            Console.Error.WriteLine(ToText(stats, _previous));
        }

        _previous = stats;
    }

    internal static string ToText(RelayStats now, RelayStats? before)
    {
        var seconds = before is null ? now.Uptime.TotalSeconds : (now.Uptime - before.Uptime).TotalSeconds;
        seconds = Math.Max(seconds, 1e-3);
        var p = now.Packets;
        var b = before?.Packets;
        double Rate(long current, long previous) => (current - previous) / seconds;

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"relay rx {Si(Rate(p.Received, b?.Received ?? 0))}pps");
        text.Append(CultureInfo.InvariantCulture, $" fwd {Si(Rate(p.Forwarded, b?.Forwarded ?? 0))}pps {Si(Rate(p.ForwardedBytes, b?.ForwardedBytes ?? 0) * 8)}bit/s");
        text.Append(CultureInfo.InvariantCulture, $" drop {Si(Rate(p.DroppedTotal, b?.DroppedTotal ?? 0))}pps");
        var reasons = new List<string>();
        for (var r = 1; r < DropReasons.Count; r++)
        {
            var delta = p.Dropped[r] - (b?.Dropped[r] ?? 0);
            if (delta > 0)
            {
                reasons.Add($"{DropReasons.Name((DropReason)r)} {delta}");
            }
        }

        if (reasons.Count > 0)
        {
            text.Append(" [").AppendJoin(", ", reasons).Append(']');
        }

        var forwarded = p.Forwarded - (b?.Forwarded ?? 0);
        var gsoSegments = p.GsoSegments - (b?.GsoSegments ?? 0);
        if (forwarded > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" gso {100.0 * gsoSegments / forwarded:0}%");
        }

        text.Append(CultureInfo.InvariantCulture, $" routes {now.Routes} gc {now.Gen0Collections}/{now.Gen1Collections}/{now.Gen2Collections}");
        if (now.Control is { } c)
        {
            text.Append(CultureInfo.InvariantCulture, $" | peers {c.Sessions} cids {c.Registry.Cids} reg {c.Registrations} refused {c.RegistrationsRefused} signals {c.SignalsDelivered}");
        }

        if (now.Xdp is { } x)
        {
            // After every existing field, so scripts that read the line from the left keep working.
            var bx = before?.Xdp?.Program;
            var passed = x.Program.PassedToUserspace - (bx is { } pb ? pb.PassedToUserspace : 0);
            text.Append(CultureInfo.InvariantCulture, $" | xdp tx {Si(Rate((long)x.Program.Transmitted, (long)(bx?.Transmitted ?? 0)))}pps");
            text.Append(CultureInfo.InvariantCulture, $" miss {Si(Rate((long)x.Program.Missed, (long)(bx?.Missed ?? 0)))}pps");
            text.Append(CultureInfo.InvariantCulture, $" pass {Si(passed / seconds)}pps reinserted {x.MissesReinserted} tx_errors {x.TransmitErrors}");
        }

        return text.ToString();
    }

    internal static string ToJson(RelayStats stats)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            var p = stats.Packets;
            json.WriteStartObject();
            json.WriteNumber("uptime_s", Math.Round(stats.Uptime.TotalSeconds, 3));
            json.WriteNumber("received", p.Received);
            json.WriteNumber("received_bytes", p.ReceivedBytes);
            json.WriteNumber("forwarded", p.Forwarded);
            json.WriteNumber("forwarded_bytes", p.ForwardedBytes);
            json.WriteNumber("dropped", p.DroppedTotal);
            json.WriteStartObject("dropped_by_reason");
            for (var r = 1; r < DropReasons.Count; r++)
            {
                json.WriteNumber(DropReasons.Name((DropReason)r), p.Dropped[r]);
            }

            json.WriteEndObject();
            json.WriteNumber("batches", p.Batches);
            json.WriteNumber("gso_sends", p.GsoSends);
            json.WriteNumber("gso_segments", p.GsoSegments);
            json.WriteNumber("gro_buffers", p.GroBuffers);
            json.WriteNumber("routes", stats.Routes);
            json.WriteNumber("evictions", stats.Evictions);
            json.WriteNumber("gc0", stats.Gen0Collections);
            json.WriteNumber("gc1", stats.Gen1Collections);
            json.WriteNumber("gc2", stats.Gen2Collections);
            json.WriteNumber("allocated_bytes", stats.AllocatedBytes);
            if (stats.Control is { } c)
            {
                json.WriteStartObject("control");
                json.WriteNumber("sessions", c.Sessions);
                json.WriteNumber("connections_accepted", c.ConnectionsAccepted);
                json.WriteNumber("refused_without_certificate", c.RefusedWithoutCertificate);
                json.WriteNumber("refused_not_allowed", c.RefusedNotAllowed);
                json.WriteNumber("refused_per_source", c.RefusedPerSource);
                json.WriteNumber("registrations", c.Registrations);
                json.WriteNumber("registrations_refused", c.RegistrationsRefused);
                json.WriteNumber("refreshes", c.Refreshes);
                json.WriteNumber("signals_delivered", c.SignalsDelivered);
                json.WriteNumber("signals_unknown_node", c.SignalsUnknownNode);
                json.WriteNumber("signals_rate_limited", c.SignalsRateLimited);
                json.WriteNumber("protocol_errors", c.ProtocolErrors);
                json.WriteNumber("identities", c.Registry.Identities);
                json.WriteNumber("registered_cids", c.Registry.Cids);
                json.WriteNumber("window_advances", c.Registry.WindowAdvances);
                json.WriteNumber("expired", c.Registry.Expired);
                json.WriteEndObject();
            }

            if (stats.Xdp is { } x)
            {
                json.WriteStartObject("xdp");
                json.WriteString("interface", x.Interface);
                json.WriteString("mode", x.Mode == XdpAttachMode.Native ? "native" : "generic");
                json.WriteNumber("rx", x.Program.Received);
                json.WriteNumber("tx", x.Program.Transmitted);
                json.WriteNumber("miss", x.Program.Missed);
                json.WriteNumber("miss_buffer_full", x.Program.MissBufferFull);
                json.WriteNumber("pass", x.Program.PassedToUserspace);
                json.WriteNumber("pass_long_header", x.Program.PassedLongHeader);
                json.WriteNumber("pass_relay_cid", x.Program.PassedRelayCid);
                json.WriteNumber("pass_family", x.Program.PassedFamilyChange);
                json.WriteNumber("pass_unsupported", x.Program.PassedUnsupported);
                json.WriteNumber("pass_reflection", x.Program.PassedReflection);
                json.WriteNumber("pass_busy", x.Program.PassedBusy);
                json.WriteNumber("malformed", x.Program.Malformed);
                json.WriteNumber("non_quic", x.Program.NonQuic);
                json.WriteNumber("misses_reinserted", x.MissesReinserted);
                json.WriteNumber("misses_ignored", x.MissesIgnored);
                json.WriteNumber("sync_errors", x.SyncErrors);
                json.WriteNumber("routes_not_offloaded", x.RoutesNotOffloaded);
                json.WriteNumber("tx_errors", x.TransmitErrors);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string Si(double value) => value switch
    {
        >= 1e9 => (value / 1e9).ToString("0.00G", CultureInfo.InvariantCulture),
        >= 1e6 => (value / 1e6).ToString("0.00M", CultureInfo.InvariantCulture),
        >= 1e3 => (value / 1e3).ToString("0.0k", CultureInfo.InvariantCulture),
        _ => value.ToString("0", CultureInfo.InvariantCulture),
    };
}
