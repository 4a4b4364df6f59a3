using System.Diagnostics.Metrics;
using System.Net;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// Shadow mode, on a real Kestrel: a dry-run policy counts, blocks and escalates on its own state and never refuses;
/// beside an enforced one it answers "what would this limit have refused"; the app-wide mode dry-runs everything.
/// </summary>
public sealed class ShadowTests
{
    [Fact]
    public async Task AShadowCandidateBesideTheEnforcedPolicyCountsAndBlocksButNeverRefusesNorShowsItself()
    {
        var logs = new CapturingLoggerProvider { MinimumLevel = LogLevel.Debug };
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromMinutes(1) });
                o.AddPolicy("api-candidate", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5), Mode = FloodgatePolicyMode.Shadow });
            },
            app => app.MapGet("/items", () => "items").RequireFloodgate("api", "api-candidate"),
            settings: new() { ["Logging:LogLevel:Default"] = "Debug" },
            logs: logs);
        using HttpClient client = server.ClientFrom(2);
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 12; i++)
        {
            using HttpResponseMessage answer = await client.GetAsync("/items");
            statuses.Add(answer.StatusCode);
            Assert.Equal("\"api\";q=10;w=60", answer.Headers.GetValues("RateLimit-Policy").Single());   // the candidate is invisible
            Assert.DoesNotContain("candidate", answer.Headers.GetValues("RateLimit").Single(), StringComparison.Ordinal);
        }

        // The enforced limit alone decides: 10 served, then 429.
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 10).Concat(Enumerable.Repeat(HttpStatusCode.TooManyRequests, 2)), statuses);

        // The candidate ran in full on its own state: it would have blocked the client at the fourth request.
        FloodgateLimiter candidate = server.Services.GetRequiredService<FloodgateService>().Limiters["api-candidate"];
        ClientState state = candidate.Inspect(IPAddress.Parse("127.0.0.2"));
        Assert.True(state.IsBlocked);
        Assert.Equal(1, state.BlockCount);
        Assert.Contains(logs.Entries, e => e.Id == 307 && e.Message.Contains("api-candidate (shadow): 127.0.0.2 would be Blocked", StringComparison.Ordinal));
        Assert.Equal(9, logs.Entries.Count(e => e.Id == 306 && e.Message.Contains("api-candidate", StringComparison.Ordinal)));   // requests 4 to 12
        Assert.DoesNotContain(logs.Entries, e => e.Id == 301 && e.Message.Contains("api-candidate", StringComparison.Ordinal));   // no real block of it
    }

    [Fact]
    public async Task ShadowDecisionsAreMeasuredWithTheShadowTag()
    {
        const string Name = "shadow-metrics-candidate";   // a name no other test uses: the listener sees every meter
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy(Name, new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1), Mode = FloodgatePolicyMode.Shadow });
            },
            app => app.MapGet("/items", () => "items").RequireFloodgate(Name));
        var measured = new List<(long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "floodgate.decisions")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (measured)
            {
                measured.Add((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
            }
        });
        listener.Start();

        using HttpClient client = server.ClientFrom(3);
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage answer = await client.GetAsync("/items");
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.False(answer.Headers.Contains("RateLimit"));   // only shadow policies: no headers at all
        }

        listener.RecordObservableInstruments();
        var refused = measured.Where(m => (string?)m.Tags["floodgate.limiter"] == Name && (string?)m.Tags["floodgate.decision"] == "rate_limited").ToList();
        Assert.Equal(3, Assert.Single(refused).Value);
        Assert.Equal("shadow", refused[0].Tags["floodgate.mode"]);
    }

    [Fact]
    public async Task TheAppWideShadowModeDryRunsEverythingTheGlobalGuardAndTheListsIncluded()
    {
        var logs = new CapturingLoggerProvider { MinimumLevel = LogLevel.Debug };
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.Mode = FloodgatePolicyMode.Shadow;
                o.Denylist.Add("127.0.0.66");
                o.GlobalLimit = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1) };
                o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) });
            },
            app =>
            {
                app.MapPost("/login", () => "nope").RequireFloodgate("login");
                app.MapGet("/about", () => "about");
            },
            settings: new() { ["Logging:LogLevel:Default"] = "Debug" },
            logs: logs);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(4).PostAsync("/login", null)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(66).GetAsync("/about")).StatusCode);   // denylisted, but a dry run
        Assert.Contains(logs.Entries, e => e.Id == 306 && e.Message.Contains("global (shadow)", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Id == 306 && e.Message.Contains("login (shadow): 127.0.0.4 would be refused: Blocked", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Id == 306 && e.Message.Contains("127.0.0.66 would be refused: Denylisted", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Id == 307 && e.Message.Contains("login (shadow): 127.0.0.4 would be Blocked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModeComesFromConfigurationAndABadOneStopsStartup()
    {
        await using (TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            settings: new()
            {
                ["Floodgate:Policies:api:PermitLimit"] = "1",
                ["Floodgate:Policies:api:Window"] = "1m",
                ["Floodgate:Policies:api:Mode"] = "Shadow",
            }))
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(5).GetAsync("/items")).StatusCode);
            }
        }

        var e = await Assert.ThrowsAnyAsync<Exception>(() => TestServer.StartAsync(_ => { }, _ => { }, settings: new()
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:api:PermitLimit"] = "1",
            ["Floodgate:Policies:api:Window"] = "1m",
            ["Floodgate:Policies:api:Mode"] = "Dry",
        }));
        Assert.Contains("Floodgate:Policies:api:Mode", e.ToString(), StringComparison.Ordinal);
    }
}
