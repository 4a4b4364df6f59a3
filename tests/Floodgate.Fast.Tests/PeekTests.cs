using System.Net;

namespace Floodgate.Tests;

/// <summary>
/// FloodgateLimiter.Peek: what a check would decide, changing nothing. The ASP.NET Core adapter asks it before the
/// endpoint of a policy that counts only some answers (CountStatusCodes).
/// </summary>
public sealed class PeekTests
{
    [Theory]
    [InlineData(FloodgateAlgorithm.FixedWindow)]
    [InlineData(FloodgateAlgorithm.SlidingWindow)]
    [InlineData(FloodgateAlgorithm.TokenBucket)]
    public void APeekChangesNothingAndAgreesWithTheCheckThatFollows(FloodgateAlgorithm shape)
    {
        using var h = new Harness(new FloodgatePolicy { Algorithm = shape, PermitLimit = 4, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(3) });
        var client = IPAddress.Parse("192.0.2.7");
        var random = new Random(26);
        for (int step = 0; step < 300; step++)
        {
            int cost = random.Next(1, 3);
            Decision peek = h.Limiter.Peek(client, cost);
            Assert.Equal(peek, h.Limiter.Peek(client, cost));   // asking twice: the same answer, nothing counted
            Decision check = h.Limiter.Check(client, cost);
            Assert.True(peek.IsAllowed == check.IsAllowed, $"step {step}: peek {peek.Reason}, check {check.Reason}");
            if (check.IsAllowed)
            {
                Assert.Equal(peek.Remaining - cost, check.Remaining);   // a peek shows the permits before this request
            }

            h.Advance(TimeSpan.FromMilliseconds(random.Next(0, 20_000)));
        }
    }

    [Fact]
    public void APeekRefusesBannedAndListedClientsAndThoseWithTooFewPermitsLeft()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) });
        var client = IPAddress.Parse("192.0.2.8");
        Assert.Equal(3, h.Limiter.Peek(client).Remaining);                                  // unknown: a whole budget
        Assert.False(h.Limiter.Inspect(client).IsTracked);                                  // and still unknown after the peek
        h.Check("192.0.2.8");
        h.Check("192.0.2.8");
        Assert.True(h.Limiter.Peek(client).IsAllowed);
        Assert.Equal(DecisionReason.RateLimited, h.Limiter.Peek(client, 2).Reason);         // 1 left, 2 asked
        h.Check("192.0.2.8");
        Assert.Equal(DecisionReason.RateLimited, h.Limiter.Peek(client).Reason);
        Assert.Equal(0, h.Limiter.Inspect(client).BlockCount);                             // a refused peek is no violation
        Assert.Equal(DecisionReason.Blocked, h.Check("192.0.2.8").Reason);
        Decision blocked = h.Limiter.Peek(client);
        Assert.Equal(DecisionReason.Blocked, blocked.Reason);
        Assert.Equal(TimeSpan.FromMinutes(5), blocked.RetryAfter);
        h.Limiter.Blacklist(client);
        Assert.Equal(DecisionReason.Blacklisted, h.Limiter.Peek(client).Reason);
        h.Limiter.Denylist.Add(IPNetwork.Parse("192.0.2.9/32"));
        Assert.Equal(DecisionReason.Denylisted, h.Limiter.Peek(IPAddress.Parse("192.0.2.9")).Reason);

        var hasher = new FloodgateKeyHasher(new byte[16]);
        IpKey key = hasher.Hash("k");
        Assert.Equal(DecisionReason.Denylisted, h.Limiter.PeekKey(IPAddress.Parse("192.0.2.9"), key).Reason);   // lists by the address
        Assert.True(h.Limiter.PeekKey(client, key).IsAllowed);                                                    // the key is not the blacklisted address
    }

    [Fact]
    public void PeekingAllocatesNothing()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1000, Window = TimeSpan.FromMinutes(1) });
        var client = IPAddress.Parse("192.0.2.10");
        h.Check("192.0.2.10");
        IpKey key = new FloodgateKeyHasher(new byte[16]).Hash("k");
        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                h.Limiter.Peek(client);
                h.Limiter.PeekKey(client, in key, 2);
            }
        });
    }
}
