using System.Net;
using System.Text.Json;
using Floodgate.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>
/// Keyed clients (API keys) on Redis and Redis Cluster: one key is one shared client across instances and addresses,
/// Redis holds its hash (a valid hash tag) and never its value, and bans and operator actions by key reach every instance.
/// </summary>
public sealed class KeyTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const string AliceKey = "sk_live_ALICE_redis_77c1";
    private static readonly byte[] s_secret = Enumerable.Range(7, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public async Task TwoLimitersCountAKeyTogetherAndRedisHoldsOnlyItsHash()
    {
        string prefix = "keys" + Guid.NewGuid().ToString("N")[..8] + ":";
        var policy = new FloodgatePolicy { PermitLimit = 4, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) };
        var options = new FloodgateRedisOptions { Configuration = redis.Configuration, KeyPrefix = prefix, Timeout = TimeSpan.FromSeconds(5) };
        await using var first = new FloodgateRedisLimiter("api", policy, options);
        await using var second = new FloodgateRedisLimiter("api", policy, options);
        IpKey alice = new FloodgateKeyHasher(s_secret).Hash(AliceKey);
        IpKey sameOnTheOther = new FloodgateKeyHasher(s_secret).Hash(AliceKey);   // another instance, the same secret

        var reasons = new List<DecisionReason>();
        for (int i = 0; i < 6; i++)
        {
            Decision decision = i % 2 == 0
                ? await first.CheckKeyAsync(IPAddress.Parse($"192.0.2.{i + 1}"), alice, 1, CancellationToken.None)
                : await second.CheckKeyAsync(IPAddress.Parse($"198.51.100.{i + 1}"), sameOnTheOther, 1, CancellationToken.None);
            reasons.Add(decision.Reason);
        }

        Assert.Equal([DecisionReason.Allowed, DecisionReason.Allowed, DecisionReason.Allowed, DecisionReason.Allowed, DecisionReason.Blocked, DecisionReason.Blocked], reasons);
        Assert.True((await first.CheckAsync(IPAddress.Parse("192.0.2.1"))).IsAllowed);   // the addresses are their own clients

        // Redis names the client by its hash, as a hash tag; nothing in any key or value is the key's value.
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        IServer server = connection.GetServers().Single();
        var keys = server.Keys(pattern: prefix + "*").Select(k => k.ToString()).ToList();
        Assert.Contains(prefix + "api:{" + FloodgateKeyHasher.Format(alice) + "}", keys);
        foreach (string key in keys)
        {
            Assert.DoesNotContain("ALICE", key, StringComparison.Ordinal);
            if (await connection.GetDatabase().KeyTypeAsync(key) == RedisType.Hash)
            {
                foreach (HashEntry field in await connection.GetDatabase().HashGetAllAsync(key))
                {
                    Assert.DoesNotContain("ALICE", field.Value.ToString(), StringComparison.Ordinal);
                }
            }
        }

        // Operators by key: the state, and a blacklisting that reaches the other instance's local table.
        ClientState state = await second.InspectAsync(alice);
        Assert.True(state.IsBlocked);
        Assert.Equal(alice, state.Client);
        Assert.Contains(await first.GetBlockedClientsAsync(), c => c.Client == alice);
        Assert.True(await first.UnblockAsync(alice));
        await Eventually.WaitAsync(async () => (await second.CheckKeyAsync(null, alice, 1, CancellationToken.None)).IsAllowed, "the unblock reaching the other instance");
        Assert.True(await second.BlacklistAsync(alice));
        await Eventually.WaitAsync(() => Task.FromResult(first.Local.TryGetBan(in alice, out Decision held) && held.Reason == DecisionReason.Blacklisted), "the blacklisting reaching the other instance's local table");
        Assert.Equal(DecisionReason.Blacklisted, (await first.CheckKeyAsync(IPAddress.Parse("203.0.113.5"), alice, 1, CancellationToken.None)).Reason);
        Assert.True(await first.UnblacklistAsync(alice));
    }

    [Fact]
    public async Task TwoAppsWithTheSameSecretShareAHeaderKeysLimitAndAppsWithoutOneRefuseToStart()
    {
        string prefix = "keyapps" + Guid.NewGuid().ToString("N")[..8] + ":";
        string secret = Convert.ToBase64String(s_secret);
        await using WebApplication first = await StartAppAsync(prefix, secret);
        await using WebApplication second = await StartAppAsync(prefix, secret);

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 6; i++)
        {
            using HttpClient client = AdapterTests.ClientFrom(i % 2 == 0 ? first : second, 20 + i);   // a new address each time
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api");
            request.Headers.Add("X-Api-Key", AliceKey);
            statuses.Add((await client.SendAsync(request)).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);

        // An operator on either app finds the key by its value, sent in a header.
        using HttpClient admin = AdapterTests.ClientFrom(second, 9);
        using var inspect = new HttpRequestMessage(HttpMethod.Get, "/floodgate/keys");
        inspect.Headers.Add("X-Floodgate-Key", AliceKey);
        using JsonDocument state = JsonDocument.Parse(await (await admin.SendAsync(inspect)).Content.ReadAsStringAsync());
        Assert.True(state.RootElement.GetProperty("api").GetProperty("blocked").GetBoolean());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using WebApplication unkeyed = await StartAppAsync(prefix, secret: null);
        });
        Assert.Contains("Floodgate:KeySecret must be set when Redis shares state and a policy is keyed by something other than the address (api (Header:X-Api-Key))", error.Message, StringComparison.Ordinal);
    }

    private async Task<WebApplication> StartAppAsync(string prefix, string? secret)
    {
        string root = Path.Combine(Path.GetTempPath(), "floodgate-redis-keys-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = root, EnvironmentName = Environments.Production });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:KeySecret"] = secret,
            ["Floodgate:Policies:api:PermitLimit"] = "4",
            ["Floodgate:Policies:api:Window"] = "1m",
            ["Floodgate:Policies:api:BlockDuration"] = "10m",
            ["Floodgate:Policies:api:Key"] = "Header:X-Api-Key",
            ["Floodgate:Redis:Configuration"] = redis.Configuration,
            ["Floodgate:Redis:KeyPrefix"] = prefix,
        });
        builder.Services.AddFloodgate();
        builder.Services.AddFloodgateRedis();
        builder.Services.AddAuthorization(o => o.AddPolicy("operators", p => p.RequireAssertion(c =>
            c.Resource is HttpContext http && IPAddress.Parse("127.0.0.9").Equals(http.Connection.RemoteIpAddress))));
        WebApplication app = builder.Build();
        app.UseFloodgate();
        app.UseAuthorization();
        app.MapGet("/api", () => "ok").RequireFloodgate("api");
        app.MapFloodgateAdmin("/floodgate", "operators");
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }
}

