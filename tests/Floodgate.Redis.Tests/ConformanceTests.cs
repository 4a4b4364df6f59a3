using System.Net;
using Floodgate.Tests.Shared.Conformance;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Redis.Tests;

/// <summary>
/// The conformance suite over the Redis limiter: the Lua script decides (no local ban table, so every check is a round
/// trip), on a real redis-server, with the script's clock driven by the fake clock; <c>Inspect</c> is the Redis
/// limiter's C# view of the stored state.
/// </summary>
public sealed class RedisConformanceTests(RedisFixture redis) : PolicyConformanceTests, IClassFixture<RedisFixture>
{
    protected override Task<IConformanceLimiter> CreateAsync(string name, FakeTimeProvider time) =>
        Task.FromResult(RedisConformanceLimiter.Create(redis.Configuration, name, time));
}

/// <summary>The conformance suite over the Redis limiter on a 3-master Redis Cluster.</summary>
public sealed class RedisClusterConformanceTests(RedisClusterFixture cluster) : PolicyConformanceTests, IClassFixture<RedisClusterFixture>
{
    protected override Task<IConformanceLimiter> CreateAsync(string name, FakeTimeProvider time) =>
        Task.FromResult(RedisConformanceLimiter.Create(cluster.Configuration, name, time));
}

/// <summary>A <see cref="FloodgateRedisLimiter"/> under the conformance suite.</summary>
internal sealed class RedisConformanceLimiter(FloodgateRedisLimiter limiter) : IConformanceLimiter
{
    public static IConformanceLimiter Create(string configuration, string name, FakeTimeProvider time) =>
        new RedisConformanceLimiter(new FloodgateRedisLimiter(name + "-" + Guid.NewGuid().ToString("N"), ConformancePolicies.All[name], new FloodgateRedisOptions
        {
            Configuration = configuration,
            TimeProvider = time,
            Timeout = TimeSpan.FromSeconds(5),
            BanSyncInterval = TimeSpan.FromHours(1),
            ScriptClock = () => time.GetUtcNow().ToUnixTimeMilliseconds(),
            LocalBanTable = false,
        }));

    public ValueTask<Decision> CheckAsync(IPAddress client, int cost) => limiter.CheckAsync(client, cost, CancellationToken.None);

    public Task<ClientState> InspectAsync(IPAddress client) => limiter.InspectAsync(client);

    public Task<bool> UnblockAsync(IPAddress client) => limiter.UnblockAsync(client);

    public Task<bool> BlacklistAsync(IPAddress client) => limiter.BlacklistAsync(client);

    public ValueTask DisposeAsync() => limiter.DisposeAsync();
}
