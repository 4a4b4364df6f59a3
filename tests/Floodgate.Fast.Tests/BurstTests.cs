namespace Floodgate.Tests;

/// <summary>
/// How each shape admits a burst, measured against an exact sliding log of the allowed requests: the fixed window's
/// known weakness (up to 2 × PermitLimit - 1 within a millisecond, across a window boundary), the sliding window's bound
/// (PermitLimit + PermitLimit × L / W in any interval of length L ≤ W) and the token bucket's (Burst at one instant,
/// Burst + rate × L, plus one, in any interval of length L). docs/policies.md states them.
/// </summary>
public sealed class BurstTests
{
    private const string Client = "198.51.100.30";

    [Fact]
    public void AFixedWindowAdmitsTwiceItsLimitLessOneAcrossAWindowBoundary()
    {
        const int limit = 10;
        using var h = new Harness(new FloodgatePolicy { PermitLimit = limit, Window = TimeSpan.FromSeconds(10), MaxClientsPerPrefix = 0 });
        var log = new SlidingLog(h.Time);

        // The adversary: one request opens the window, the rest of the budget at its very end, the next budget at once.
        log.Record(h.Check(Client));
        h.Advance(TimeSpan.FromMilliseconds(9_999));
        for (int i = 0; i < limit; i++)
        {
            log.Record(h.Check(Client));
        }

        h.Advance(TimeSpan.FromMilliseconds(1));
        for (int i = 0; i < limit + 5; i++)
        {
            log.Record(h.Check(Client));
        }

        Assert.Equal(2 * limit, log.Allowed);
        Assert.Equal(2 * limit - 1, log.MostInAnyInterval(TimeSpan.FromMilliseconds(1)));   // 19 within one millisecond
        Assert.Equal(2 * limit, log.MostInAnyInterval(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 10)]
    [InlineData(3, 50)]
    public void OnRandomTrafficAFixedWindowNeverAdmitsMoreThanTwiceItsLimitInAnyWindowLength(int seed, int limit)
    {
        var window = TimeSpan.FromSeconds(10);
        using var h = new Harness(new FloodgatePolicy { PermitLimit = limit, Window = window, MaxClientsPerPrefix = 0 });
        var log = new SlidingLog(h.Time);
        var random = new Random(seed);
        double meanGapMs = window.TotalMilliseconds / (limit * 3.0);   // three times the rate the policy allows
        for (int i = 0; i < 20_000; i++)
        {
            h.Advance(TimeSpan.FromMilliseconds(Math.Round(-meanGapMs * Math.Log(1 - random.NextDouble()))));   // Poisson arrivals
            log.Record(h.Check(Client));
        }

        Assert.InRange(log.MostInAnyInterval(window), limit, 2 * limit);
        Assert.InRange(log.MostInAnyInterval(window / 1_000), 1, 2 * limit);
        Assert.True(log.Allowed > 0 && log.Allowed < 20_000);
    }

    [Theory]
    [InlineData(1, 3, 1)]
    [InlineData(2, 10, 10)]
    [InlineData(3, 50, 20)]
    [InlineData(4, 7, 30)]
    public void ATokenBucketAdmitsItsBurstAtOnceAndItsRateAfterwards(int seed, int limit, int burst)
    {
        var window = TimeSpan.FromSeconds(10);
        using var h = new Harness(new FloodgatePolicy { Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = limit, Burst = burst, Window = window, MaxClientsPerPrefix = 0 });
        var log = new SlidingLog(h.Time);

        // The whole burst at one instant, and not one more.
        for (int i = 0; i < burst + 5; i++)
        {
            log.Record(h.Check(Client));
        }

        Assert.Equal(burst, log.Allowed);

        // Then Poisson traffic at three times the rate, for 200 windows.
        var random = new Random(seed);
        double meanGapMs = window.TotalMilliseconds / (limit * 3.0);
        DateTimeOffset start = h.Time.GetUtcNow();
        for (int i = 0; i < 200 * limit * 3; i++)
        {
            h.Advance(TimeSpan.FromMilliseconds(Math.Round(-meanGapMs * Math.Log(1 - random.NextDouble()))));
            log.Record(h.Check(Client));
        }

        Assert.Equal(burst, log.MostInAnyInterval(TimeSpan.Zero));
        foreach (TimeSpan length in new[] { window / 100, window / 7, window / 2, window, window * 3 })
        {
            int bound = burst + (int)Math.Floor(length.TotalMilliseconds * limit / window.TotalMilliseconds) + 1;
            Assert.InRange(log.MostInAnyInterval(length), 1, bound);
        }

        // The sustained rate: everything the rate allowed over the run (the burst aside), less what Poisson gaps left unused.
        double elapsedWindows = (h.Time.GetUtcNow() - start) / window;
        double sustained = (log.Allowed - burst) / elapsedWindows;
        // (A small bucket cannot save the permits that Poisson gaps leave, so it runs below the rate.)
        Assert.InRange(sustained, limit * (burst >= 10 ? 0.9 : 0.7), limit + ((double)burst / elapsedWindows) + 0.01);
    }

    [Fact]
    public void ATokenBucketOfOneSpacesRequestsEvenly()
    {
        // 5 per second with Burst 1: one request per 200 ms, never two closer, however they are sent.
        using var h = new Harness(new FloodgatePolicy { Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 5, Burst = 1, Window = TimeSpan.FromSeconds(1), MaxClientsPerPrefix = 0 });
        var log = new SlidingLog(h.Time);
        for (int i = 0; i < 10_000; i++)
        {
            h.Advance(TimeSpan.FromMilliseconds(7));
            log.Record(h.Check(Client));
        }

        Assert.Equal(1, log.MostInAnyInterval(TimeSpan.FromMilliseconds(199)));
        Assert.InRange(log.Allowed, 340, 351);   // 70 s at 5 a second, each permit claimed at the first 7 ms tick after it
    }

    [Fact]
    public void ASlidingWindowHasNoDoubleBurstAtTheBoundary()
    {
        // The fixed window's adversary: one request opens the window, the rest of the budget at its very end, the next at once.
        const int limit = 10;
        var window = TimeSpan.FromSeconds(10);
        using var h = new Harness(new FloodgatePolicy { Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = limit, Window = window, MaxClientsPerPrefix = 0 });
        var log = new SlidingLog(h.Time);
        log.Record(h.Check(Client));
        h.Advance(TimeSpan.FromMilliseconds(9_999));
        for (int i = 0; i < limit; i++)
        {
            log.Record(h.Check(Client));
        }

        h.Advance(TimeSpan.FromMilliseconds(1));
        for (int i = 0; i < limit + 5; i++)
        {
            log.Record(h.Check(Client));
        }

        Assert.Equal(limit, log.Allowed);                                    // nothing more at the boundary
        Assert.Equal(limit - 1, log.MostInAnyInterval(TimeSpan.FromMilliseconds(1)));   // the fixed window: 2 × limit - 1

        // The worst case: the previous window's requests all at its end are weighed as if spread over it, so the next
        // window admits them again as their weight falls: up to 2 × PermitLimit - 1 over one window's length, never at once.
        for (int i = 0; i < 10_000; i++)
        {
            h.Advance(TimeSpan.FromMilliseconds(1));
            log.Record(h.Check(Client));
        }

        Assert.InRange(log.MostInAnyInterval(window), limit, (2 * limit) - 1);
        foreach (TimeSpan length in new[] { TimeSpan.Zero, window / 100, window / 10, window / 2, window })
        {
            Assert.InRange(log.MostInAnyInterval(length), 1, limit + (int)Math.Ceiling(length.TotalMilliseconds * limit / window.TotalMilliseconds));
        }
    }

    [Theory]
    [InlineData(1, 10, 0.10)]
    [InlineData(2, 50, 0.05)]
    [InlineData(3, 200, 0.05)]
    [InlineData(4, 1000, 0.05)]
    public void OnRandomTrafficASlidingWindowStaysCloseToAnExactLog(int seed, int limit, double tolerance)
    {
        // The same Poisson arrivals (at 1.5 times the rate) through the sliding window and through an exact sliding-log
        // limiter (admit while fewer than PermitLimit were admitted in the last window's length): the totals agree
        // within a few percent, and the sliding window stays within its bound in every interval.
        var window = TimeSpan.FromSeconds(10);
        using var h = new Harness(new FloodgatePolicy { Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = limit, Window = window, MaxClientsPerPrefix = 0 });
        var log = new SlidingLog(h.Time);
        var exact = new Queue<DateTimeOffset>();   // the exact log's admissions within the last window's length
        int exactAllowed = 0;
        var random = new Random(seed);
        double meanGapMs = window.TotalMilliseconds / (limit * 1.5);
        for (int i = 0; i < 300 * limit; i++)
        {
            h.Advance(TimeSpan.FromMilliseconds(Math.Round(-meanGapMs * Math.Log(1 - random.NextDouble()))));
            DateTimeOffset now = h.Time.GetUtcNow();
            log.Record(h.Check(Client));
            while (exact.Count > 0 && now - exact.Peek() >= window)
            {
                exact.Dequeue();
            }

            if (exact.Count < limit)
            {
                exact.Enqueue(now);
                exactAllowed++;
            }
        }

        double error = Math.Abs(log.Allowed - (double)exactAllowed) / exactAllowed;
        Assert.True(error < tolerance, $"sliding window admitted {log.Allowed}, the exact log {exactAllowed}: {error:P1} apart");
        Assert.InRange(log.MostInAnyInterval(window), limit, (2 * limit) - 1);
        Assert.InRange(log.MostInAnyInterval(window / 10), 1, limit + (int)Math.Ceiling(limit / 10.0));
    }

    /// <summary>The scenario of docs/shapes.md's table: 10 per 10 s; the counts there are these.</summary>
    [Theory]
    [InlineData(FloodgateAlgorithm.FixedWindow, 1, 9, 10, 1)]
    [InlineData(FloodgateAlgorithm.SlidingWindow, 1, 9, 0, 10)]
    [InlineData(FloodgateAlgorithm.TokenBucket, 1, 10, 0, 10)]
    public void ShapeTable(FloodgateAlgorithm algorithm, int atZero, int atTheWindowsEnd, int atTheBoundary, int overTheNextTenSeconds)
    {
        using var h = new Harness(new FloodgatePolicy { Algorithm = algorithm, PermitLimit = 10, Window = TimeSpan.FromSeconds(10), MaxClientsPerPrefix = 0 });
        int Admitted(int requests, TimeSpan gap)
        {
            int admitted = 0;
            for (int i = 0; i < requests; i++)
            {
                h.Advance(gap);
                admitted += h.Check(Client).IsAllowed ? 1 : 0;
            }

            return admitted;
        }

        int[] actual =
        [
            Admitted(1, TimeSpan.Zero),                                                   // one request at 0 s
            Admitted(1, TimeSpan.FromMilliseconds(9_999)) + Admitted(9, TimeSpan.Zero),   // ten at 9.999 s
            Admitted(1, TimeSpan.FromMilliseconds(1)) + Admitted(14, TimeSpan.Zero),      // fifteen at 10 s
            Admitted(100, TimeSpan.FromMilliseconds(100)),                                // one every 100 ms until 20 s
        ];
        Assert.Equal([atZero, atTheWindowsEnd, atTheBoundary, overTheNextTenSeconds], actual);
    }

    /// <summary>The exact record of allowed requests, to measure any shape against.</summary>
    private sealed class SlidingLog(Microsoft.Extensions.Time.Testing.FakeTimeProvider time)
    {
        private readonly List<DateTimeOffset> _allowed = [];

        public int Allowed => _allowed.Count;

        public void Record(Decision decision)
        {
            if (decision.IsAllowed)
            {
                _allowed.Add(time.GetUtcNow());
            }
        }

        /// <summary>The most requests allowed within any closed interval of <paramref name="length"/> (two pointers over the sorted times).</summary>
        public int MostInAnyInterval(TimeSpan length)
        {
            int most = 0;
            int first = 0;
            for (int last = 0; last < _allowed.Count; last++)
            {
                while (_allowed[last] - _allowed[first] > length)
                {
                    first++;
                }

                most = Math.Max(most, last - first + 1);
            }

            return most;
        }
    }
}
