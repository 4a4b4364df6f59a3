using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Floodgate.Redis.Tests;

/// <summary>Two real Kestrel apps with AddFloodgateRedis on one redis-server: one limit, the same responses, shared operators.</summary>
public sealed class AdapterTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task TwoAppsShareOneLimitAndAnOperatorUnblockReachesBoth()
    {
        string prefix = "app" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using WebApplication first = await StartAppAsync(prefix);
        await using WebApplication second = await StartAppAsync(prefix);
        using HttpClient toFirst = ClientFrom(first, 2);
        using HttpClient toSecond = ClientFrom(second, 2);

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 6; i++)
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? toFirst : toSecond).GetAsync("/api");
            statuses.Add(response.StatusCode);
            Assert.Equal("\"api\";q=4;w=60", response.Headers.GetValues("RateLimit-Policy").Single());
        }

        // PermitLimit 4 across both apps: the fifth request, on either, is refused with a block.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        using (HttpResponseMessage refused = await toFirst.GetAsync("/api"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.FromMinutes(9));
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }

        // Another client is unaffected.
        using HttpClient otherClient = ClientFrom(second, 3);
        Assert.Equal(HttpStatusCode.OK, (await otherClient.GetAsync("/api")).StatusCode);

        // The admin endpoints of either app act on Redis: inspect shows the shared block, unblock frees it on both.
        using HttpClient admin = ClientFrom(first, 9);
        using JsonDocument inspected = JsonDocument.Parse(await admin.GetStringAsync("/floodgate/clients/127.0.0.2"));
        Assert.True(inspected.RootElement.GetProperty("api").GetProperty("blocked").GetBoolean());
        Assert.Equal(1, inspected.RootElement.GetProperty("api").GetProperty("blockCount").GetInt32());
        using (HttpResponseMessage unblocked = await ClientFrom(second, 9).PostAsync("/floodgate/clients/127.0.0.2/unblock", null))
        {
            Assert.Contains("api", await unblocked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await Eventually.WaitAsync(async () => (await toFirst.GetAsync("/api")).StatusCode == HttpStatusCode.OK, "the unblock reaching the other app");

        Assert.Equal(HttpStatusCode.OK, (await toSecond.GetAsync("/api")).StatusCode);
    }

    [Fact]
    public async Task AReloadedLimitAppliesOnRedisOverTheSharedCounts()
    {
        string prefix = "reload" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using WebApplication first = await StartAppAsync(prefix);
        await using WebApplication second = await StartAppAsync(prefix);
        using HttpClient toFirst = ClientFrom(first, 2);
        using HttpClient toSecond = ClientFrom(second, 2);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await (i % 2 == 0 ? toFirst : toSecond).GetAsync("/api")).StatusCode);
        }

        // Each instance reloads its own configuration: 4 -> 8 on both.
        foreach (WebApplication app in new[] { first, second })
        {
            app.Configuration["Floodgate:Policies:api:PermitLimit"] = "8";
            ((IConfigurationRoot)app.Configuration).Reload();
        }

        // The 4 spent on Redis still count: 4 more across both instances, then a refusal, with the new numbers in the headers.
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? toFirst : toSecond).GetAsync("/api");
            statuses.Add(response.StatusCode);
            Assert.Equal("\"api\";q=8;w=60", response.Headers.GetValues("RateLimit-Policy").Single());
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task APolicyAddedByAReloadIsSharedOnRedisAtOnce()
    {
        string prefix = "added" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using WebApplication first = await StartAppAsync(prefix);
        await using WebApplication second = await StartAppAsync(prefix);
        foreach (WebApplication app in new[] { first, second })
        {
            app.Configuration["Floodgate:Policies:site:PermitLimit"] = "2";
            app.Configuration["Floodgate:Policies:site:Window"] = "1m";
            app.Configuration["Floodgate:DefaultPolicy"] = "site";
            ((IConfigurationRoot)app.Configuration).Reload();
        }

        // Requests no endpoint matched take the default policy: 2 a minute across both instances, counted on Redis.
        using HttpClient toFirst = ClientFrom(first, 2);
        using HttpClient toSecond = ClientFrom(second, 2);
        Assert.Equal(HttpStatusCode.NotFound, (await toFirst.GetAsync("/nowhere")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await toSecond.GetAsync("/nowhere")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await toFirst.GetAsync("/nowhere")).StatusCode);
        Assert.True(first.Services.GetRequiredService<Floodgate.AspNetCore.FloodgateService>().Remote.ContainsKey("site"));
    }

    [Fact]
    public async Task TheDashboardShowsRedisStateAndItsButtonLiftsABanOnEveryInstance()
    {
        string prefix = "dash" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using WebApplication first = await StartAppAsync(prefix);
        await using WebApplication second = await StartAppAsync(prefix);
        using HttpClient client = ClientFrom(first, 2);
        for (int i = 0; i < 6; i++)
        {
            await client.GetAsync("/api");   // 4 allowed, then refused with a block
        }

        // The first app counted the decisions it asked Redis for.
        using HttpClient operatorOfFirst = ClientFrom(first, 9);
        using (JsonDocument firstData = JsonDocument.Parse(await operatorOfFirst.GetStringAsync("/floodgate/dashboard/data")))
        {
            JsonElement api = firstData.RootElement.GetProperty("policies")[0];
            Assert.True(api.GetProperty("shared").GetBoolean());
            Assert.Equal(4, api.GetProperty("decisions").GetProperty("allowed").GetInt64());
            Assert.Equal(2, api.GetProperty("refusals").GetInt64());
            Assert.Equal("127.0.0.2", firstData.RootElement.GetProperty("top")[0].GetProperty("client").GetString());
        }

        // The second app saw none of it, and its dashboard shows the ban, read from Redis.
        using HttpClient operatorOfSecond = ClientFrom(second, 9);
        using (JsonDocument data = JsonDocument.Parse(await operatorOfSecond.GetStringAsync("/floodgate/dashboard/data")))
        {
            Assert.Equal("available", data.RootElement.GetProperty("redis").GetString());
            JsonElement ban = data.RootElement.GetProperty("banned").EnumerateArray().Single();
            Assert.Equal("127.0.0.2", ban.GetProperty("id").GetString());
            Assert.InRange(ban.GetProperty("secondsLeft").GetDouble(), 590, 600);
        }

        using var unblock = new HttpRequestMessage(HttpMethod.Post, "/floodgate/dashboard/clients/127.0.0.2/unblock");
        unblock.Headers.Add(FloodgateDashboardEndpoints.ActionHeader, "1");
        Assert.Equal(HttpStatusCode.OK, (await operatorOfSecond.SendAsync(unblock)).StatusCode);
        await Eventually.WaitAsync(async () => (await client.GetAsync("/api")).StatusCode == HttpStatusCode.OK, "the dashboard's unblock reaching the other app");
    }

    [Fact]
    public async Task AnAdminDenylistEntryOnOneAppReachesTheOtherAndConfiguredEntriesStayLocal()
    {
        string prefix = "lists" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using WebApplication first = await StartAppAsync(prefix);
        await using WebApplication second = await StartAppAsync(prefix, new Dictionary<string, string?> { ["Floodgate:Allowlist:0"] = "127.0.0.5" });
        using HttpClient toSecond = ClientFrom(second, 4);
        using HttpClient admin = ClientFrom(first, 9);
        Assert.Equal(HttpStatusCode.OK, (await toSecond.GetAsync("/api")).StatusCode);

        using (HttpResponseMessage added = await admin.PostAsync("/floodgate/denylist?network=127.0.0.4", null))
        {
            Assert.Equal("{\"added\":true}", await added.Content.ReadAsStringAsync());
        }

        await Eventually.WaitAsync(async () => (await toSecond.GetAsync("/api")).StatusCode == HttpStatusCode.Forbidden, "the denylist entry reaching the other app");

        Assert.Contains("127.0.0.4/32", await ClientFrom(second, 9).GetStringAsync("/floodgate/denylist"), StringComparison.Ordinal);

        // The second app's configured allowlist entry is its own: the first app limits that client.
        using HttpClient fifthToFirst = ClientFrom(first, 5);
        using HttpClient fifthToSecond = ClientFrom(second, 5);
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 6; i++)
        {
            statuses.Add((await fifthToSecond.GetAsync("/api")).StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await fifthToFirst.GetAsync("/api")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await fifthToFirst.GetAsync("/api")).StatusCode);

        using (HttpResponseMessage removed = await ClientFrom(second, 9).DeleteAsync("/floodgate/denylist?network=127.0.0.4"))
        {
            Assert.Equal("{\"removed\":true}", await removed.Content.ReadAsStringAsync());
        }

        await Eventually.WaitAsync(async () => (await toSecond.GetAsync("/api")).StatusCode != HttpStatusCode.Forbidden, "the removal reaching the app");
    }

    [Fact]
    public async Task ABadRedisSettingStopsTheAppAtStartNamingIt()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using WebApplication app = await StartAppAsync("bad:", new Dictionary<string, string?> { ["Floodgate:Redis:LocalFallbackShare"] = "1.5" });
        });
        Assert.Contains("FloodgateRedisOptions.LocalFallbackShare must be greater than 0 and at most 1; got 1.5.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterRedisLosesItsDataTheAdminViewShowsTheBanThisInstanceStillEnforces()
    {
        using var own = new RedisProcess();   // a server of its own: FLUSHALL must not touch the other tests' keys
        string prefix = "flush" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using WebApplication app = await StartAppAsync(prefix, new Dictionary<string, string?> { ["Floodgate:Redis:Configuration"] = own.Endpoint });
        using HttpClient client = ClientFrom(app, 6);
        for (int i = 0; i < 5; i++)
        {
            await client.GetAsync("/api");
        }

        using (var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(own.Endpoint + ",allowAdmin=true"))
        {
            await redis.GetServer(own.Endpoint).FlushAllDatabasesAsync();
        }

        // The instance still refuses the client from its local ban table, and the admin view says so.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api")).StatusCode);
        using HttpClient admin = ClientFrom(app, 9);
        using JsonDocument inspected = JsonDocument.Parse(await admin.GetStringAsync("/floodgate/clients/127.0.0.6"));
        Assert.True(inspected.RootElement.GetProperty("api").GetProperty("blocked").GetBoolean());
        using JsonDocument blocked = JsonDocument.Parse(await admin.GetStringAsync("/floodgate/blocked"));
        Assert.Contains(blocked.RootElement.GetProperty("api").EnumerateArray(), c => c.GetProperty("client").GetString() == "127.0.0.6");
    }

    private async Task<WebApplication> StartAppAsync(string prefix, Dictionary<string, string?>? extra = null)
    {
        string root = Path.Combine(Path.GetTempPath(), "floodgate-redis-app-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = root, EnvironmentName = Environments.Production });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var settings = new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:api:PermitLimit"] = "4",
            ["Floodgate:Policies:api:Window"] = "00:01:00",
            ["Floodgate:Policies:api:BlockDuration"] = "00:10:00",
            ["Floodgate:Redis:Configuration"] = redis.Configuration,
            ["Floodgate:Redis:KeyPrefix"] = prefix,
        };
        foreach ((string key, string? value) in extra ?? [])
        {
            settings[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddFloodgate();
        builder.Services.AddFloodgateRedis();
        builder.Services.AddAuthorization(o => o.AddPolicy("operators", p => p.RequireAssertion(c =>
            c.Resource is HttpContext http && IPAddress.Parse("127.0.0.9").Equals(http.Connection.RemoteIpAddress))));
        WebApplication app = builder.Build();
        app.UseFloodgate();
        app.UseAuthorization();
        app.MapGet("/api", () => "ok").RequireFloodgate("api");
        app.MapFloodgateAdmin("/floodgate", "operators");
        app.MapFloodgateDashboard("/floodgate/dashboard", "operators");
        await app.StartAsync();
        return app;
    }

    /// <summary>A client of <paramref name="app"/> whose connections come from 127.0.0.<paramref name="host"/>.</summary>
    internal static HttpClient ClientFrom(WebApplication app, int host)
    {
        int port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.0.{host}"), 0));   // the client's own loopback address
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }
}
