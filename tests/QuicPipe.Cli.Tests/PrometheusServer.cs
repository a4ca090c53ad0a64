using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace QuicPipe.Cli.Tests;

/// <summary>
/// A real Prometheus server (Debian's <c>prometheus</c>, installed by scripts/setup.sh) on a free loopback port, with a
/// generated configuration that scrapes the given targets every 500 ms and a storage directory of its own, both removed
/// on Dispose. Queries go through its HTTP API, as a dashboard's would.
/// </summary>
internal sealed class PrometheusServer : IDisposable
{
    private const string Binary = "/usr/bin/prometheus";
    private readonly string _directory = Directory.CreateTempSubdirectory("quicpipe-prometheus-").FullName;
    private readonly Process _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly StringWriter _log = new();

    public PrometheusServer(string job, params string[] targets)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: scripts/setup.sh installs Debian's prometheus package.");
        }

        var port = CliTestKit.FreeTcpPort();
        Address = new Uri($"http://127.0.0.1:{port}/");
        var config = Path.Combine(_directory, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 500ms
              scrape_timeout: 400ms
            scrape_configs:
              - job_name: {job}
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]
            """);
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add($"--config.file={config}");
        start.ArgumentList.Add($"--storage.tsdb.path={Path.Combine(_directory, "data")}");
        start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port}");
        start.ArgumentList.Add("--log.level=warn");
        _process = Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
        _process.ErrorDataReceived += (_, e) => Log(e.Data);
        _process.OutputDataReceived += (_, e) => Log(e.Data);
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public Uri Address { get; }

    /// <summary>What the server printed (warnings and errors): for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Waits until the server answers <c>/-/ready</c>.</summary>
    public async Task<bool> WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var response = await _http.GetAsync(new Uri(Address, "-/ready"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        return false;
    }

    /// <summary>An instant query through <c>/api/v1/query</c>: the single sample's value, or null while there is none.</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        var json = await _http.GetStringAsync(new Uri(Address, "api/v1/query?query=" + Uri.EscapeDataString(promql)));
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"query {promql} failed: {json}");
        }

        var result = root.GetProperty("data").GetProperty("result");
        if (result.GetArrayLength() == 0)
        {
            return null;
        }

        // A vector sample is [timestamp, "value"]; with several series the query must aggregate (sum(...)).
        var value = result[0].GetProperty("value")[1].GetString()!;
        return double.Parse(value, CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private void Log(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.WriteLine(line);
            }
        }
    }
}
