using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

public sealed class CapacityTests
{
    private static FloodgatePolicy Policy() => new()
    {
        PermitLimit = 2,
        Window = TimeSpan.FromMinutes(1),
        BlockDuration = TimeSpan.FromHours(1),
    };

    [Fact]
    public void FarMoreClientsThanSlotsKeepsMemoryFixedAndPreBlockedClientsBlocked()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var limiter = new FloodgateLimiter(Policy(), new FloodgateLimiterOptions { Capacity = 256, TimeProvider = time });
        var evicted = new List<IpKey>();

        // 40 clients blocked before the flood.
        IpKey[] blocked = Enumerable.Range(1, 40).Select(i => IpKey.FromIPv4(0xC0A80000u + (uint)i)).ToArray();
        foreach (IpKey key in blocked)
        {
            while (limiter.Check(key).IsAllowed)
            {
            }
        }

        Assert.All(blocked, k => Assert.True(limiter.Inspect(k).IsBlocked));

        // 200,000 distinct clients per pass (780 times the capacity), time moving on so windows expire and
        // every eviction path runs: no allocation at all.
        uint next = 0x0A000000u;
        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 200_000; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(1));
                limiter.Check(IpKey.FromIPv4(next++));
            }
        });
        uint last = next - 1;
        Assert.Equal(256, limiter.Capacity);

        // Every pre-blocked client is still tracked and blocked: only unblocked clients were evicted.
        Assert.All(blocked, k =>
        {
            ClientState state = limiter.Inspect(k);
            Assert.True(state.IsTracked);
            Assert.True(state.IsBlocked);
            Assert.Equal(DecisionReason.Blocked, limiter.Check(k).Reason);
        });
        Assert.Equal(40, limiter.GetBlockedClients().Count);

        // The oldest clients were evicted once their windows were over. (The newest may have no slot: what a flood of
        // 234 times the capacity per window means for them is in AttackTests.)
        Assert.False(limiter.Inspect(IpKey.FromIPv4(0x0A000000u)).IsTracked);
        Assert.False(limiter.Check(IpKey.FromIPv4(last)).IsAllowed && limiter.Check(IpKey.FromIPv4(last)).IsAllowed);
    }

    [Fact]
    public void WhenEverySlotIsBlockedNewClientsAreLimitedByTheirOwnCountAndNeverBlocked()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var limiter = new FloodgateLimiter(Policy(), new FloodgateLimiterOptions { Capacity = 16, TimeProvider = time });
        for (uint i = 0; i < 16; i++)
        {
            IpKey key = IpKey.FromIPv4(0xC0000200u + i);
            while (limiter.Check(key).IsAllowed)
            {
            }
        }

        var a = IPAddress.Parse("203.0.113.1");
        var b = IPAddress.Parse("203.0.113.2");
        for (int i = 0; i < 2; i++)
        {
            Assert.True(limiter.Check(a).IsAllowed);                   // each its own limit: nobody's budget is shared
            Assert.True(limiter.Check(b).IsAllowed);
        }

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(DecisionReason.RateLimited, limiter.Check(a).Reason);   // limited, never blocked
            Assert.Equal(DecisionReason.RateLimited, limiter.Check(b).Reason);
        }

        Assert.False(limiter.Inspect(a).IsTracked);
        var error = Assert.Throws<InvalidOperationException>(() => limiter.Blacklist(a));
        Assert.Contains("Capacity", error.Message);

        // Once blocks end, the offenders' block counts still hold their slots (their escalation) until MaxWindowDuration
        // (1 day) of quiet: a is limited by its own count in the next window.
        time.Advance(TimeSpan.FromHours(1));
        Assert.True(limiter.Check(a).IsAllowed);
        Assert.True(limiter.Check(a).IsAllowed);
        Assert.Equal(DecisionReason.RateLimited, limiter.Check(a).Reason);
        Assert.False(limiter.Inspect(a).IsTracked);

        // Once their history is forgotten, new clients get slots again.
        time.Advance(TimeSpan.FromDays(1));
        Assert.True(limiter.Check(a).IsAllowed);
        Assert.True(limiter.Inspect(a).IsTracked);
    }

    [Fact]
    public void BlacklistedClientsAreNeverEvicted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var limiter = new FloodgateLimiter(Policy(), new FloodgateLimiterOptions { Capacity = 64, TimeProvider = time });
        IpKey[] banned = Enumerable.Range(0, 20).Select(i => IpKey.FromIPv4(0x08080800u + (uint)i)).ToArray();
        foreach (IpKey key in banned)
        {
            limiter.Blacklist(key);
        }

        time.Advance(TimeSpan.FromDays(400));
        for (uint i = 0; i < 50_000; i++)
        {
            limiter.Check(IpKey.FromIPv4(0x0A000000u + i));
        }

        Assert.All(banned, k => Assert.Equal(DecisionReason.Blacklisted, limiter.Check(k).Reason));
    }

    [Fact]
    public void ExpiredStateIsReusedBeforeLiveState()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var limiter = new FloodgateLimiter(new() { PermitLimit = 5, Window = TimeSpan.FromSeconds(10) }, new FloodgateLimiterOptions { Capacity = 16, TimeProvider = time });

        IpKey active = IpKey.FromIPv4(0x01010101);
        for (uint i = 0; i < 15; i++)
        {
            limiter.Check(IpKey.FromIPv4(0x02000000u + i));           // 15 clients whose windows will expire
        }

        time.Advance(TimeSpan.FromSeconds(10));
        limiter.Check(active);
        limiter.Check(active);
        for (uint i = 0; i < 15; i++)
        {
            limiter.Check(IpKey.FromIPv4(0x03000000u + i));           // new clients take the expired slots
        }

        Assert.Equal(2, limiter.Inspect(active).Count);               // the live window was kept
    }
}
