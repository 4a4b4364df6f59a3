using System.Net;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>Every key expires, and the scripts come back after SCRIPT FLUSH and a server restart.</summary>
public sealed class KeysAndScriptsTests : IDisposable
{
    private readonly RedisProcess _server = new();

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task EveryKeyHasATtlAfterARun()
    {
        var random = new Random(5);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(_server.Endpoint);
        for (int p = 0; p < 6; p++)
        {
            FloodgatePolicy policy = DifferentialTests.RandomPolicy(random);
            await using var limiter = new FloodgateRedisLimiter("ttl" + p, policy, new FloodgateRedisOptions { ConnectionMultiplexer = connection, LocalBanTable = false, Timeout = TimeSpan.FromSeconds(2) });
            for (int i = 0; i < 300; i++)
            {
                await limiter.CheckAsync(IPAddress.Parse($"10.1.{p}.{random.Next(20)}"));
            }

            await limiter.BlacklistAsync(IPAddress.Parse("10.9.9.9"));
            await limiter.UnblockAsync(IPAddress.Parse($"10.1.{p}.1"));
            await limiter.UnblacklistAsync(IPAddress.Parse($"10.1.{p}.2"));
        }

        IServer server = connection.GetServers()[0];
        var keys = server.Keys(pattern: "floodgate:*").ToList();
        Assert.NotEmpty(keys);
        IDatabase db = connection.GetDatabase();
        foreach (RedisKey key in keys)
        {
            // PTTL: -1 is a key without a TTL (the failure); -2 one that expired since the scan (on a slow run, fine).
            long ttl = (long)await db.ExecuteAsync("PTTL", key);
            Assert.True(ttl != -1, $"{key} has no TTL");
        }

        // A blacklisting is kept for ForeverRetention (365 days by default), not forever.
        TimeSpan? blacklisted = await db.KeyTimeToLiveAsync("floodgate:ttl5:{10.9.9.9}");
        Assert.InRange(blacklisted!.Value, TimeSpan.FromDays(364), TimeSpan.FromDays(365));
    }

    [Fact]
    public async Task ScriptsReloadAfterScriptFlushAndAfterARestart()
    {
        var policy = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1) };
        await using var limiter = new FloodgateRedisLimiter("reload", policy, new FloodgateRedisOptions
        {
            Configuration = _server.Endpoint,
            BreakerFailureThreshold = 1000,
            Timeout = TimeSpan.FromSeconds(2),
        });
        IPAddress client = IPAddress.Parse("10.2.0.1");
        Assert.Equal(2, (await limiter.CheckAsync(client)).Remaining);

        Assert.Equal("OK", _server.Cli("SCRIPT FLUSH"));
        Assert.Equal(1, (await limiter.CheckAsync(client)).Remaining);   // NOSCRIPT, then the script in full: same state

        _server.Kill();
        _server.Start();   // an empty server: no scripts, no state
        Decision after = default;
        for (int attempt = 0; attempt < 100 && after.Remaining != 2; attempt++)
        {
            after = await limiter.CheckAsync(client);
            if (after.Remaining != 2)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(after.IsAllowed);
        Assert.Equal(2, after.Remaining);      // decided by the restarted server, which started a fresh window
        Assert.True(limiter.IsRedisAvailable);
    }
}
