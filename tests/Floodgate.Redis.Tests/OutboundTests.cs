using System.Net;
using Floodgate.Redis.Internal;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ConnectionMultiplexer = StackExchange.Redis.ConnectionMultiplexer;

namespace Floodgate.Redis.Tests;

/// <summary>Outbound per-host budgets shared through Redis: two app instances calling one real upstream respect one limit and one backoff.</summary>
public sealed class OutboundTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private WebApplication _upstream = null!;
    private ConnectionMultiplexer _connection = null!;   // connected before the test: a 1 s connect can time out on a loaded machine
    private int _served;

    private string Upstream => _upstream.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    public async Task InitializeAsync()
    {
        _connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _upstream = builder.Build();
        _upstream.MapGet("/ok", () =>
        {
            Interlocked.Increment(ref _served);
            return "ok";
        });
        _upstream.MapGet("/busy", (HttpContext context) =>
        {
            Interlocked.Increment(ref _served);
            context.Response.Headers.RetryAfter = "30";
            return Results.StatusCode(StatusCodes.Status429TooManyRequests);
        });
        await _upstream.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _connection.DisposeAsync();
    }

    [Fact]
    public async Task TwoInstancesShareOneHostBudgetAndItsBackoff()
    {
        string prefix = "out" + Guid.NewGuid().ToString("N")[..8] + ":";
        using HttpClient first = Client(prefix);
        using HttpClient second = Client(prefix);

        // PermitLimit 5 per minute for the host, across both instances, from many concurrent calls.
        int refused = 0;
        await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
        {
            try
            {
                using HttpResponseMessage response = await (i % 2 == 0 ? first : second).GetAsync(Upstream + "/ok");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            catch (OutboundRateLimitedException)
            {
                Interlocked.Increment(ref refused);
            }
        }));
        Assert.Equal(5, Volatile.Read(ref _served));
        Assert.Equal(19, refused);

        // The limit hit put the host into backoff (10 min) on Redis: both instances fail fast with it.
        foreach (HttpClient client in new[] { first, second })
        {
            var error = await Assert.ThrowsAsync<OutboundRateLimitedException>(() => client.GetAsync(Upstream + "/ok"));
            Assert.InRange(error.RetryAfter, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        }

        Assert.Equal(5, Volatile.Read(ref _served));
    }

    [Fact]
    public async Task AnUpstream429OnOneInstanceBacksOffTheOther()
    {
        string prefix = "out429" + Guid.NewGuid().ToString("N")[..8] + ":";
        using HttpClient first = Client(prefix, permits: 100);
        using HttpClient second = Client(prefix, permits: 100);

        using (HttpResponseMessage busy = await first.GetAsync(Upstream + "/busy"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        }

        // The backoff is shared in the background: soon the other instance fails fast, without a call.
        int served = Volatile.Read(ref _served);
        OutboundRateLimitedException? error = null;
        await Eventually.WaitAsync(
            async () =>
            {
                try
                {
                    (await second.GetAsync(Upstream + "/ok")).Dispose();
                    served++;
                    return false;
                }
                catch (OutboundRateLimitedException e)
                {
                    error = e;
                    return true;
                }
            },
            "the upstream's Retry-After reaching the other instance");

        Assert.NotNull(error);
        Assert.InRange(error.RetryAfter, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Equal(served, Volatile.Read(ref _served));
    }

    [Fact]
    public async Task WithTheAppsRedisSettingsThroughIHttpClientFactory()
    {
        string prefix = "outdi" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using ServiceProvider one = Services(prefix);
        await using ServiceProvider two = Services(prefix);
        HttpClient a = one.GetRequiredService<IHttpClientFactory>().CreateClient("upstream");
        HttpClient b = two.GetRequiredService<IHttpClientFactory>().CreateClient("upstream");
        for (int i = 0; i < 3; i++)
        {
            (await (i % 2 == 0 ? a : b).GetAsync(Upstream + "/ok")).Dispose();
        }

        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => b.GetAsync(Upstream + "/ok"));
        await Assert.ThrowsAsync<OutboundRateLimitedException>(() => a.GetAsync(Upstream + "/ok"));

        // Without AddFloodgateRedis, UseRedis() says what it needs.
        var services = new ServiceCollection();
        services.AddHttpClient("upstream").AddFloodgateOutbound(o => o.AddHost("127.0.0.1", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1) }).UseRedis());
        await using ServiceProvider bare = services.BuildServiceProvider();
        var missing = Assert.Throws<InvalidOperationException>(() => bare.GetRequiredService<IHttpClientFactory>().CreateClient("upstream"));
        Assert.Contains("AddFloodgateRedis()", missing.Message, StringComparison.Ordinal);

        ServiceProvider Services(string keyPrefix)
        {
            var collection = new ServiceCollection();
            collection.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Floodgate:Redis:Configuration"] = redis.Configuration,
                ["Floodgate:Redis:KeyPrefix"] = keyPrefix,
                ["Floodgate:Redis:Timeout"] = "00:00:05",
            }).Build());
            collection.AddLogging();
            collection.AddFloodgateRedis(o => o.ConnectionMultiplexer = _connection);
            collection.AddHttpClient("upstream").AddFloodgateOutbound(o => o
                .AddHost("127.0.0.1", new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1) })
                .UseRedis());
            return collection.BuildServiceProvider();
        }
    }

    [Fact]
    public void BudgetNamesAreTheSameOnEveryInstanceAndSafeAsHashTags()
    {
        Assert.Equal("api.example.com", RedisOutboundStore.ClientId("api.example.com", null));
        Assert.Equal("api.example.com:8443|user-7", RedisOutboundStore.ClientId("api.example.com:8443", "user-7"));
        string braces = RedisOutboundStore.ClientId("api.example.com", "a}b{c");
        Assert.StartsWith("sha256:", braces, StringComparison.Ordinal);
        Assert.Equal(braces, RedisOutboundStore.ClientId("api.example.com", "a}b{c"));
        Assert.Equal(71, RedisOutboundStore.ClientId("api.example.com", new string('x', 500)).Length);
        Assert.NotEqual(RedisOutboundStore.ClientId("h", new string('x', 500)), RedisOutboundStore.ClientId("h", new string('y', 500)));
    }

    private HttpClient Client(string prefix, int permits = 5)
    {
        var options = new FloodgateOutboundOptions { Backoff = TimeSpan.FromMinutes(10) }
            .AddHost("127.0.0.1", new FloodgatePolicy { PermitLimit = permits, Window = TimeSpan.FromMinutes(1) })
            .UseRedis(new FloodgateRedisOptions { ConnectionMultiplexer = _connection, KeyPrefix = prefix, Timeout = TimeSpan.FromSeconds(5) });
        return new HttpClient(new FloodgateOutboundHandler(options) { InnerHandler = new SocketsHttpHandler() });
    }
}
