using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>Nothing a client sends can make a check throw or allocate.</summary>
public sealed class RobustnessTests
{
    [Fact]
    public void ArbitraryAddressesNeverMakeCheckThrow()
    {
        var time = new FakeTimeProvider(Harness.Start);
        using var limiter = new FloodgateLimiter(
            new() { PermitLimit = 3, Window = TimeSpan.FromSeconds(1), BlockDuration = TimeSpan.FromSeconds(2), BlockLimit = 2 },
            new FloodgateLimiterOptions { Capacity = 32, TimeProvider = time });
        var random = new Random(99);
        byte[] v4 = new byte[4];
        byte[] v6 = new byte[16];
        int unknownDenied = 0;
        for (int i = 0; i < 100_000; i++)
        {
            random.NextBytes(v4);
            random.NextBytes(v6);
            if (i % 3 == 0)
            {
                v6[10] = 0xFF;   // mapped
                v6[11] = 0xFF;
                Array.Clear(v6, 0, 10);
            }

            AssertWellFormed(limiter.Check(new IPAddress(v4)));
            AssertWellFormed(limiter.Check(new IPAddress(v6, random.Next(0, 5))));
            AssertWellFormed(limiter.Check(IpKey.Create(v6)));
            Decision unknown = limiter.Check((IPAddress?)null);
            AssertWellFormed(unknown);
            unknownDenied += unknown.IsAllowed ? 0 : 1;
            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 50)));
        }

        // No address is one shared key, limited like any other (never exempt): 100,000 requests in about 40 minutes
        // at 3 a second took it through two blocks to the blacklist.
        Assert.True(unknownDenied > 90_000, $"the unknown key was denied {unknownDenied} times");
        Assert.Equal(DecisionReason.Blacklisted, limiter.Check((IPAddress?)null).Reason);
    }

    /// <summary>Every decision is one the response path can render: a known reason, counts within the limit, a wait when denied for a time.</summary>
    private static void AssertWellFormed(Decision decision)
    {
        Assert.True(Enum.IsDefined(decision.Reason), $"reason {(int)decision.Reason}");
        Assert.Equal(3, decision.Limit);
        Assert.InRange(decision.Remaining, 0, 3);
        if (decision.Reason is DecisionReason.RateLimited or DecisionReason.Cooldown or DecisionReason.Blocked)
        {
            Assert.InRange(decision.RetryAfter, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(2));
        }
    }

    [Fact]
    public void ExtremeTimesNeverMakeCheckThrow()
    {
        var time = new FakeTimeProvider(DateTimeOffset.MinValue + TimeSpan.FromDays(1));
        using var limiter = new FloodgateLimiter(
            new() { PermitLimit = 1, Window = TimeSpan.FromDays(3_650), BlockDuration = TimeSpan.FromDays(3_650), MaxWindowDuration = FloodgatePolicy.Forever },
            new FloodgateLimiterOptions { TimeProvider = time });
        Assert.True(limiter.Check(IPAddress.Loopback).IsAllowed);
        Decision blocked = limiter.Check(IPAddress.Loopback);
        Assert.Equal(DecisionReason.Blocked, blocked.Reason);
        Assert.Equal(TimeSpan.FromDays(3_650), blocked.RetryAfter);
        time.Advance(TimeSpan.FromDays(5 * 365));
        Assert.Equal(DecisionReason.Blocked, limiter.Check(IPAddress.Loopback).Reason);
        Assert.NotNull(limiter.Inspect(IPAddress.Loopback).BlockExpiresAt);
    }

    [Fact]
    public void ChecksAllocateNothingOnAnyPath()
    {
        var time = new FakeTimeProvider(Harness.Start);
        using var limiter = new FloodgateLimiter(
            new() { PermitLimit = 2, Window = TimeSpan.FromSeconds(1), BlockDuration = TimeSpan.FromSeconds(1), Cooldown = TimeSpan.FromMilliseconds(1), GracePermits = 1 },
            new FloodgateLimiterOptions { Capacity = 1024, TimeProvider = time });
        limiter.Allowlist.Add(IPNetwork.Parse("10.0.0.0/8"));
        limiter.Denylist.Add(IPNetwork.Parse("11.0.0.0/8"));
        var addresses = new[] { IPAddress.Parse("10.1.1.1"), IPAddress.Parse("11.1.1.1"), IPAddress.Parse("192.0.2.1"), IPAddress.Parse("2001:db8::1"), IPAddress.Parse("::ffff:1.2.3.4") };

        void Run()
        {
            for (int i = 0; i < 20_000; i++)
            {
                limiter.Check(addresses[i % addresses.Length]);
                limiter.Check(IpKey.FromIPv4((uint)i));
                if (i % 7 == 0)
                {
                    time.Advance(TimeSpan.FromMilliseconds(3));
                }
            }
        }

        Allocations.AssertNone(Run);
    }
}
