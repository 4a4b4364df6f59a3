namespace Floodgate.Tests;

/// <summary>
/// How the fixed window admits a burst, measured against an exact sliding log of the allowed requests: the shape's
/// known weakness (up to 2 × PermitLimit - 1 within one window's length, across a window boundary) and its bound. The
/// reference model is the one the smoother shapes of issue 25 will be measured against.
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
