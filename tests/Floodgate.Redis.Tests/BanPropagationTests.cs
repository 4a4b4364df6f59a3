using System.Diagnostics;
using System.Net;

namespace Floodgate.Redis.Tests;

/// <summary>Operator changes on one instance reach the other instances' local tables, by message or by the ban sync.</summary>
public sealed class BanPropagationTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private FloodgateRedisOptions Options(TimeSpan? sync = null) => new()
    {
        Configuration = redis.Configuration,
        BanSyncInterval = sync ?? TimeSpan.FromHours(1),
        Timeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task BlacklistUnblacklistAndUnblockReachTheOtherInstanceWithinASecond()
    {
        string name = "prop-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) };
        await using var first = new FloodgateRedisLimiter(name, policy, Options());
        await using var second = new FloodgateRedisLimiter(name, policy, Options());
        IPAddress client = IPAddress.Parse("10.4.0.1");

        Assert.True(await first.BlacklistAsync(client));
        await WaitForAsync(() => second.Local.TryGetBan(second.Local.GetKey(client), out Decision d) && d.Reason == DecisionReason.Blacklisted);
        Assert.Equal(DecisionReason.Blacklisted, (await second.CheckAsync(client)).Reason);

        Assert.True(await first.UnblacklistAsync(client));
        await WaitForAsync(() => !second.Local.TryGetBan(second.Local.GetKey(client), out _));
        Assert.True((await second.CheckAsync(client)).IsAllowed);

        // Blocked by the second instance's own check (held in its local table), unblocked through the first.
        Assert.Equal(DecisionReason.Blocked, (await second.CheckAsync(client)).Reason);
        Assert.True(second.Local.TryGetBan(second.Local.GetKey(client), out _));
        Assert.True(await first.UnblockAsync(client));
        await WaitForAsync(() => !second.Local.TryGetBan(second.Local.GetKey(client), out _));
        Assert.True((await second.CheckAsync(client)).IsAllowed);
    }

    [Fact]
    public async Task AMissedMessageIsCorrectedByTheBanSync()
    {
        string name = "sync-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) };
        await using var limiter = new FloodgateRedisLimiter(name, policy, Options(TimeSpan.FromMilliseconds(200)));
        IPAddress lifted = IPAddress.Parse("10.4.0.2");
        IPAddress blacklisted = IPAddress.Parse("10.4.0.3");
        await WaitForAsync(() => limiter.SyncedVersion != -1, seconds: 5);   // the sync at start is done: what follows is news to it

        // The local table holds bans Redis does not know (as if the unblock messages were lost)...
        limiter.Local.MirrorBan(limiter.Local.GetKey(lifted), 600_000);
        limiter.Local.MirrorBan(limiter.Local.GetKey(blacklisted), 600_000);
        // ...and Redis holds a blacklisting the table shows as a block.
        await using (var other = new FloodgateRedisLimiter(name, policy, Options()))
        {
            await other.BlacklistAsync(blacklisted);
        }

        await WaitForAsync(() => !limiter.Local.TryGetBan(limiter.Local.GetKey(lifted), out _), seconds: 5);
        await WaitForAsync(() => limiter.Local.TryGetBan(limiter.Local.GetKey(blacklisted), out Decision d) && d.Reason == DecisionReason.Blacklisted, seconds: 5);
        Assert.True((await limiter.CheckAsync(lifted)).IsAllowed);
    }

    private static async Task WaitForAsync(Func<bool> condition, double seconds = 1.0)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(seconds), $"not within {seconds} s");
            await Task.Delay(10);
        }
    }
}