/// <summary>Key hashes on the 3-master cluster: valid hash tags spread over every master, exact limits, operations by key.</summary>
public sealed class ClusterKeyTests(RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task KeyHashesSpreadOverEveryMasterWithExactLimits()
    {
        var policy = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(5), BlockDuration = TimeSpan.FromMinutes(5) };
        var options = new FloodgateRedisOptions { Configuration = cluster.Configuration, KeyPrefix = "ck" + Guid.NewGuid().ToString("N")[..6] + ":", Timeout = TimeSpan.FromSeconds(5), BreakerFailureThreshold = 1000 };
        await using var first = new FloodgateRedisLimiter("api", policy, options);
        await using var second = new FloodgateRedisLimiter("api", policy, options);
        var hasher = new FloodgateKeyHasher(Enumerable.Range(0, 16).Select(i => (byte)i).ToArray());
        var keys = Enumerable.Range(0, 150).Select(i => hasher.Hash("tenant-key-" + i)).ToList();
        int[] allowed = new int[keys.Count];
        await Task.WhenAll(keys.Select((key, i) => Task.Run(async () =>
        {
            for (int n = 0; n < 6; n++)
            {
                if ((await (n % 2 == 0 ? first : second).CheckKeyAsync(IPAddress.Loopback, key, 1, CancellationToken.None)).IsAllowed)
                {
                    Interlocked.Increment(ref allowed[i]);
                }
            }
        })));

        Assert.All(allowed, a => Assert.Equal(3, a));
        await using var connection = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        var perMaster = connection.GetServers().Where(s => !s.IsReplica).Select(s => s.Keys(pattern: options.KeyPrefix + "api:{k*").Count()).ToList();
        Assert.Equal(3, perMaster.Count);
        Assert.All(perMaster, count => Assert.True(count > 20, $"keys per master: {string.Join(", ", perMaster)}"));
        Assert.True(await first.BlacklistAsync(keys[1]));
        Assert.Equal(DecisionReason.Blacklisted, (await second.InspectAsync(keys[1])).IsBlacklisted ? DecisionReason.Blacklisted : DecisionReason.Allowed);
        Assert.Contains(await second.GetBlockedClientsAsync(), c => c.Client == keys[1]);
    }
}

