using System.Net;
using StackExchange.Redis;

namespace Floodgate.Redis.Tests;

/// <summary>Every key expires, and the scripts come back after SCRIPT FLUSH and a server restart.</summary>
public sealed class KeysAndScriptsTests : IDisposable
{
    private readonly RedisProcess _server = new();

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task OnTheServersClockTtlsKeepWhatLaterDecisionsNeedAndNoMore()
    {
        // Real time and real expiry (the differential test drives the script's clock by hand, so Redis never expires
        // a key there): a key that expired too early would forget a block count and miss the escalation below; one
        // kept too long would escalate a client whose count the policy has forgotten. The engine runs beside it.
        var policy = new FloodgatePolicy
        {
            PermitLimit = 1,
            Window = TimeSpan.FromSeconds(1),
            BlockDuration = TimeSpan.FromSeconds(1),
            BlockLimit = 2,
            MaxWindowDuration = TimeSpan.FromSeconds(4),
        };
        using var engine = new FloodgateLimiter(policy);
        await using var shared = new FloodgateRedisLimiter("expiry", policy, new FloodgateRedisOptions { Configuration = _server.Endpoint, LocalBanTable = false, Timeout = TimeSpan.FromSeconds(2) });
        IPAddress repeat = IPAddress.Parse("10.2.0.1");   // a violation every 2.5 s: the count must outlive window and block
        IPAddress quiet = IPAddress.Parse("10.2.0.2");    // a violation, then quiet for longer than MaxWindowDuration

        async Task ExpectAsync(IPAddress client, DecisionReason reason)
        {
            Decision local = engine.Check(client);
            Decision remote = await shared.CheckAsync(client);
            Assert.Equal(reason, local.Reason);
            Assert.Equal(reason, remote.Reason);
        }

        // Carried-over permits: kept for MaxWindowDuration, not only until the window ends.
        var carrying = new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromSeconds(1), AccumulateRequests = true, MaxWindowDuration = TimeSpan.FromSeconds(4) };
        using var carryEngine = new FloodgateLimiter(carrying);
        await using var carryShared = new FloodgateRedisLimiter("carry", carrying, new FloodgateRedisOptions { Configuration = _server.Endpoint, LocalBanTable = false, Timeout = TimeSpan.FromSeconds(2) });
        IPAddress saver = IPAddress.Parse("10.2.0.3");
        Assert.True(carryEngine.Check(saver).IsAllowed);
        Assert.True((await carryShared.CheckAsync(saver)).IsAllowed);   // one of two used: one to carry

        await ExpectAsync(repeat, DecisionReason.Allowed);
        await ExpectAsync(repeat, DecisionReason.Blocked);    // block 1
        await ExpectAsync(quiet, DecisionReason.Allowed);
        await ExpectAsync(quiet, DecisionReason.Blocked);     // block 1
        await Task.Delay(2_500);                              // window and block over (1 s each)

        // 2.5 s later, past its window's end: the carried permit is still there, on Redis as in the engine (3 of 2 + 1).
        var carried = new List<(bool Engine, bool Redis)>();
        for (int i = 0; i < 4; i++)
        {
            carried.Add((carryEngine.Check(saver).IsAllowed, (await carryShared.CheckAsync(saver)).IsAllowed));
        }

        Assert.Equal([(true, true), (true, true), (true, true), (false, false)], carried);

        await ExpectAsync(repeat, DecisionReason.Allowed);
        await ExpectAsync(repeat, DecisionReason.Blocked);    // block 2
        Assert.InRange(Ttl(repeat), 4_000, 5_000);            // kept until MaxWindowDuration after the block's end
        await Task.Delay(2_500);

        await ExpectAsync(repeat, DecisionReason.Allowed);
        await ExpectAsync(repeat, DecisionReason.Blacklisted);   // block 3 passes BlockLimit 2: the count survived

        // 6 s after its only violation (5 s after its block ended), the quiet client's count is forgotten: on Redis
        // by expiry, its key is gone.
        await Task.Delay(1_000);
        Assert.Equal(-2, Ttl(quiet));
        await ExpectAsync(quiet, DecisionReason.Allowed);
        await ExpectAsync(quiet, DecisionReason.Blocked);
        Assert.Equal(1, (await shared.InspectAsync(quiet)).BlockCount);
        Assert.Equal(1, engine.Inspect(quiet).BlockCount);
    }

    private long Ttl(IPAddress client) =>
        long.Parse(_server.Cli($"PTTL floodgate:expiry:{{{client}}}"), System.Globalization.CultureInfo.InvariantCulture);

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
