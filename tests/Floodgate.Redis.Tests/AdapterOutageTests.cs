using System.Diagnostics.Metrics;
using System.Net;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Floodgate.Redis.Tests;

/// <summary>Redis stops behind a real Kestrel app: requests are answered by the outage policy, never with an error, and the outage is logged and measured; Redis back, limits are shared again.</summary>
public sealed class AdapterOutageTests : IDisposable
{
    private readonly RedisProcess _server = new();
    private readonly string _policy = "down" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task WithRedisDownTheAppAnswersByTheOutagePolicyLogsItCountsItAndRecovers()
    {
        long fallbacks = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Floodgate" && instrument.Name == "floodgate.redis.fallbacks")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            bool ours = false;
            bool local = false;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                ours |= tag.Key == "floodgate.policy" && Equals(tag.Value, _policy);
                local |= tag.Key == "floodgate.outage_policy" && Equals(tag.Value, "LocalFallback");
            }

            if (ours && local)
            {
                Interlocked.Add(ref fallbacks, value);
            }
        });
        listener.Start();

        var logs = new CapturingLoggerProvider();
        await using WebApplication app = await StartAppAsync(logs);
        using HttpClient before = AdapterTests.ClientFrom(app, 2);
        Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("/api")).StatusCode);   // shared: Redis answers

        _server.Kill();
        var statuses = new List<HttpStatusCode>();
        using HttpClient during = AdapterTests.ClientFrom(app, 3);
        for (int i = 0; i < 6; i++)
        {
            statuses.Add((await during.GetAsync("/api")).StatusCode);
        }

        // LocalFallback at half the limit of 4: two allowed in process, then refused; nothing else (no 500).
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(6, Interlocked.Read(ref fallbacks));
        Assert.Contains(logs.Entries, e => e.Id == 400 && e.Level == LogLevel.Error && e.Message.Contains(_policy, StringComparison.Ordinal));

        // Health tells the truth meanwhile: degraded, saying which policy is not shared.
        using HttpClient probe = AdapterTests.ClientFrom(app, 9);
        string health = await probe.GetStringAsync("/health");
        Assert.StartsWith("Degraded", health, StringComparison.Ordinal);
        Assert.Contains($"Redis does not answer for {_policy}", health, StringComparison.Ordinal);

        _server.Start();   // a fresh, empty server: the probe closes the breaker by itself
        await Eventually.WaitAsync(() => logs.Entries.Any(e => e.Id == 401), "the breaker closing");
        using HttpClient after = AdapterTests.ClientFrom(app, 4);
        var shared = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            shared.Add((await after.GetAsync("/api")).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], shared);   // the shared limit of 4 again
        Assert.StartsWith("Healthy", await probe.GetStringAsync("/health"), StringComparison.Ordinal);
        Assert.Equal(6, Interlocked.Read(ref fallbacks));
    }

    private async Task<WebApplication> StartAppAsync(CapturingLoggerProvider logs)
    {
        string root = Path.Combine(Path.GetTempPath(), "floodgate-redis-app-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = root, EnvironmentName = Environments.Production });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            [$"Floodgate:Policies:{_policy}:PermitLimit"] = "4",
            [$"Floodgate:Policies:{_policy}:Window"] = "00:01:00",
            ["Floodgate:Redis:Configuration"] = _server.Endpoint,
            ["Floodgate:Redis:KeyPrefix"] = _policy + ":",
            ["Floodgate:Redis:OutagePolicy"] = "LocalFallback",
            ["Floodgate:Redis:LocalFallbackShare"] = "0.5",
            ["Floodgate:Redis:Timeout"] = "00:00:00.500",
            ["Floodgate:Redis:BreakerFailureThreshold"] = "1",
            ["Floodgate:Redis:ProbeInterval"] = "00:00:00.100",
        });
        builder.Services.AddFloodgate();
        builder.Services.AddFloodgateRedis();
        builder.Services.AddHealthChecks().AddFloodgate();
        WebApplication app = builder.Build();
        app.UseFloodgate();
        app.MapGet("/api", () => "ok").RequireFloodgate(_policy);
        app.MapHealthChecks("/health", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
        {
            ResponseWriter = (context, report) => context.Response.WriteAsync(report.Status + ": " + string.Join("; ", report.Entries.Select(e => e.Value.Description))),
        }).DisableFloodgate();
        await app.StartAsync();
        return app;
    }
}