/// <summary>A policy counting only failed logins, shared by two apps on Redis: the door asks Redis, the failures count there.</summary>
public sealed class CountingTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task FailedLoginsOnEitherAppCountTogetherAndSuccessesNever()
    {
        string prefix = "count" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using WebApplication first = await StartAppAsync(prefix);
        await using WebApplication second = await StartAppAsync(prefix);
        async Task<HttpStatusCode> Login(WebApplication app, string password)
        {
            using HttpClient client = AdapterTests.ClientFrom(app, 30);
            using HttpResponseMessage answer = await client.PostAsync("/login?password=" + password, null);
            return answer.StatusCode;
        }

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await Login(i % 2 == 0 ? first : second, "right"));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await Login(first, "wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, await Login(second, "wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, await Login(first, "wrong"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Login(second, "right"));   // the shared budget is spent: blocked
        Assert.Equal(HttpStatusCode.TooManyRequests, await Login(first, "right"));

        // The limiter's peek agrees, from Redis, and changes nothing.
        var policy = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(10), BlockDuration = TimeSpan.FromMinutes(15), CountStatusCodes = "401" };
        await using var limiter = new FloodgateRedisLimiter("login", policy, new FloodgateRedisOptions { Configuration = redis.Configuration, KeyPrefix = prefix });
        Decision peek = await limiter.PeekAsync(IPAddress.Parse("127.0.0.30"), null, 1, CancellationToken.None);
        Assert.Equal(DecisionReason.Blocked, peek.Reason);
        Assert.True(peek.RetryAfter > TimeSpan.FromMinutes(14));
        Decision fresh = await limiter.PeekAsync(IPAddress.Parse("127.0.0.31"), null, 1, CancellationToken.None);
        Assert.Equal(3, fresh.Remaining);
        Assert.False((await limiter.InspectAsync(IPAddress.Parse("127.0.0.31"))).IsTracked);
    }

    private async Task<WebApplication> StartAppAsync(string prefix)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath(), EnvironmentName = Environments.Production });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Floodgate:Persistence"] = "false",
            ["Floodgate:Policies:login:PermitLimit"] = "3",
            ["Floodgate:Policies:login:Window"] = "10m",
            ["Floodgate:Policies:login:BlockDuration"] = "15m",
            ["Floodgate:Policies:login:CountStatusCodes"] = "401",
            ["Floodgate:Redis:Configuration"] = redis.Configuration,
            ["Floodgate:Redis:KeyPrefix"] = prefix,
        });
        builder.Services.AddFloodgate();
        builder.Services.AddFloodgateRedis();
        WebApplication app = builder.Build();
        app.UseFloodgate();
        app.MapPost("/login", (HttpContext context) => context.Request.Query["password"] == "right" ? Results.Ok("welcome") : Results.Unauthorized()).RequireFloodgate("login");
        await app.StartAsync();
        return app;
    }
}
