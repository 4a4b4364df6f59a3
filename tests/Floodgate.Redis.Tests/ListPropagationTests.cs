using System.Diagnostics;
using System.Net;
using Floodgate.Tests.Shared;

namespace Floodgate.Redis.Tests;

/// <summary>The shared allow/deny lists: one change reaches every instance, a missed message is corrected, own entries stay.</summary>
public sealed class ListPropagationTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly FloodgatePolicy s_policy = new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) };

    private FloodgateRedisOptions Options(TimeSpan? sync = null) => new()
    {
        Configuration = redis.Configuration,
        BanSyncInterval = sync ?? TimeSpan.FromHours(1),
        Timeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task ADenylistAndAnAllowlistEntryReachTheOtherInstanceWithinASecond()
    {
        string name = "lists-" + Guid.NewGuid().ToString("N");
        await using var first = new FloodgateRedisLimiter(name, s_policy, Options());
        await using var second = new FloodgateRedisLimiter(name, s_policy, Options());
        IPAddress denied = IPAddress.Parse("10.6.0.7");
        IPAddress allowed = IPAddress.Parse("10.6.1.1");

        // 10.6.0.9/24 is stored as its network, 10.6.0.0/24, and applies to every address in it on the other instance.
        Assert.True(await first.SharedDenylist.AddAsync(IPNetwork.Parse("10.6.0.0/24")));
        Assert.False(await first.SharedDenylist.AddAsync(IPNetwork.Parse("10.6.0.0/24")));
        await Eventually.WaitAsync(() => second.Denylist.Contains(denied), "the change reaching the instance");
        Decision refused = await second.CheckAsync(denied);
        Assert.Equal(DecisionReason.Denylisted, refused.Reason);
        Assert.Equal([IPNetwork.Parse("10.6.0.0/24")], await second.SharedDenylist.GetEntriesAsync());

        // An allowlisted client passes its limit on both instances.
        Assert.True((await second.CheckAsync(allowed)).IsAllowed);
        Assert.False((await second.CheckAsync(allowed)).IsAllowed);
        Assert.True(await first.SharedAllowlist.AddAsync(allowed));
        await Eventually.WaitAsync(() => second.Allowlist.Contains(allowed), "the change reaching the instance");
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(DecisionReason.Allowlisted, (await second.CheckAsync(allowed)).Reason);
            Assert.Equal(DecisionReason.Allowlisted, (await first.CheckAsync(allowed)).Reason);
        }

        // Removed on the second instance: gone on the first too.
        Assert.True(await second.SharedDenylist.RemoveAsync(IPNetwork.Parse("10.6.0.0/24")));
        Assert.True(await second.SharedAllowlist.RemoveAsync(allowed));
        await Eventually.WaitAsync(() => !first.Denylist.Contains(denied) && !first.Allowlist.Contains(allowed), "the change reaching the instance");
        Assert.True((await first.CheckAsync(denied)).IsAllowed);
        Assert.Empty(await first.SharedDenylist.GetEntriesAsync());

        // The list keys expire like a blacklisting (ForeverRetention from the last change), never immortal.
        await first.SharedDenylist.AddAsync(IPNetwork.Parse("192.0.2.0/24"));
        string ttl = redis.Server.Cli($"TTL floodgate:{name}:denylist");
        Assert.InRange(long.Parse(ttl, System.Globalization.CultureInfo.InvariantCulture), (long)TimeSpan.FromDays(364).TotalSeconds, (long)TimeSpan.FromDays(365).TotalSeconds);
    }

    [Fact]
    public async Task AMissedMessageAndANewInstanceAreCorrectedByTheSyncAndOwnEntriesStay()
    {
        string name = "listsync-" + Guid.NewGuid().ToString("N");

        // Entries on Redis before the instance starts: it learns them at once.
        redis.Server.Cli($"SADD floodgate:{name}:denylist 10.7.0.0/16");
        await using var limiter = new FloodgateRedisLimiter(name, s_policy, Options(TimeSpan.FromMilliseconds(200)));
        await Eventually.WaitAsync(() => limiter.Denylist.Contains(IPAddress.Parse("10.7.3.4")), "the change reaching the instance");

        // The instance's own entry (e.g. from its configuration) is not the mirror's.
        limiter.Denylist.Add(IPNetwork.Parse("10.8.0.0/16"));

        // Changes without a message (as if it was lost), announced only by the version the sync reads.
        redis.Server.Cli($"SREM floodgate:{name}:denylist 10.7.0.0/16");
        redis.Server.Cli($"SADD floodgate:{name}:allowlist 10.9.0.1/32");
        redis.Server.Cli("INCR floodgate:bans:version");
        await Eventually.WaitAsync(() => !limiter.Denylist.Contains(IPAddress.Parse("10.7.3.4")) && limiter.Allowlist.Contains(IPAddress.Parse("10.9.0.1")), "the change reaching the instance");
        Assert.True(limiter.Denylist.Contains(IPAddress.Parse("10.8.1.1")));
        Assert.Equal(DecisionReason.Denylisted, (await limiter.CheckAsync(IPAddress.Parse("10.8.1.1"))).Reason);

        // Garbage in the set is skipped, not fatal: the same sync still applies the good entry beside it.
        redis.Server.Cli($"SADD floodgate:{name}:allowlist not-a-network 10.9.0.2/32");
        redis.Server.Cli("INCR floodgate:bans:version");
        await Eventually.WaitAsync(() => limiter.Allowlist.Contains(IPAddress.Parse("10.9.0.2")), "the change reaching the instance");
        Assert.True(limiter.Allowlist.Contains(IPAddress.Parse("10.9.0.1")));
        Assert.Equal(2, limiter.Allowlist.Entries.Count);

        // An operator's explicit removal takes the instance's own entry too.
        await using var other = new FloodgateRedisLimiter(name, s_policy, Options());
        await other.SharedDenylist.AddAsync(IPNetwork.Parse("10.8.0.0/16"));
        Assert.True(await other.SharedDenylist.RemoveAsync(IPNetwork.Parse("10.8.0.0/16")));
        await Eventually.WaitAsync(() => !limiter.Denylist.Contains(IPAddress.Parse("10.8.1.1")), "the change reaching the instance");
    }

    [Fact]
    public async Task ABadNetworkIsAClearError()
    {
        await using var limiter = new FloodgateRedisLimiter("bad-" + Guid.NewGuid().ToString("N"), s_policy, Options());
        await Assert.ThrowsAsync<ArgumentNullException>(() => limiter.SharedDenylist.AddAsync((IPAddress)null!));
    }

    [Fact]
    public async Task AWholeFamilyIsNeitherSharedNorMirrored()
    {
        string name = "family-" + Guid.NewGuid().ToString("N");
        await using var limiter = new FloodgateRedisLimiter(name, s_policy, Options(TimeSpan.FromMilliseconds(200)));
        await Assert.ThrowsAsync<ArgumentException>(() => limiter.SharedDenylist.AddAsync(IPNetwork.Parse("::/64")));
        await Assert.ThrowsAsync<ArgumentException>(() => limiter.SharedAllowlist.AddAsync(IPNetwork.Parse("0.0.0.0/0")));
        Assert.Empty(await limiter.SharedDenylist.GetEntriesAsync());

        // Written into Redis by hand: the sync skips the whole family, and applies ::1's /64 to IPv6 clients only.
        redis.Server.Cli($"SADD floodgate:{name}:denylist 0.0.0.0/0 ::/64");
        redis.Server.Cli("INCR floodgate:bans:version");
        await Eventually.WaitAsync(() => limiter.Denylist.Contains(IPAddress.IPv6Loopback), "the sync");
        Assert.Single(limiter.Denylist.Entries);
        Assert.True((await limiter.CheckAsync(IPAddress.Parse("192.0.2.1"))).IsAllowed);
        Assert.Equal(DecisionReason.Denylisted, (await limiter.CheckAsync(IPAddress.IPv6Loopback)).Reason);
    }
}
