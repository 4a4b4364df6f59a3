using System.Net;

namespace Floodgate.Tests;

/// <summary>
/// The engine's side of a batched shared store (Floodgate.Redis, SyncMode Batched): the per-client budget, the permits
/// taken for an exchange and given back when it fails, and the shared totals set into each shape.
/// </summary>
public sealed class BatchedCountTests
{
    private static readonly IpKey Client = IpKey.Create(IPAddress.Parse("198.51.100.40"));

    [Fact]
    public void TheBudgetLimitsWhatOneInstanceAdmitsBetweenAnsweredExchanges()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) });
        int decided = 0;
        while (h.Limiter.TryCheckBatched(in Client, 1, budget: 10, refusals: true, out Decision decision))
        {
            Assert.True(decision.IsAllowed);
            decided++;
        }

        Assert.Equal(10, decided);   // then the store must decide

        // An exchange takes the 10; the budget stays spent until it is answered.
        var batch = new List<(int Slot, IpKey Key, int Permits)>();
        h.Limiter.TakeUnsent(batch);
        (int slot, IpKey key, int permits) = Assert.Single(batch);
        Assert.Equal(Client, key);
        Assert.Equal(10, permits);
        Assert.False(h.Limiter.TryCheckBatched(in Client, 1, budget: 10, refusals: true, out _));
        h.Limiter.TakeUnsent(batch);
        Assert.Empty(batch);   // a client with an exchange in flight waits for the next

        // Answered: the shared count (say 40: 30 from other instances) is set, and the budget is free again.
        h.Limiter.CompleteSent(slot, in key, delivered: true, windowAgeMs: 5_000, count: 40, previous: 0);
        Assert.False(h.Limiter.HasUnsent);
        Assert.True(h.Limiter.TryCheckBatched(in Client, 1, budget: 10, refusals: true, out Decision next));
        Assert.Equal(100 - 41, next.Remaining);
        Assert.Equal(55_000, next.ResetAfter.TotalMilliseconds);   // the shared window's end: started 5 s ago
    }

    [Fact]
    public void AFailedExchangeKeepsItsPermitsForTheNext()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) });
        for (int i = 0; i < 7; i++)
        {
            Assert.True(h.Limiter.TryCheckBatched(in Client, 1, budget: 50, refusals: true, out _));
        }

        var batch = new List<(int Slot, IpKey Key, int Permits)>();
        h.Limiter.TakeUnsent(batch);
        (int slot, IpKey key, _) = Assert.Single(batch);
        Assert.True(h.Limiter.TryCheckBatched(in Client, 2, budget: 50, refusals: true, out _));   // admitted while the exchange is out
        h.Limiter.CompleteSent(slot, in key, delivered: false, 0, 0, 0);
        h.Limiter.TakeUnsent(batch);
        Assert.Equal(9, Assert.Single(batch).Permits);   // the 7 that failed and the 2 admitted since
    }

    [Fact]
    public void AClientWhoseSharedCountIsSpentIsRefusedHere()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) });
        Assert.True(h.Limiter.TryCheckBatched(in Client, 1, budget: 50, refusals: true, out _));
        var batch = new List<(int Slot, IpKey Key, int Permits)>();
        h.Limiter.TakeUnsent(batch);
        h.Limiter.CompleteSent(batch[0].Slot, batch[0].Key, delivered: true, windowAgeMs: 0, count: 100, previous: 0);
        Assert.True(h.Limiter.TryCheckBatched(in Client, 1, budget: 50, refusals: true, out Decision refused));
        Assert.Equal(DecisionReason.RateLimited, refused.Reason);
        Assert.False(h.Limiter.HasUnsent);   // a refusal spends nothing
    }

    [Fact]
    public void ARefusalThatIsTheStoresIsMadeHereOnlyWhileTheStoresRefusalHolds()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) });
        Assert.True(h.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: false, out _));
        Assert.True(h.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: false, out _));
        Assert.False(h.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: false, out _));   // spent: the store decides (grace, escalation)

        // The store refused it for 30 s: refused here meanwhile, with the store's Retry-After.
        h.Limiter.HoldRefusal(in Client, 30_000);
        Assert.True(h.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: false, out Decision refused));
        Assert.Equal(DecisionReason.RateLimited, refused.Reason);
        Assert.Equal(30, refused.RetryAfter.TotalSeconds);
        h.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(h.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: false, out _));   // over: the store again

        h.Limiter.HoldRefusal(in Client, 30_000);
        h.Limiter.HoldRefusal(in Client, 0);   // lifted (an operator's unblock)
        Assert.False(h.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: false, out _));
    }

    [Fact]
    public void TheSlidingWindowTakesThePreviousCountAndTheBucketItsDebt()
    {
        using (var sliding = new Harness(new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1), Algorithm = FloodgateAlgorithm.SlidingWindow }))
        {
            Assert.True(sliding.Limiter.TryCheckBatched(in Client, 1, budget: 50, refusals: true, out _));
            var batch = new List<(int Slot, IpKey Key, int Permits)>();
            sliding.Limiter.TakeUnsent(batch);

            // Half-way through a window of 20 after one of 80: 20 + 80 x 1/2 = 60 counted.
            sliding.Limiter.CompleteSent(batch[0].Slot, batch[0].Key, delivered: true, windowAgeMs: 30_000, count: 20, previous: 80);
            Assert.True(sliding.Limiter.TryCheckBatched(in Client, 1, budget: 50, refusals: true, out Decision next));
            Assert.InRange(next.Remaining, 38, 40);
        }

        using var bucket = new Harness(new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromSeconds(1), Burst = 10, Algorithm = FloodgateAlgorithm.TokenBucket });
        Assert.True(bucket.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: true, out _));
        var taken = new List<(int Slot, IpKey Key, int Permits)>();
        bucket.Limiter.TakeUnsent(taken);

        // A debt of 9 permits (9 x W units of 1/P ms): one token left.
        bucket.Limiter.CompleteSent(taken[0].Slot, taken[0].Key, delivered: true, 0, count: 9 * 1_000, previous: 0);
        Assert.True(bucket.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: true, out Decision last));
        Assert.True(last.IsAllowed);
        Assert.True(bucket.Limiter.TryCheckBatched(in Client, 1, budget: 5, refusals: true, out Decision refused));
        Assert.Equal(DecisionReason.RateLimited, refused.Reason);
    }

    [Fact]
    public void ManyThreadsOnOneClientAdmitAtMostTheBudgetAndRecordEveryAdmission()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1_000_000, Window = TimeSpan.FromMinutes(1) });
        const int Threads = 8;
        int admitted = 0;
        using var start = new Barrier(Threads);
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, _ =>
        {
            start.SignalAndWait();
            for (int i = 0; i < 10_000; i++)
            {
                if (h.Limiter.TryCheckBatched(in Client, 1, budget: 5_000, refusals: true, out Decision decision) && decision.IsAllowed)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        });

        // Racing requests may each pass the budget's test: over it by at most one per thread.
        Assert.InRange(admitted, 5_000, 5_000 + Threads);
        var batch = new List<(int Slot, IpKey Key, int Permits)>();
        h.Limiter.TakeUnsent(batch);
        Assert.Equal(admitted, Assert.Single(batch).Permits);
    }

    [Fact]
    public void ACheckHereAllocatesNothing()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1_000_000, Window = TimeSpan.FromMinutes(1) });
        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 1_000; i++)
            {
                h.Limiter.TryCheckBatched(in Client, 1, budget: 1_000_000, refusals: true, out _);
            }
        });
    }
}
