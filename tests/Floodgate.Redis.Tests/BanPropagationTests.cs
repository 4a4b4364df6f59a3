using System.Diagnostics;
using System.Net;
using Floodgate.Tests.Shared;

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
    public async Task BlacklistUnblacklistAndUnblockReachTheOtherInstance()
    {
        string name = "prop-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) };
        await using var first = new FloodgateRedisLimiter(name, policy, Options());
        await using var second = new FloodgateRedisLimiter(name, policy, Options());
        IPAddress client = IPAddress.Parse("10.4.0.1");

        Assert.True(await first.BlacklistAsync(client));
        await Eventually.WaitAsync(() => second.Local.TryGetBan(second.Local.GetKey(client), out Decision d) && d.Reason == DecisionReason.Blacklisted, "the change reaching the instance");
        Assert.Equal(DecisionReason.Blacklisted, (await second.CheckAsync(client)).Reason);

        Assert.True(await first.UnblacklistAsync(client));
        await Eventually.WaitAsync(() => !second.Local.TryGetBan(second.Local.GetKey(client), out _), "the change reaching the instance");
        Assert.True((await second.CheckAsync(client)).IsAllowed);

        // Blocked by the second instance's own check (held in its local table), unblocked through the first.
        Assert.Equal(DecisionReason.Blocked, (await second.CheckAsync(client)).Reason);
        Assert.True(second.Local.TryGetBan(second.Local.GetKey(client), out _));
        Assert.True(await first.UnblockAsync(client));
        await Eventually.WaitAsync(() => !second.Local.TryGetBan(second.Local.GetKey(client), out _), "the change reaching the instance");
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
        await Eventually.WaitAsync(() => limiter.SyncedVersion != -1, "the change reaching the instance");   // the sync at start is done: what follows is news to it

        // The local table holds bans Redis does not know (as if the unblock messages were lost)...
        limiter.Local.MirrorBan(limiter.Local.GetKey(lifted), 600_000);
        limiter.Local.MirrorBan(limiter.Local.GetKey(blacklisted), 600_000);
        // ...and Redis holds a blacklisting the table shows as a block.
        await using (var other = new FloodgateRedisLimiter(name, policy, Options()))
        {
            await other.BlacklistAsync(blacklisted);
        }

        await Eventually.WaitAsync(() => !limiter.Local.TryGetBan(limiter.Local.GetKey(lifted), out _), "the change reaching the instance");
        await Eventually.WaitAsync(() => limiter.Local.TryGetBan(limiter.Local.GetKey(blacklisted), out Decision d) && d.Reason == DecisionReason.Blacklisted, "the change reaching the instance");
        Assert.True((await limiter.CheckAsync(lifted)).IsAllowed);
    }

    [Fact]
    public async Task AReconnectionReReadsTheLocalBans()
    {
        string name = "reconnect-" + Guid.NewGuid().ToString("N");
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) };
        await using var limiter = new FloodgateRedisLimiter(name, policy, Options());   // no periodic sync: only the reconnection re-reads
        IPAddress client = IPAddress.Parse("10.4.0.9");
        await limiter.CheckAsync(client);
        Assert.Equal(DecisionReason.Blocked, (await limiter.CheckAsync(client)).Reason);
        Assert.True(limiter.Local.TryGetBan(limiter.Local.GetKey(client), out _));

        // The block is lifted on Redis without a message (as if this instance missed it while disconnected): the
        // local table still refuses the client, without asking Redis.
        redis.Server.Cli($"DEL floodgate:{name}:{{{client}}}");
        Assert.Equal(DecisionReason.Blocked, (await limiter.CheckAsync(client)).Reason);

        // The connection drops and comes back: the instance re-reads its local bans and lets the client through.
        redis.Server.Cli("CLIENT KILL TYPE normal");
        redis.Server.Cli("CLIENT KILL TYPE pubsub");
        await Eventually.WaitAsync(() => !limiter.Local.TryGetBan(limiter.Local.GetKey(client), out _), "the re-read after the reconnection");
        Assert.True((await limiter.CheckAsync(client)).IsAllowed);
    }
}
