using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Time.Testing;

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
            // Never throws. The wait itself is bounded by Timeout on the limiter's clock (exact, with a fake clock:
            // the test below); a loaded machine adds scheduling on top, hence the margin here.
            var watch = Stopwatch.StartNew();
            decisions.Add(await limiter.CheckAsync(other));
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

    [Fact]
    public async Task ACheckWaitsExactlyTheTimeoutOnTheLimitersClockAndTheBreakerOpensAtTheThreshold()
    {
        // A fake clock for the limiter's own timeout; the client library's timeout (real time) is the same 30 s,
        // far beyond this test. A paused server accepts the script and never answers.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var policy = new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) };
        await using var limiter = new FloodgateRedisLimiter("paused", policy, new FloodgateRedisOptions
        {
            Configuration = _server.Endpoint,
            OutagePolicy = RedisOutagePolicy.FailClosed,
            Timeout = TimeSpan.FromSeconds(30),
            BreakerFailureThreshold = 3,
            ProbeInterval = TimeSpan.FromMinutes(5),   // on the fake clock: never during this test
            BanSyncInterval = TimeSpan.FromHours(1),
            TimeProvider = time,
        });
        IPAddress client = IPAddress.Parse("10.3.1.1");
        Assert.True((await limiter.CheckAsync(client)).IsAllowed);   // connected, scripts loaded
        _server.Cli("CLIENT PAUSE 20000 WRITE");   // scripts wait; CLIENT UNPAUSE (not a write) still runs
        try
        {
            for (int failure = 1; failure <= 3; failure++)
            {
                Task<Decision> check = limiter.CheckAsync(client).AsTask();
                await Task.Delay(100);
                time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromMilliseconds(1));
                await Task.Delay(100);
                Assert.False(check.IsCompleted, $"failure {failure}: decided before the timeout");
                time.Advance(TimeSpan.FromMilliseconds(1));
                Decision decision = await check.WaitAsync(TimeSpan.FromSeconds(10));

                // FailClosed: 429 with a Retry-After of 1 s.
                Assert.Equal(DecisionReason.RateLimited, decision.Reason);
                Assert.Equal(TimeSpan.FromSeconds(1), decision.RetryAfter);
                Assert.Equal(failure < 3, limiter.IsRedisAvailable);   // the breaker opens at exactly the third failure
            }

            // Open: checks no longer wait on Redis at all.
            Task<Decision> open = limiter.CheckAsync(client).AsTask();
            Assert.True(open.IsCompleted, "a check waited on Redis with the breaker open");
            Assert.Equal(DecisionReason.RateLimited, (await open).Reason);
        }
        finally
        {
            _server.Cli("CLIENT UNPAUSE");
        }
    }
}
