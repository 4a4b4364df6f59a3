using System.Net;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Floodgate.AspNetCore.Tests;

/// <summary>
/// Policies that count only some answers (CountStatusCodes, CountWhen) on a real Kestrel: failed logins count and
/// successful ones never do, a scanner's 404s get it banned, and a client out of counted permits is refused before the
/// endpoint, with the refusal counting as a violation.
/// </summary>
public sealed class CountingTests
{
    private static void Login(WebApplication app) =>
        app.MapPost("/login", (HttpContext context) => context.Request.Query["password"] == "right" ? Results.Ok("welcome") : Results.Unauthorized())
            .RequireFloodgate("login");

    [Fact]
    public async Task OnlyFailedLoginsCountAndTheAttemptAfterTheLastOneAllowedIsBlocked()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(10), BlockDuration = TimeSpan.FromMinutes(15), CountStatusCodes = "401" });
            },
            Login);
        using HttpClient client = server.ClientFrom(2);

        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await Post(client, "right"));   // successes never count
        }

        using (HttpResponseMessage first = await client.PostAsync("/login?password=wrong", null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
            Assert.Equal("\"login\";r=3;t=600", first.Headers.GetValues("RateLimit").Single());   // the permits before this one counted
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await Post(client, "wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, await Post(client, "wrong"));   // three failures: the budget is spent
        Assert.Equal(HttpStatusCode.Unauthorized, await Post(server.ClientFrom(3), "wrong"));   // per client

        // The next attempt, even with the right password, is refused before the endpoint, and that refusal is the violation.
        using (HttpResponseMessage refused = await client.PostAsync("/login?password=right", null))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal(TimeSpan.FromMinutes(15), refused.Headers.RetryAfter?.Delta);
        }

        FloodgateLimiter limiter = server.Services.GetRequiredService<FloodgateService>().Limiters["login"];
        ClientState state = limiter.Inspect(IPAddress.Parse("127.0.0.2"));
        Assert.True(state.IsBlocked);
        Assert.Equal(1, state.BlockCount);
        Assert.Equal(3, state.Count);   // the count itself is exact: the three failures

        server.Time.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal(HttpStatusCode.OK, await Post(client, "right"));
    }

    [Fact]
    public async Task AScannersNotFoundsGetItBannedOnEveryPathWhileOtherClientsBrowse()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.DefaultPolicy = "scanners";
                o.AddPolicy("scanners", new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromHours(1), CountStatusCodes = "404" });
            },
            app => app.MapGet("/", () => "home"));
        using HttpClient scanner = server.ClientFrom(4);
        using HttpClient visitor = server.ClientFrom(5);
        foreach (string probe in new[] { "/wp-admin", "/.env", "/phpmyadmin", "/.git/config", "/backup.zip" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await scanner.GetAsync(probe)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await visitor.GetAsync("/")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await scanner.GetAsync("/admin.php")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await scanner.GetAsync("/")).StatusCode);   // banned from the real pages too
        for (int i = 0; i < 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await visitor.GetAsync("/")).StatusCode);             // 200s never count
        }
    }

    [Fact]
    public async Task AnEndpointThatThrowsCountsAs500AndAPredicateChoosesInCode()
    {
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("errors", new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1), CountStatusCodes = "5xx" });
                o.AddPolicy("flagged", new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
                o.CountWhen("flagged", context => context.Items.ContainsKey("suspicious"));
            },
            app =>
            {
                app.MapGet("/boom", string () => throw new InvalidOperationException("endpoint bug")).RequireFloodgate("errors");
                app.MapGet("/ok", () => "ok").RequireFloodgate("errors");
                app.MapGet("/maybe", (HttpContext context, bool bad) =>
                {
                    if (bad)
                    {
                        context.Items["suspicious"] = true;
                    }

                    return "maybe";
                }).RequireFloodgate("flagged");
            });
        using HttpClient client = server.ClientFrom(6);
        Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync("/boom")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ok")).StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync("/boom")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/ok")).StatusCode);   // two 500s spent it

        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/maybe?bad=false")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/maybe?bad=true")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/maybe?bad=false")).StatusCode);
    }

    [Fact]
    public async Task RequestsInFlightTogetherCanOvershootTheBudgetButTheCountStaysExactAndTheExcessBlocks()
    {
        // Twenty failing requests of one client in flight at once, with 3 counted permits: each passes the door while
        // nothing is counted yet; after the endpoint, three are counted and the rest are violations that block the client.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int arrived = 0;
        await using TestServer server = await TestServer.StartAsync(
            o =>
            {
                o.Persistence = false;
                o.AddPolicy("login", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(10), BlockDuration = TimeSpan.FromMinutes(15), CountStatusCodes = "401" });
            },
            app => app.MapPost("/login", async () =>
            {
                Interlocked.Increment(ref arrived);
                await release.Task;
                return Results.Unauthorized();
            }).RequireFloodgate("login"));
        using HttpClient client = server.ClientFrom(7);
        Task<HttpResponseMessage>[] inFlight = Enumerable.Range(0, 20).Select(_ => client.PostAsync("/login", null)).ToArray();
        await Eventually.WaitAsync(() => Task.FromResult(Volatile.Read(ref arrived) == 20), "all twenty requests reaching the endpoint");
        release.SetResult();
        HttpResponseMessage[] answers = await Task.WhenAll(inFlight);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Unauthorized, a.StatusCode));   // the answers were the endpoint's

        FloodgateLimiter limiter = server.Services.GetRequiredService<FloodgateService>().Limiters["login"];
        await Eventually.WaitAsync(() => Task.FromResult(limiter.Inspect(IPAddress.Parse("127.0.0.7")).IsBlocked), "the excess blocking the client");
        ClientState state = limiter.Inspect(IPAddress.Parse("127.0.0.7"));
        Assert.Equal(3, state.Count);
        Assert.Equal(1, state.BlockCount);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsync("/login", null)).StatusCode);
    }

    [Theory]
    [InlineData("Floodgate:Policies:login:CountStatusCodes", "401,4x", "Floodgate:Policies:login.CountStatusCodes must be status codes (100 to 599) or classes (1xx to 5xx) separated by commas, e.g. 401, 401,403 or 4xx; got 401,4x.")]
    [InlineData("Floodgate:Policies:login:CountStatusCodes", "600", "got 600.")]
    [InlineData("Floodgate:Policies:login:Cooldown", "5s", "Floodgate:Policies:login.Cooldown cannot be combined with CountStatusCodes")]
    [InlineData("Floodgate:GlobalLimit:CountStatusCodes", "429", "Floodgate:GlobalLimit.CountStatusCodes applies only to endpoint policies")]
    public async Task ABadStatusSetStopsStartupNamingIt(string setting, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:login:PermitLimit"] = "5",
            ["Floodgate:Policies:login:Window"] = "1m",
            ["Floodgate:Policies:login:CountStatusCodes"] = "401",
            ["Floodgate:GlobalLimit:PermitLimit"] = "100",
            ["Floodgate:GlobalLimit:Window"] = "1s",
            [setting] = value,
        };
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(_ => { }, _ => { }, settings: settings));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusSetsFromConfigurationAndAKeyWorkTogether()
    {
        // Failed logins per user name (a header here), however many addresses try it.
        await using TestServer server = await TestServer.StartAsync(
            o => o.Persistence = false,
            Login,
            settings: new()
            {
                ["Floodgate:Policies:login:PermitLimit"] = "2",
                ["Floodgate:Policies:login:Window"] = "10m",
                ["Floodgate:Policies:login:BlockDuration"] = "15m",
                ["Floodgate:Policies:login:CountStatusCodes"] = "401, 403",
                ["Floodgate:Policies:login:Key"] = "Header:X-User",
            });
        async Task<HttpStatusCode> As(int host, string user, string password)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/login?password=" + password);
            request.Headers.Add("X-User", user);
            using HttpResponseMessage answer = await server.ClientFrom(host).SendAsync(request);
            return answer.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await As(2, "alice", "guess1"));
        Assert.Equal(HttpStatusCode.Unauthorized, await As(3, "alice", "guess2"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await As(4, "alice", "right"));   // alice's account is locked, from any address
        Assert.Equal(HttpStatusCode.OK, await As(4, "bob", "right"));
    }

    private static async Task<HttpStatusCode> Post(HttpClient client, string password)
    {
        using HttpResponseMessage answer = await client.PostAsync("/login?password=" + password, null);
        return answer.StatusCode;
    }
}
