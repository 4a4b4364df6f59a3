using System.Net;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>A policy counting IPv4 clients by their /24 keeps one state per /24 on Redis.</summary>
public sealed class PrefixLengthTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task TheNetworkIsOneClientOnRedisToo()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        string name = "prefix-" + Guid.NewGuid().ToString("N");
        await using var limiter = new FloodgateRedisLimiter(name, new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), Ipv4PrefixLength = 24 }, new FloodgateRedisOptions
        {
            Configuration = redis.Configuration,
            TimeProvider = time,
            ScriptClock = () => time.GetUtcNow().ToUnixTimeMilliseconds(),
            LocalBanTable = false,
        });

        Assert.True((await limiter.CheckAsync(IPAddress.Parse("10.7.7.1"))).IsAllowed);
        Assert.True((await limiter.CheckAsync(IPAddress.Parse("10.7.7.2"))).IsAllowed);
        Assert.Equal(0, (await limiter.CheckAsync(IPAddress.Parse("10.7.7.3"))).Remaining);
        Assert.False((await limiter.CheckAsync(IPAddress.Parse("10.7.7.4"))).IsAllowed);
        Assert.True((await limiter.CheckAsync(IPAddress.Parse("10.7.8.1"))).IsAllowed);
        Assert.Equal(3, (await limiter.InspectAsync(IPAddress.Parse("10.7.7.200"))).Count);

        // One key per /24, named by the network's first address.
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        RedisKey[] keys = connection.GetServers()[0].Keys(pattern: "*" + name + "*").ToArray();
        Assert.Equal(["{10.7.7.0}", "{10.7.8.0}"], keys.Select(k => k.ToString()[k.ToString().IndexOf('{', StringComparison.Ordinal)..]).Order(StringComparer.Ordinal));
    }
}
