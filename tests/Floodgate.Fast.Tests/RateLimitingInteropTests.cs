using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.RateLimiting;

namespace Floodgate.Tests;

/// <summary>FloodgateLimiter.ToPartitionedRateLimiter: leases, metadata, statistics, permit counts, and Polly's rate-limiter strategy.</summary>
public sealed class RateLimitingInteropTests : IDisposable
{
    private static readonly IPAddress s_client = IPAddress.Parse("192.0.2.30");
    private readonly FakeTimeProvider _time = new(Harness.Start);
    private readonly FloodgateLimiter _limiter;
    private readonly PartitionedRateLimiter<IPAddress> _partitioned;

    public RateLimitingInteropTests()
    {
        _limiter = new FloodgateLimiter(
            new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) },
            new FloodgateLimiterOptions { TimeProvider = _time, Capacity = 1024 });
        _partitioned = _limiter.ToPartitionedRateLimiter<IPAddress>(ip => ip);
    }

    public void Dispose()
    {
        _partitioned.Dispose();
        _limiter.Dispose();
    }

    [Fact]
    public void PartitionedByAKeyOneKeyIsOneClientAndNoKeyIsTheAddress()
    {
        var hasher = new FloodgateKeyHasher(new byte[16]);
        using PartitionedRateLimiter<(IPAddress Address, string? Key)> byKey =
            _limiter.ToPartitionedRateLimiter<(IPAddress Address, string? Key)>(r => r.Address, r => r.Key, hasher);
        var other = IPAddress.Parse("198.51.100.4");
        Assert.True(byKey.AttemptAcquire((s_client, "k1"), 2).IsAcquired);
        Assert.True(byKey.AttemptAcquire((other, "k1")).IsAcquired);                      // the same key from another address
        Assert.False(byKey.AttemptAcquire((other, "k1")).IsAcquired);
        Assert.Equal(0, byKey.GetStatistics((s_client, "k1"))!.CurrentAvailablePermits);
        Assert.True(_limiter.Inspect(hasher.Hash("k1")).IsBlocked);
        Assert.True(byKey.AttemptAcquire((other, "k2")).IsAcquired);
        Assert.True(byKey.AttemptAcquire((other, null)).IsAcquired);                      // no key: the address
        Assert.Equal(1, _limiter.Inspect(other).Count);
        Assert.Equal(2, byKey.GetStatistics((other, string.Empty))!.CurrentAvailablePermits);
    }

    [Fact]
    public void AcquiredLeasesAreSharedAndRefusalsCarryRetryAfterAndAReason()
    {
        var events = new List<FloodgateEventKind>();
        _limiter.ClientStateChanged += (_, e) => events.Add(e.Kind);
        RateLimitLease first = _partitioned.AttemptAcquire(s_client);
        RateLimitLease second = _partitioned.AttemptAcquire(s_client);
        Assert.True(first.IsAcquired);
        Assert.Same(first, second);   // nothing allocated on the success path
        Assert.Empty(first.MetadataNames);
        Assert.True(_partitioned.AttemptAcquire(s_client).IsAcquired);

        // The fourth is over the limit: Floodgate blocks the client for five minutes, and says so.
        using RateLimitLease refused = _partitioned.AttemptAcquire(s_client);
        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter));
        Assert.Equal(TimeSpan.FromMinutes(5), retryAfter);
        Assert.True(refused.TryGetMetadata(MetadataName.ReasonPhrase, out string? reason));
        Assert.Equal("Too many requests: temporarily blocked", reason);
        Assert.Equal([FloodgateEventKind.Blocked], events);
        Assert.Equal(DecisionReason.Blocked, _limiter.Check(s_client).Reason);

        // Blacklisted: forbidden for good, so no Retry-After.
        IPAddress banned = IPAddress.Parse("192.0.2.31");
        _limiter.Blacklist(banned);
        using RateLimitLease forbidden = _partitioned.AttemptAcquire(banned);
        Assert.False(forbidden.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan _));
        Assert.True(forbidden.TryGetMetadata(MetadataName.ReasonPhrase, out string? why));
        Assert.Equal("Forbidden: blacklisted", why);
        Assert.Equal([MetadataName.ReasonPhrase.Name], forbidden.MetadataNames);
    }

    [Theory]
    [InlineData(FloodgateAlgorithm.TokenBucket, 2_000)]
    [InlineData(FloodgateAlgorithm.SlidingWindow, 1_001)]
    public void EveryShapeRefusesWithTheTimeUntilItsNextPermit(FloodgateAlgorithm algorithm, long retryMs)
    {
        // 4 per 8 s. TokenBucket, Burst 2: two at once, then one permit every 2 s. SlidingWindow: 4 in a window; 1 s into
        // the next, the previous 4 weigh 3.5, so one more; the next when 1 + 4 × (8 - e) / 8 < 4, at e = 2.001 s.
        using var limiter = new FloodgateLimiter(
            new FloodgatePolicy { Algorithm = algorithm, PermitLimit = 4, Window = TimeSpan.FromSeconds(8), Burst = algorithm == FloodgateAlgorithm.TokenBucket ? 2 : null },
            new FloodgateLimiterOptions { TimeProvider = _time, Capacity = 1024 });
        using PartitionedRateLimiter<IPAddress> partitioned = limiter.ToPartitionedRateLimiter<IPAddress>(ip => ip);
        int granted = 0;
        RateLimitLease lease;
        _time.Advance(TimeSpan.FromSeconds(3));
        while ((lease = partitioned.AttemptAcquire(s_client)).IsAcquired)
        {
            granted++;
            if (algorithm == FloodgateAlgorithm.SlidingWindow && granted == 4)
            {
                _time.Advance(TimeSpan.FromSeconds(9));   // 1 s into the next window
            }
        }

        using (lease)
        {
            Assert.Equal(algorithm == FloodgateAlgorithm.TokenBucket ? 2 : 5, granted);
            Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter));
            Assert.Equal(TimeSpan.FromMilliseconds(retryMs), retryAfter);
        }
    }

    [Fact]
    public async Task AcquireAsyncAnswersAtOnceAndListsApply()
    {
        IPAddress listed = IPAddress.Parse("198.51.100.1");
        _limiter.Allowlist.Add(listed);
        for (int i = 0; i < 10; i++)
        {
            Assert.True((await _partitioned.AcquireAsync(listed)).IsAcquired);
        }

        _limiter.Denylist.Add(s_client);
        using RateLimitLease denied = await _partitioned.AcquireAsync(s_client);
        Assert.False(denied.IsAcquired);
        Assert.True(denied.TryGetMetadata(MetadataName.ReasonPhrase, out string? reason));
        Assert.Equal("Forbidden: denylisted", reason);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await _partitioned.AcquireAsync(s_client, 1, new CancellationToken(canceled: true)));
    }

    [Fact]
    public void PermitCountZeroAsksWithoutTakingAndMoreIsTheRequestsCost()
    {
        for (int i = 0; i < 5; i++)
        {
            Assert.True(_partitioned.AttemptAcquire(s_client, 0).IsAcquired);
        }

        Assert.Equal(3, _limiter.Inspect(s_client).Remaining);   // nothing was taken

        using RateLimitLease four = _partitioned.AttemptAcquire(s_client, 4);
        Assert.False(four.IsAcquired);
        Assert.True(four.TryGetMetadata(MetadataName.ReasonPhrase, out string? reason));
        Assert.Equal("A permit count above the policy's largest request (3) can never be granted; got 4.", reason);
        Assert.Equal(3, _limiter.Inspect(s_client).Remaining);

        Assert.True(_partitioned.AttemptAcquire(s_client, 2).IsAcquired);   // a cost of 2
        Assert.Equal(1, _limiter.Inspect(s_client).Remaining);

        for (int i = 0; i < 4; i++)
        {
            _partitioned.AttemptAcquire(s_client).Dispose();
        }

        using RateLimitLease probe = _partitioned.AttemptAcquire(s_client, 0);
        Assert.False(probe.IsAcquired);
        Assert.True(probe.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter));
        Assert.Equal(TimeSpan.FromMinutes(5), retryAfter);
    }

    [Fact]
    public void StatisticsCountLeasesAndShowTheClientsPermits()
    {
        _partitioned.AttemptAcquire(s_client).Dispose();
        _partitioned.AttemptAcquire(s_client).Dispose();
        RateLimiterStatistics statistics = _partitioned.GetStatistics(s_client)!;
        Assert.Equal(1, statistics.CurrentAvailablePermits);
        Assert.Equal(0, statistics.CurrentQueuedCount);
        Assert.Equal(2, statistics.TotalSuccessfulLeases);
        _partitioned.AttemptAcquire(s_client).Dispose();
        _partitioned.AttemptAcquire(s_client).Dispose();
        statistics = _partitioned.GetStatistics(s_client)!;
        Assert.Equal(0, statistics.CurrentAvailablePermits);
        Assert.Equal(1, statistics.TotalFailedLeases);
    }

    [Fact]
    public void ManyThreadsOnOneClientAreGrantedExactlyTheLimit()
    {
        using var limiter = new FloodgateLimiter(new FloodgatePolicy { PermitLimit = 1_000, Window = TimeSpan.FromHours(1) }, new FloodgateLimiterOptions { TimeProvider = _time, Capacity = 1024 });
        using PartitionedRateLimiter<string> partitioned = limiter.ToPartitionedRateLimiter<string>(_ => s_client);
        int acquired = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            for (int i = 0; i < 5_000; i++)
            {
                using RateLimitLease lease = partitioned.AttemptAcquire("request");
                if (lease.IsAcquired)
                {
                    Interlocked.Increment(ref acquired);
                }
            }
        });
        Assert.Equal(1_000, acquired);
    }

    [Fact]
    public async Task InAPollyPipelineARefusalIsRateLimiterRejectedExceptionWithRetryAfter()
    {
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder()
            .AddRateLimiter(new RateLimiterStrategyOptions
            {
                RateLimiter = arguments => _partitioned.AcquireAsync(s_client, 1, arguments.Context.CancellationToken),
            })
            .Build();
        int calls = 0;
        for (int i = 0; i < 3; i++)
        {
            await pipeline.ExecuteAsync(_ => { calls++; return ValueTask.CompletedTask; });
        }

        var rejected = await Assert.ThrowsAsync<RateLimiterRejectedException>(async () => await pipeline.ExecuteAsync(_ => { calls++; return ValueTask.CompletedTask; }));
        Assert.Equal(TimeSpan.FromMinutes(5), rejected.RetryAfter);
        Assert.Equal(3, calls);
        Assert.Equal(DecisionReason.Blocked, _limiter.Inspect(s_client).IsBlocked ? DecisionReason.Blocked : DecisionReason.Allowed);
    }
}
