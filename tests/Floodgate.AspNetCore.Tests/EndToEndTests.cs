using System.Net;
using System.Net.Http.Headers;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

/// <summary>Real Kestrel on 127.0.0.1; each client's connections come from its own loopback address.</summary>
public sealed class EndToEndTests
{
    private static FloodgatePolicy PerMinute(int permits) => new() { PermitLimit = permits, Window = TimeSpan.FromMinutes(1) };

    private static Task<TestServer> Api(Action<FloodgateOptions>? more = null) => TestServer.StartAsync(
        o =>
        {
            o.Persistence = false;
            o.Contact = "ops@example.com";
            o.AddPolicy("api", PerMinute(2));
            o.AddPolicy("login", new FloodgatePolicy
            {
                PermitLimit = 1,
                Window = TimeSpan.FromMinutes(1),
                BlockDuration = TimeSpan.FromMinutes(5),
                BlockLimit = 1,
            });
            more?.Invoke(o);
        },
        app =>
        {
            app.MapGet("/items", () => "items").RequireFloodgate("api");
            app.MapPost("/login", () => "nope").RequireFloodgate("login");
            app.MapGet("/both", () => "both").RequireFloodgate("api", "login");
            app.MapGet("/health", () => "ok").DisableFloodgate();
            app.MapGet("/attributed", [Floodgate("api")] () => "attributed");
        });

