using System.Diagnostics;
using System.Net;

namespace Floodgate.Redis.Tests;

/// <summary>The server is killed mid-run: each outage policy decides within the timeout, bans stay, and checks come back to Redis by themselves.</summary>
public sealed class OutageTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(200);
    private readonly RedisProcess _server = new();

    public void Dispose() => _server.Dispose();

    [Theory]
    [InlineData(RedisOutagePolicy.FailOpen)]
    [InlineData(RedisOutagePolicy.FailClosed)]
    [InlineData(RedisOutagePolicy.LocalFallback)]
    public async Task EachOutagePolicyDecidesWithinTheTimeoutAndRecoversByItself(RedisOutagePolicy outage)
    {
        var policy = new FloodgatePolicy { PermitLimit = 4, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) };
        await using var limiter = new FloodgateRedisLimiter("outage", policy, new FloodgateRedisOptions
        {
            Configuration = _server.Endpoint,
            OutagePolicy = outage,
            LocalFallbackShare = 0.5,
            Timeout = Timeout,
            BreakerFailureThreshold = 2,
            ProbeInterval = TimeSpan.FromMilliseconds(100),
        });
        IPAddress banned = IPAddress.Parse("10.3.0.1");
        IPAddress other = IPAddress.Parse("10.3.0.2");
        // Until Redis has blocked the client. On a loaded machine the first connection can take longer than the
        // limiter's 1 s connect, or a check miss the 200 ms, and the breaker opens: checks are then decided by the
        // outage policy until the probe (every 100 ms) closes it. That is not what this part is about: give it 10 s.
        Decision before = default;
        var ready = Stopwatch.StartNew();
        while (before.Reason != DecisionReason.Blocked && ready.Elapsed < TimeSpan.FromSeconds(10))
        {
            before = await limiter.CheckAsync(banned);
            if (before.Reason != DecisionReason.Blocked && !limiter.IsRedisAvailable)
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal(DecisionReason.Blocked, before.Reason);
        Assert.True(limiter.Local.TryGetBan(limiter.Local.GetKey(banned), out _));
        bool otherAllowed = false;
        for (int i = 0; i < 5 && !otherAllowed; i++)
        {
            otherAllowed = (await limiter.CheckAsync(other)).IsAllowed;
        }

        Assert.True(otherAllowed);

        _server.Kill();
        var decisions = new List<Decision>();
        for (int i = 0; i < 10; i++)
        {
            var watch = Stopwatch.StartNew();
            decisions.Add(await limiter.CheckAsync(other));   // never throws
            Assert.True(watch.Elapsed < Timeout + TimeSpan.FromMilliseconds(400), $"check {i} waited {watch.Elapsed}");
            Assert.Equal(DecisionReason.Blocked, (await limiter.CheckAsync(banned)).Reason);   // known locally: still banned
        }

        Assert.False(limiter.IsRedisAvailable);
        switch (outage)
        {
            case RedisOutagePolicy.FailOpen:
                Assert.All(decisions, d => Assert.True(d.IsAllowed));
                break;
            case RedisOutagePolicy.FailClosed:
                Assert.All(decisions, d => Assert.Equal(DecisionReason.RateLimited, d.Reason));
                break;
            default:
                // In process at half the limit (2 of 4): two allowed, then limited by the local engine.
                Assert.Equal(2, decisions.Count(d => d.IsAllowed));
                Assert.True(decisions.Skip(2).All(d => !d.IsAllowed));
                break;
        }

        _server.Start();   // a fresh, empty server
        var deadline = Stopwatch.StartNew();
        while (!limiter.IsRedisAvailable && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
        }

        Assert.True(limiter.IsRedisAvailable, "the breaker must close by itself once Redis answers");
        IPAddress fresh = IPAddress.Parse("10.3.0.3");
        Decision shared = default;
        for (int attempt = 0; attempt < 50 && shared.Remaining != 3; attempt++)
        {
            shared = await limiter.CheckAsync(fresh);
            await Task.Delay(20);
        }

        Assert.True(shared.IsAllowed);
        Assert.Equal(3, shared.Remaining);   // the shared limit of 4, not the fallback's 2
    }

    [Fact]
    public async Task AStartWithRedisDownFollowsTheOutagePolicy()
    {
        int port = RedisProcess.FreePort();
        var policy = new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) };
        await using var limiter = new FloodgateRedisLimiter("down", policy, new FloodgateRedisOptions
        {
            Configuration = $"127.0.0.1:{port}",
            OutagePolicy = RedisOutagePolicy.FailClosed,
            Timeout = Timeout,
        });
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(DecisionReason.RateLimited, (await limiter.CheckAsync(IPAddress.Loopback)).Reason);
        }
    }
}
