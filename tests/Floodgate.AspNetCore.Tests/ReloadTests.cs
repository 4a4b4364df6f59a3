using System.Net;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// Live reload on a real Kestrel app: its appsettings.json is rewritten while it runs (the standard reloadOnChange),
/// and the limits, lists, modes and global limit follow within seconds, clients keep their state, and a bad value is
/// refused with an error naming it while the running configuration stays.
/// </summary>
public sealed class ReloadTests
{
    private const string Login = """
        "login": { "PermitLimit": 1, "Window": "1m", "BlockDuration": "10m" }
        """;

    private static string Settings(string api, string extra = "") => $$"""
        {
          "Floodgate": {
            "Persistence": false,
            {{extra}}
            "Policies": {
              "api": {{api}},
              {{Login}}
            }
          }
        }
        """;

    private static async Task<(TestServer Server, CapturingLoggerProvider Logs)> StartAsync(string settings, Action<FloodgateOptions>? configure = null)
    {
        string root = Path.Combine(Path.GetTempPath(), "floodgate-reload-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "appsettings.json"), settings);
        var logs = new CapturingLoggerProvider();
        TestServer server = await TestServer.StartAsync(
            o => configure?.Invoke(o),
            app =>
            {
                app.MapGet("/items", () => "items").RequireFloodgate("api");
                app.MapPost("/login", () => "nope").RequireFloodgate("login");
                app.MapGet("/about", () => "about");
                app.MapGet("/health", () => "ok").DisableFloodgate();
            },
            contentRoot: root,
            logs: logs);
        return (server, logs);
    }

    /// <summary>Replaces the file as an editor or a deployment does: written beside it, then renamed over it (a reader never sees half a file).</summary>
    private static async Task RewriteAsync(TestServer server, string settings)
    {
        string path = Path.Combine(server.ContentRoot, "appsettings.json");
        string temporary = path + ".new";
        await File.WriteAllTextAsync(temporary, settings);
        File.Move(temporary, path, overwrite: true);
    }

    private static async Task<int> CountOkAsync(HttpClient client, string path, int requests)
    {
        int ok = 0;
        for (int i = 0; i < requests; i++)
        {
            using HttpResponseMessage response = await client.GetAsync(path);
            ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        return ok;
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Not within 15 s: {what}.");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task RewritingAppSettingsChangesTheLimitAndListsKeepsBlocksAndRefusesABadValue()
    {
        (TestServer server, CapturingLoggerProvider logs) = await StartAsync(Settings("""{ "PermitLimit": 3, "Window": "1m" }"""));
        await using TestServer _ = server;
        using HttpClient spender = server.ClientFrom(2), offender = server.ClientFrom(3), listed = server.ClientFrom(4), fresh = server.ClientFrom(5);

        Assert.Equal(3, await CountOkAsync(spender, "/items", 5));
        Assert.Equal(HttpStatusCode.OK, (await offender.PostAsync("/login", null)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await offender.PostAsync("/login", null)).StatusCode);   // blocked for 10 minutes
        Assert.Equal(HttpStatusCode.OK, (await listed.GetAsync("/about")).StatusCode);

        // 3 -> 10 and a denylist entry, in one rewrite.
        await RewriteAsync(server, Settings("""{ "PermitLimit": 10, "Window": "1m" }""", """ "Denylist": [ "127.0.0.4" ], """));
        await EventuallyAsync(async () => (await listed.GetAsync("/about")).StatusCode == HttpStatusCode.Forbidden, "the denylist entry applies");
        Assert.Contains(logs.Entries, e => e.Id == 310 && e.Message.Contains("policy 'api': PermitLimit 3 -> 10", StringComparison.Ordinal)
            && e.Message.Contains("Floodgate:Denylist + 127.0.0.4", StringComparison.Ordinal));

        // The spender's 3 admitted requests still count against the new 10; a fresh client gets all 10.
        Assert.Equal(7, await CountOkAsync(spender, "/items", 12));
        Assert.Equal(10, await CountOkAsync(fresh, "/items", 12));
        using (HttpResponseMessage headers = await server.ClientFrom(6).GetAsync("/items"))
        {
            Assert.Equal("\"api\";q=10;w=60", headers.Headers.GetValues("RateLimit-Policy").Single());
        }

        // The block made before the change is kept; the denylisted client is refused everywhere but the health probe.
        using (HttpResponseMessage blocked = await offender.PostAsync("/login", null))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
            Assert.InRange(int.Parse(blocked.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 590, 600);
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await listed.GetAsync("/items")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await listed.GetAsync("/health")).StatusCode);

        // A bad value: refused with an error naming the setting and the value; the running configuration (10, the entry) stays.
        await RewriteAsync(server, Settings("""{ "PermitLimit": -5, "Window": "1m" }"""));
        await EventuallyAsync(() => Task.FromResult(logs.Entries.Any(e => e.Id == 311)), "the refusal is logged");
        (int Id, LogLevel Level, string Message) refusal = logs.Entries.Single(e => e.Id == 311);
        Assert.Equal(LogLevel.Error, refusal.Level);
        Assert.Contains("Floodgate:Policies:api", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("PermitLimit", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("-5", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(10, await CountOkAsync(server.ClientFrom(7), "/items", 12));
        Assert.Equal(HttpStatusCode.Forbidden, (await listed.GetAsync("/about")).StatusCode);

        // A value that does not even bind ("ten") is refused the same way, naming where it is.
        await RewriteAsync(server, Settings("""{ "PermitLimit": "ten", "Window": "1m" }"""));
        await EventuallyAsync(() => Task.FromResult(logs.Entries.Count(e => e.Id == 311) >= 2), "the second refusal is logged");
        Assert.Contains(logs.Entries, e => e.Id == 311 && e.Message.Contains("Floodgate:Policies:api:PermitLimit", StringComparison.Ordinal) && e.Message.Contains("ten", StringComparison.Ordinal));
        Assert.Equal(10, await CountOkAsync(server.ClientFrom(8), "/items", 12));

        // And a good file afterwards applies again: the entry removed, the limit back to 3.
        await RewriteAsync(server, Settings("""{ "PermitLimit": 3, "Window": "1m" }"""));
        await EventuallyAsync(async () => (await listed.GetAsync("/about")).StatusCode == HttpStatusCode.OK, "the entry's removal applies");
        Assert.Equal(3, await CountOkAsync(server.ClientFrom(9), "/items", 5));
    }

    [Fact]
    public async Task AShapeChangeIsRefusedWholeAndAStartupOnlySettingWarnsWhileTheRestApplies()
    {
        (TestServer server, CapturingLoggerProvider logs) = await StartAsync(Settings("""{ "PermitLimit": 3, "Window": "1m" }"""));
        await using TestServer _ = server;
        var configuration = (IConfigurationRoot)server.Services.GetRequiredService<IConfiguration>();

        // An algorithm change needs another table: the whole change is refused, the limit change in it too.
        await RewriteAsync(server, Settings("""{ "PermitLimit": 10, "Window": "1m", "Algorithm": "TokenBucket" }"""));
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 311 && e.Message.Contains("Floodgate:Policies:api:Algorithm cannot change while the app runs", StringComparison.Ordinal)
            && e.Message.Contains("running FixedWindow, got TokenBucket", StringComparison.Ordinal));
        Assert.Equal(3, await CountOkAsync(server.ClientFrom(2), "/items", 5));

        // Capacity is read at startup only: a warning says so, and the limit change beside it applies.
        await RewriteAsync(server, Settings("""{ "PermitLimit": 10, "Window": "1m" }""", """ "Capacity": 1024, """));
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 312 && e.Level == LogLevel.Warning && e.Message.Contains("Floodgate:Capacity changed in configuration (65536 -> 1024)", StringComparison.Ordinal));
        Assert.Equal(10, await CountOkAsync(server.ClientFrom(3), "/items", 12));
        Assert.Equal(FloodgateOptions.DefaultCapacity, server.Services.GetRequiredService<FloodgateService>().Options.Capacity);

        // Floodgate.Redis's settings are read at startup too: a change is said (a connection string's values never are).
        await RewriteAsync(server, Settings("""{ "PermitLimit": 10, "Window": "1m" }""", """ "Capacity": 1024, "Redis": { "SyncMode": "Batched", "Configuration": "redis:6379,password=hunter2" }, """));
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 312 && e.Message.Contains("Floodgate:Redis:SyncMode changed in configuration (unset -> Batched)", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.Id == 312 && e.Message.Contains("Floodgate:Redis:Configuration changed in configuration (not shown -> not shown)", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALimitBelowWhatAnEndpointCostsIsRefused()
    {
        string root = Path.Combine(Path.GetTempPath(), "floodgate-reload-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "appsettings.json"), Settings("""{ "PermitLimit": 10, "Window": "1m" }"""));
        var logs = new CapturingLoggerProvider();
        await using TestServer server = await TestServer.StartAsync(
            _ => { },
            app => app.MapGet("/export", () => "csv").RequireFloodgate("api", cost: 5),
            contentRoot: root,
            logs: logs);
        var configuration = (IConfigurationRoot)server.Services.GetRequiredService<IConfiguration>();

        // A request of /export asks 5 permits: a PermitLimit of 3 could never admit it (and a check of 5 against it would throw).
        await RewriteAsync(server, Settings("""{ "PermitLimit": 3, "Window": "1m" }"""));
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 311 && e.Message.Contains("Floodgate:Policies:api:PermitLimit would be 3, below the 5 permits one request of", StringComparison.Ordinal));
        Assert.Equal(2, await CountOkAsync(server.ClientFrom(2), "/export", 3));   // still 10: two requests of 5
    }

    [Fact]
    public async Task ReloadsWhileClientsHammerTheAppNeverFailARequest()
    {
        (TestServer server, CapturingLoggerProvider logs) = await StartAsync(Settings("""{ "PermitLimit": 50, "Window": "1m" }"""));
        await using TestServer _ = server;
        var configuration = (IConfigurationRoot)server.Services.GetRequiredService<IConfiguration>();
        using var stop = new CancellationTokenSource();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        Task[] clients = Enumerable.Range(10, 4).Select(host => Task.Run(async () =>
        {
            using HttpClient client = server.ClientFrom(host);
            while (!stop.IsCancellationRequested)
            {
                using HttpResponseMessage response = await client.GetAsync(host % 2 == 0 ? "/items" : "/about");
                statuses.Add(response.StatusCode);
            }
        })).ToArray();

        // 20 reloads: the limit, the mode, a list entry and a default policy come and go under the requests.
        for (int i = 0; i < 20; i++)
        {
            string extra = i % 2 == 0 ? """ "Denylist": [ "127.0.0.99" ], "DefaultPolicy": "login", """ : string.Empty;
            string mode = i % 3 == 0 ? """, "Mode": "Shadow" """ : string.Empty;
            await RewriteAsync(server, Settings($$"""{ "PermitLimit": {{(i % 2 == 0 ? 5 : 500)}}, "Window": "1m"{{mode}} }""", extra));
            configuration.Reload();
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.True(statuses.Count > 100, $"only {statuses.Count} requests");
        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        Assert.DoesNotContain(logs.Entries, e => e.Id == 311 && !e.Message.Contains("section is gone", StringComparison.Ordinal));
        // The file watcher reloads too, so two reloads may apply one write: what counts is that the last write runs.
        Assert.True(logs.Entries.Count(e => e.Id == 310) >= 10);
        FloodgateService service = server.Services.GetRequiredService<FloodgateService>();
        Assert.Equal(500, service.Policies["api"].PermitLimit);
        Assert.Null(service.Options.DefaultPolicy);
    }

    [Fact]
    public async Task AFloodgateSectionThatDisappearsIsRefusedNotAppliedAsNoPolicies()
    {
        (TestServer server, CapturingLoggerProvider logs) = await StartAsync(Settings("""{ "PermitLimit": 3, "Window": "1m" }"""));
        await using TestServer _ = server;

        // What a reload overlapping another can read (the file provider empties its data first), or a file emptied by hand.
        await RewriteAsync(server, "{ }");
        ((IConfigurationRoot)server.Services.GetRequiredService<IConfiguration>()).Reload();
        Assert.Contains(logs.Entries, e => e.Id == 311 && e.Message.Contains("the Floodgate section is gone", StringComparison.Ordinal));
        Assert.Equal(3, await CountOkAsync(server.ClientFrom(2), "/items", 5));   // still limited
    }

    [Fact]
    public async Task PoliciesComeAndGoModesAndTheGlobalLimitFollow()
    {
        (TestServer server, CapturingLoggerProvider logs) = await StartAsync(Settings("""{ "PermitLimit": 3, "Window": "1m" }"""));
        await using TestServer _ = server;
        var configuration = (IConfigurationRoot)server.Services.GetRequiredService<IConfiguration>();
        using HttpClient client = server.ClientFrom(2);
        Assert.Equal(3, await CountOkAsync(client, "/items", 4));

        // A new policy, made the default for endpoints without one, starts empty; a shadow mode stops refusals.
        await RewriteAsync(server, $$"""
            {
              "Floodgate": {
                "Persistence": false,
                "DefaultPolicy": "site",
                "GlobalLimit": { "PermitLimit": 1000, "Window": "1m" },
                "Policies": {
                  "api": { "PermitLimit": 3, "Window": "1m", "Mode": "Shadow" },
                  "site": { "PermitLimit": 2, "Window": "1m" },
                  {{Login}}
                }
              }
            }
            """);
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 310 && e.Message.Contains("policy 'site' added", StringComparison.Ordinal) && e.Message.Contains("global limit added", StringComparison.Ordinal));
        Assert.Equal(2, await CountOkAsync(client, "/about", 4));
        Assert.Equal(5, await CountOkAsync(client, "/items", 5));   // a dry run now: over its limit, never refused
        using (HttpResponseMessage shadow = await client.GetAsync("/items"))
        {
            Assert.False(shadow.Headers.Contains("RateLimit-Policy"));
        }

        // The global limit changes in place: 5 for everyone now (it has counted the 10 requests since it was added).
        await RewriteAsync(server, $$"""
            {
              "Floodgate": {
                "Persistence": false,
                "GlobalLimit": { "PermitLimit": 12, "Window": "1m" },
                "Policies": {
                  "api": { "PermitLimit": 3, "Window": "1m" },
                  {{Login}}
                }
              }
            }
            """);
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 310 && e.Message.Contains("policy 'site' removed", StringComparison.Ordinal) && e.Message.Contains("global limit: PermitLimit 1000 -> 12", StringComparison.Ordinal));
        using HttpClient other = server.ClientFrom(3);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/about")).StatusCode);   // no default policy any more
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/about")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await other.GetAsync("/about")).StatusCode);   // 12 since the global limit came
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/health")).StatusCode);

        // Brought back, a removed policy has its clients' state: client .2 spent its 2 on "site".
        await RewriteAsync(server, $$"""
            {
              "Floodgate": {
                "Persistence": false,
                "DefaultPolicy": "site",
                "Policies": {
                  "api": { "PermitLimit": 3, "Window": "1m" },
                  "site": { "PermitLimit": 2, "Window": "1m" },
                  {{Login}}
                }
              }
            }
            """);
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 310 && e.Message.Contains("policy 'site' restored with its clients' state", StringComparison.Ordinal) && e.Message.Contains("global limit removed", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/about")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(4).GetAsync("/about")).StatusCode);
    }

    [Fact]
    public async Task APolicyDefinedInCodeIsNotReplacedByAReloadAndPersistenceFollowsTheChange()
    {
        string settings = """
            {
              "Floodgate": {
                "Policies": {
                  "api": { "PermitLimit": 3, "Window": "1m", "BlockDuration": "1h" },
                  "login": { "PermitLimit": 1, "Window": "1m" }
                }
              }
            }
            """;
        (TestServer server, CapturingLoggerProvider logs) = await StartAsync(settings, o => o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) }));
        server.DeleteContentOnDispose = false;
        var configuration = (IConfigurationRoot)server.Services.GetRequiredService<IConfiguration>();
        await RewriteAsync(server, settings.Replace("\"PermitLimit\": 1,", "\"PermitLimit\": 5,", StringComparison.Ordinal).Replace("\"PermitLimit\": 3,", "\"PermitLimit\": 2,", StringComparison.Ordinal));
        configuration.Reload();
        Assert.Contains(logs.Entries, e => e.Id == 310 && e.Message.Contains("policy 'api': PermitLimit 3 -> 2", StringComparison.Ordinal) && !e.Message.Contains("'login'", StringComparison.Ordinal));

        // Code wins over configuration at a reload as at startup: login stays at 2.
        using HttpClient client = server.ClientFrom(2);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/login", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/login", null)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsync("/login", null)).StatusCode);

        // A block under the changed policy is checkpointed from the same data directory and found after a restart.
        Assert.Equal(2, await CountOkAsync(client, "/items", 3));
        await server.DisposeAsync();
        TestServer again = await TestServer.StartAsync(
            o => o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) }),
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            contentRoot: server.ContentRoot);
        await using (again)
        {
            using HttpClient back = again.ClientFrom(2);
            using HttpResponseMessage blocked = await back.GetAsync("/items");
            Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
            Assert.True(int.Parse(blocked.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) > 3000);
        }
    }
}