    [Fact]
    public async Task ClientsAreLimitedPerAddressWithRateLimitHeaders()
    {
        await using TestServer server = await Api();
        using HttpClient a = server.ClientFrom(2);
        using HttpClient b = server.ClientFrom(3);

        HttpResponseMessage first = await a.GetAsync("/items");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("\"api\";q=2;w=60", first.Headers.GetValues("RateLimit-Policy").Single());
        Assert.Equal("\"api\";r=1;t=60", first.Headers.GetValues("RateLimit").Single());
        await a.GetAsync("/items");

        server.Time.Advance(TimeSpan.FromSeconds(12.5));
        HttpResponseMessage limited = await a.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(48), limited.Headers.RetryAfter!.Delta);   // 47.5 s rounded up
        Assert.Equal("\"api\";r=0;t=48", limited.Headers.GetValues("RateLimit").Single());
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType!.MediaType);
        string problem = await limited.Content.ReadAsStringAsync();
        Assert.Contains("\"status\":429", problem);
        Assert.Contains("\"retryAfter\":48", problem);
        Assert.Contains("ops@example.com", problem);
        Assert.DoesNotContain("127.0.0", limited.Headers.ToString());          // no client address in headers

        Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/items")).StatusCode);   // another address, another budget
    }

    [Fact]
    public async Task BrowsersGetAFriendlyPageApisGetProblemJson()
    {
        await using TestServer server = await Api();
        using HttpClient a = server.ClientFrom(4);
        await a.GetAsync("/items");
        await a.GetAsync("/items");

        using var browser = new HttpRequestMessage(HttpMethod.Get, "/items");
        browser.Headers.Accept.ParseAdd("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        HttpResponseMessage page = await a.SendAsync(browser);
        Assert.Equal(HttpStatusCode.TooManyRequests, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<h1>Too many requests</h1>", html);
        Assert.Contains("Please try again in 60 seconds.", html);
        Assert.Contains("contact ops@example.com", html);

        using var api = new HttpRequestMessage(HttpMethod.Get, "/items");
        api.Headers.Accept.ParseAdd("*/*");
        Assert.Equal("application/problem+json", (await a.SendAsync(api)).Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task BlocksEscalateToABlacklistWith403()
    {
        await using TestServer server = await Api();
        using HttpClient a = server.ClientFrom(5);
        await a.PostAsync("/login", null);
        HttpResponseMessage blocked = await a.PostAsync("/login", null);
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(5), blocked.Headers.RetryAfter!.Delta);
        Assert.Contains("temporarily blocked", await blocked.Content.ReadAsStringAsync());

        server.Time.Advance(TimeSpan.FromMinutes(5));
        await a.PostAsync("/login", null);
        HttpResponseMessage banned = await a.PostAsync("/login", null);              // second block: past BlockLimit 1
        Assert.Equal(HttpStatusCode.Forbidden, banned.StatusCode);
        Assert.Null(banned.Headers.RetryAfter);
        server.Time.Advance(TimeSpan.FromDays(30));
        Assert.Equal(HttpStatusCode.Forbidden, (await a.PostAsync("/login", null)).StatusCode);
    }

    [Fact]
    public async Task DenylistedAddressesGet403()
    {
        await using TestServer server = await Api(o => o.Denylist.Add("127.0.0.66/32"));
        using HttpClient denied = server.ClientFrom(66);
        HttpResponseMessage response = await denied.GetAsync("/items");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Access denied", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(67).GetAsync("/items")).StatusCode);
    }

    [Fact]
    public async Task TheGlobalGuardAnswers503BeforeAnyPerClientWorkButNeverOnADisabledEndpoint()
    {
        await using TestServer server = await Api(o => o.GlobalLimit = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromSeconds(1) });
        var statuses = new List<HttpStatusCode>();
        for (int client = 10; client < 15; client++)
        {
            statuses.Add((await server.ClientFrom(client).GetAsync("/nowhere")).StatusCode);   // no endpoint: counted by the guard
        }

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable], statuses);
        HttpResponseMessage busy = await server.ClientFrom(15).GetAsync("/items");
        Assert.Equal("application/problem+json", busy.Content.Headers.ContentType?.MediaType);   // tiny and static
        Assert.Contains("temporary-reduced-capacity", await busy.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(1), busy.Headers.RetryAfter!.Delta);

        // Health probes (and the admin endpoints) are [DisableFloodgate]: the flood never reaches them, nor they it.
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(17).GetAsync("/health")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await server.ClientFrom(18).GetAsync("/items")).StatusCode);
        server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(16).GetAsync("/items")).StatusCode);
    }

    [Fact]
    public async Task AtTheConcurrencyCapDisabledEndpointsStillAnswer()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inside = 0;
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.GlobalConcurrencyLimit = 2;
            },
            app =>
            {
                app.MapGet("/slow", async () =>
                {
                    Interlocked.Increment(ref inside);
                    await release.Task;
                    return "slow";
                });
                app.MapGet("/health", () => "ok").DisableFloodgate();
            });
        Task<HttpResponseMessage>[] held = [server.ClientFrom(2).GetAsync("/slow"), server.ClientFrom(3).GetAsync("/slow")];
        await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref inside) == 2), "two requests holding the cap");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await server.ClientFrom(4).GetAsync("/slow")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(4).GetAsync("/health")).StatusCode);
        release.SetResult();
        Assert.All(await Task.WhenAll(held), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
    }

    [Fact]
    public async Task ExemptRequestsAndDisabledEndpointsAreNeverLimited()
    {
        await using TestServer server = await Api(o => o.Exempt = c => c.Request.Headers["X-Probe-Key"] == "secret");
        using HttpClient a = server.ClientFrom(20);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/health")).StatusCode);
            using var probe = new HttpRequestMessage(HttpMethod.Get, "/items");
            probe.Headers.Add("X-Probe-Key", "secret");
            Assert.Equal(HttpStatusCode.OK, (await a.SendAsync(probe)).StatusCode);
        }

        Assert.False((await a.GetAsync("/health")).Headers.Contains("RateLimit"));
    }

    [Fact]
    public async Task SeveralPoliciesOnOneEndpointAllApply()
    {
        await using TestServer server = await Api();
        using HttpClient a = server.ClientFrom(30);
        HttpResponseMessage first = await a.GetAsync("/both");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("\"api\";q=2;w=60, \"login\";q=1;w=60", first.Headers.GetValues("RateLimit-Policy").Single());
        HttpResponseMessage second = await a.GetAsync("/both");                    // login allows 1 per minute
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Contains("\"policy\":\"login\"", await second.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AttributesOnMinimalApiHandlersAndMvcActionsApply()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", PerMinute(1));
            },
            app =>
            {
                app.MapGet("/attributed", [Floodgate("api")] () => "attributed");
                app.MapControllers();
            },
            services: s => s.AddControllers().AddApplicationPart(typeof(OrdersController).Assembly));
        using HttpClient a = server.ClientFrom(40);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/attributed")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await a.GetAsync("/attributed")).StatusCode);

        using HttpClient b = server.ClientFrom(41);
        Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/orders")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await b.GetAsync("/orders")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/orders/status")).StatusCode);   // [DisableFloodgate] action
    }

    [Fact]
    public async Task ForwardingHeadersFromAnUntrustedPeerDoNotEscapeTheLimit()
    {
        await using TestServer server = await Api();
        using HttpClient spoofer = server.ClientFrom(50);
        var random = new Random(5);
        var statuses = new List<HttpStatusCode>();
        var fakes = new List<IPAddress>();
        for (int i = 0; i < 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/items");
            string fake = $"{random.Next(1, 223)}.{random.Next(256)}.{random.Next(256)}.{random.Next(256)}";
            fakes.Add(IPAddress.Parse(fake));
            request.Headers.Add("X-Forwarded-For", fake);
            request.Headers.Add("X-Real-IP", fake);
            request.Headers.Add("Forwarded", $"for={fake}");
            statuses.Add((await spoofer.SendAsync(request)).StatusCode);
        }

        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.OK));

        // The spoofed addresses never became keys: only the real peer is tracked.
        FloodgateLimiter limiter = server.Services.GetRequiredService<FloodgateService>().Limiters["api"];
        Assert.True(limiter.Inspect(IPAddress.Parse("127.0.0.50")).IsTracked);
        Assert.All(fakes, fake => Assert.False(limiter.Inspect(fake).IsTracked));
    }

    [Fact]
    public async Task ClientsWithoutAnAddressShareOneUnknownBudget()
    {
        // Kestrel on a Unix domain socket: RemoteIpAddress is null for every connection there.
        // Unix socket paths are limited to ~108 bytes: fall back to /tmp when the temp directory's path is long.
        string name = "floodgate-" + Guid.NewGuid().ToString("N")[..12] + ".sock";
        string socket = Path.Combine(Path.GetTempPath(), name);
        socket = socket.Length <= 100 ? socket : Path.Combine("/tmp", name);
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("api", PerMinute(2));
            },
            app => app.MapGet("/items", () => "items").RequireFloodgate("api"),
            unixSocket: socket);
        using HttpClient first = TestServer.ClientOverUnixSocket(socket);
        using HttpClient second = TestServer.ClientOverUnixSocket(socket);

        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/items")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/items")).StatusCode);   // another connection, same key
        HttpResponseMessage limited = await first.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(60), limited.Headers.RetryAfter!.Delta);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await second.GetAsync("/items")).StatusCode);

        // Clients with an address keep their own budgets.
        using HttpClient tcp = server.ClientFrom(70);
        Assert.Equal(HttpStatusCode.OK, (await tcp.GetAsync("/items")).StatusCode);
    }

    [Fact]
    public async Task BlocksSurviveARestartWithPersistenceOnByDefault()
    {
        string root = Path.Combine(Path.GetTempPath(), "floodgate-restart-" + Guid.NewGuid().ToString("N"));
        void Configure(FloodgateOptions o) => o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromHours(1) });
        void Map(WebApplication app) => app.MapPost("/login", () => "nope").RequireFloodgate("login");

        await using (TestServer first = await TestServer.StartAsync(Configure, Map, contentRoot: root))
        {
            first.DeleteContentOnDispose = false;
            using HttpClient a = first.ClientFrom(60);
            await a.PostAsync("/login", null);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await a.PostAsync("/login", null)).StatusCode);
        }   // shutdown takes the final checkpoint

        Assert.True(Directory.Exists(Path.Combine(root, "floodgate-data", "login")));
        await using TestServer second = await TestServer.StartAsync(Configure, Map, contentRoot: root);
        HttpResponseMessage still = await second.ClientFrom(60).PostAsync("/login", null);
        Assert.Equal(HttpStatusCode.TooManyRequests, still.StatusCode);
        Assert.Contains("temporarily blocked", await still.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await second.ClientFrom(61).PostAsync("/login", null)).StatusCode);
    }

    [Fact]
    public async Task AGlobalConcurrencyCapTurnsAwayRequestsBeyondItWith503()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.GlobalConcurrencyLimit = 1;
            },
            app => app.MapGet("/slow", async () => { entered.TrySetResult(); await release.Task; return "slow"; }));
        Task<HttpResponseMessage> first = server.ClientFrom(85).GetAsync("/slow");
        await entered.Task;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await server.ClientFrom(86).GetAsync("/slow")).StatusCode);
        release.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.ClientFrom(87).GetAsync("/slow")).StatusCode);
    }

    [Fact]
    public async Task OnRejectedCanReplaceTheResponse()
    {
        await using TestServer server = await Api(o => o.OnRejected = async rejected =>
        {
            rejected.Handled = true;
            await rejected.HttpContext.Response.WriteAsync($"custom: {rejected.Policy} {rejected.Decision.Reason}");
        });
        using HttpClient a = server.ClientFrom(88);
        await a.GetAsync("/items");
        await a.GetAsync("/items");
        HttpResponseMessage rejected = await a.GetAsync("/items");
        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.NotNull(rejected.Headers.RetryAfter);
        Assert.Equal("custom: api RateLimited", await rejected.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ForwardedHeadersTrustingEveryoneLogAWarningAtStartup()
    {
        var logs = new CapturingLoggerProvider();
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            app => { },
            services: s => s.Configure<ForwardedHeadersOptions>(f =>
            {
                f.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor;
                f.KnownProxies.Clear();
                f.KnownIPNetworks.Clear();
            }),
            logs: logs);
        Assert.Contains(logs.Entries, e => e.Id == 303 && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    public static TheoryData<string, string, string> InvalidSettings => new()
    {
        { "Floodgate:Capacity", "0", "Floodgate:Capacity must be between 1 and 67108864; got 0." },
        { "Floodgate:Ipv6PrefixLength", "40", "Floodgate:Ipv6PrefixLength must be between 48 and 128; got 40." },
        { "Floodgate:CheckpointInterval", "00:00:00.010", "Floodgate:CheckpointInterval must be between 100 ms and 1 day; got 00:00:00.0100000." },
        { "Floodgate:GlobalConcurrencyLimit", "0", "Floodgate:GlobalConcurrencyLimit must be greater than 0, or null for no cap; got 0." },
        { "Floodgate:GlobalLimit:PermitLimit", "-1", "Floodgate:GlobalLimit.PermitLimit must be greater than 0; got -1." },
        { "Floodgate:Allowlist:0", "10.0.0.0/99", "Floodgate:Allowlist has an entry that is neither an address nor a CIDR network (IPv4 as a dotted quad); got '10.0.0.0/99'." },
        { "Floodgate:Allowlist:0", "", "Floodgate:Allowlist has an entry that is neither an address nor a CIDR network (IPv4 as a dotted quad); got ''." },
        { "Floodgate:Allowlist:0", "127.1", "Floodgate:Allowlist has an entry that is neither an address nor a CIDR network (IPv4 as a dotted quad); got '127.1'." },
        { "Floodgate:Denylist:0", "0x7f.0.0.1", "Floodgate:Denylist has an entry that is neither an address nor a CIDR network (IPv4 as a dotted quad); got '0x7f.0.0.1'." },
        { "Floodgate:Denylist:0", "4294967295", "Floodgate:Denylist has an entry that is neither an address nor a CIDR network (IPv4 as a dotted quad); got '4294967295'." },
        { "Floodgate:Allowlist:0", "0.0.0.0/0", "Floodgate:Allowlist has an entry that covers every address of a family, so no such client would ever be limited; got '0.0.0.0/0'." },
        { "Floodgate:Allowlist:0", "::/0", "Floodgate:Allowlist has an entry that covers every address of a family, so no such client would ever be limited; got '::/0'." },
        { "Floodgate:Allowlist:0", "::/64", "Floodgate:Allowlist has an entry that covers every address of a family, so no such client would ever be limited; got '::/64'." },
        { "Floodgate:Allowlist:0", "64:ff9b::/96", "Floodgate:Allowlist has an entry that covers every address of a family, so no such client would ever be limited; got '64:ff9b::/96'." },
        { "Floodgate:Denylist:0", "::ffff:0.0.0.0/95", "Floodgate:Denylist has an entry that covers every address of a family, so every such client would be refused; got '::ffff:0.0.0.0/95'." },
        { "Floodgate:Denylist:0", "::/1", "Floodgate:Denylist has an entry that covers every address of a family, so every such client would be refused; got '::/1'." },
        { "Floodgate:Policies:login:BlockMultiplier", "0.5", "Floodgate:Policies:login.BlockMultiplier must be a finite number of at least 1.0; got 0.5." },
        { "Floodgate:Challenge:Difficulty", "40", "Floodgate:Challenge:Difficulty must be between 1 and 30 (leading zero bits); got 40." },
        { "Floodgate:Challenge:MaxPassesPerHour", "0", "Floodgate:Challenge:MaxPassesPerHour must be between 1 and 100; got 0." },
        { "Floodgate:Challenge:Policies:0", "nope", "Floodgate:Challenge:Policies names a policy that is not configured; got 'nope'." },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task EachInvalidSettingStopsStartupWithItsMessage(string key, string value, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:login:PermitLimit"] = "3",
            ["Floodgate:Policies:login:Window"] = "00:01:00",
            ["Floodgate:GlobalLimit:Window"] = "00:00:01",
            ["Floodgate:GlobalLimit:PermitLimit"] = "100",
            [key] = value,
        };
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(_ => { }, _ => { }, settings: settings));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task TheHealthCheckIsDegradedWhileCheckpointsFailAndHealthyWhenTheyWorkAgain()
    {
        await using TestServer server = await TestServer.StartAsync(
            o => o.AddPolicy("api", PerMinute(5)),   // persistence on, checkpoints every 30 s
            app =>
            {
                app.MapGet("/api", () => "ok").RequireFloodgate("api");
                app.MapHealthChecks("/healthz").DisableFloodgate();
            },
            services: s => s.AddHealthChecks().AddFloodgate());
        using HttpClient probe = server.ClientFrom(80);
        FloodgateLimiter limiter = server.Services.GetRequiredService<FloodgateService>().Limiters["api"];
        Assert.Equal("Healthy", await probe.GetStringAsync("/healthz"));

        // The checkpoints' directory becomes a file: the next periodic checkpoint cannot be written.
        string checkpoints = Path.Combine(server.ContentRoot, "floodgate-data", "api", "checkpoints");
        Directory.Delete(checkpoints, recursive: true);
        File.WriteAllText(checkpoints, "not a directory");
        await server.ClientFrom(2).GetAsync("/api");   // a change to write
        server.Time.Advance(TimeSpan.FromSeconds(30));
        await Eventually.WaitAsync(() => limiter.LastCheckpointError is not null, "the failed checkpoint");
        using (HttpResponseMessage degraded = await probe.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, degraded.StatusCode);   // Degraded: still serving, limits still apply
            Assert.Equal("Degraded", await degraded.Content.ReadAsStringAsync());
        }

        HealthReport report = await server.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal("state of api cannot be checkpointed; limits still apply", report.Entries["floodgate"].Description);
        Assert.Equal(limiter.LastCheckpointError, report.Entries["floodgate"].Data["api"]);

        // The directory is back: the next tick retries (a failure is retried whatever happened since), and it is healthy again.
        File.Delete(checkpoints);
        Directory.CreateDirectory(checkpoints);
        server.Time.Advance(TimeSpan.FromSeconds(30));
        await Eventually.WaitAsync(() => limiter.LastCheckpointError is null, "the checkpoint after the directory came back");
        Assert.Equal("Healthy", await probe.GetStringAsync("/healthz"));
        Assert.StartsWith("checkpointed ", (string)(await server.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["floodgate"].Data["api"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheHealthCheckIsDegradedWhileBansCannotBeJournaled()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.AddPolicy("api", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) });
                o.CheckpointTimeout = TimeSpan.FromSeconds(2);
            },
            app =>
            {
                app.MapGet("/api", () => "ok").RequireFloodgate("api");
                app.MapHealthChecks("/healthz").DisableFloodgate();
            },
            services: s => s.AddHealthChecks().AddFloodgate());
        using HttpClient probe = server.ClientFrom(80);
        Assert.Equal("Healthy", await probe.GetStringAsync("/healthz"));

        // FasterLog's commit directory becomes a file: the next ban's commit cannot be written (and never completes).
        string commits = Path.Combine(server.ContentRoot, "floodgate-data", "api", "journal", "log-commits");
        if (Directory.Exists(commits))
        {
            Directory.Delete(commits, recursive: true);
        }

        File.WriteAllText(commits, "not a directory");
        using HttpClient client = server.ClientFrom(2);
        await client.GetAsync("/api");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api")).StatusCode);   // a block: journaled
        await Eventually.WaitAsync(async () => await probe.GetStringAsync("/healthz") == "Degraded", "Degraded while bans cannot be journaled", TimeSpan.FromSeconds(30));
        HealthReport report = await server.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.StartsWith("bans of api cannot be journaled", report.Entries["floodgate"].Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidConfigurationStopsStartupNamingTheSetting()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(
            o => o.Persistence = false,
            app => { },
            settings: new()
            {
                ["Floodgate:Policies:api:PermitLimit"] = "0",
                ["Floodgate:Policies:api:Window"] = "00:01:00",
                ["Floodgate:Denylist:0"] = "not-an-address",
                ["Floodgate:DefaultPolicy"] = "missing",
            }));
        Assert.Contains("Floodgate:Policies:api.PermitLimit must be greater than 0; got 0", error.Message);
        Assert.Contains("Floodgate:Denylist has an entry that is neither an address nor a CIDR network (IPv4 as a dotted quad); got 'not-an-address'", error.Message);
        Assert.Contains("Floodgate:DefaultPolicy names a policy that is not configured; got 'missing'", error.Message);
    }

    [Fact]
    public async Task AnEndpointUsingAnUnknownPolicyStopsStartup()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestServer.StartAsync(
            o => o.Persistence = false,
            app => app.MapGet("/x", () => "x").RequireFloodgate("nope")));
        Assert.Contains("'nope'", error.Message);
    }
}

/// <summary>An MVC controller with Floodgate attributes.</summary>
[ApiController]
[Route("orders")]
[Floodgate("api")]
public sealed class OrdersController : ControllerBase
{
    [HttpGet]
    public string List() => "orders";

    [HttpGet("status")]
    [DisableFloodgate]
    public string Status() => "ok";
}
