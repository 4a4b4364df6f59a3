using Floodgate.Internal;

namespace Floodgate.Tests;

/// <summary>The shape arithmetic's building blocks, against plain integer arithmetic.</summary>
public sealed class ShapeMathTests
{
    [Fact]
    public void DivisionByReciprocalIsExactOverTheWholeRange()
    {
        var random = new Random(53);
        long[] divisors = [1, 2, 3, 7, 1_000, 333_333, 86_400_000, 3_600_000_000, PolicyLimits.MaxFiniteMs, (1L << 23) - 2];
        for (int i = 0; i < 200_000; i++)
        {
            long divisor = i % 3 == 0 ? divisors[random.Next(divisors.Length)] : random.NextInt64(1, 1L << 40);
            long x = random.Next(4) switch
            {
                0 => ShapeMath.MaxUnits - random.NextInt64(0, 1_000),
                1 => (random.NextInt64(0, ShapeMath.MaxUnits / divisor) * divisor) - random.Next(0, 2),   // at multiples
                _ => random.NextInt64(0, ShapeMath.MaxUnits),
            };
            x = Math.Max(0, x);
            long quotient = ShapeMath.Divide(x, divisor, 1.0 / divisor, out long remainder);
            Assert.True(quotient == x / divisor && remainder == x % divisor, $"{x} / {divisor}: {quotient} r {remainder}");
        }
    }

    [Fact]
    public void BucketTimesAreNeverZeroAndMatchTheirDefinitions()
    {
        // 3 per second: 333⅓ ms between permits, in units of 1/3 ms (one permit = 1000 units).
        Assert.Equal(334, ShapeMath.BucketResetMs(1_000, 3));
        Assert.Equal(1, ShapeMath.BucketRetryMs(1, 1_000, 1_000, 3));                // a third of a ms short
        Assert.Equal(1, ShapeMath.BucketRetryMs(0, 1_000, 1_000, 3));                // never "retry after 0"
        Assert.Equal(0, ShapeMath.BucketRemaining(1_000, 1_000, 1_000));
        Assert.Equal(2, ShapeMath.BucketRemaining(999, 3_000, 1_000));
    }

    [Fact]
    public void TheSlidingRetryIsTheFirstMillisecondTheEstimateAdmits()
    {
        var random = new Random(11);
        for (int i = 0; i < 20_000; i++)
        {
            long window = random.Next(1, 5_000);
            int allowance = random.Next(1, 50);
            int previous = random.Next(0, allowance + 1);
            int counter = random.Next(0, allowance + 1);
            long elapsed = random.NextInt64(0, window);
            if (ShapeMath.SlidingAdmits(counter, ShapeMath.Weighted(previous, elapsed, window), allowance, window))
            {
                continue;
            }

            long retry = ShapeMath.SlidingRetryMs(counter, previous, elapsed, allowance, window);
            Assert.False(Admits(counter, previous, elapsed, retry - 1, allowance, window) && retry > 1, $"admits sooner than {retry} ms");
            Assert.True(Admits(counter, previous, elapsed, retry, allowance, window), $"does not admit after {retry} ms");
        }

        // Whether a request `after` ms from now would be admitted, rolling into the next window.
        static bool Admits(int counter, int previous, long elapsed, long after, int allowance, long window)
        {
            long e = elapsed + after;
            return e < window
                ? ShapeMath.SlidingAdmits(counter, ShapeMath.Weighted(previous, e, window), allowance, window)
                : e < 2 * window && ShapeMath.SlidingAdmits(0, ShapeMath.Weighted(counter, e - window, window), allowance, window);
        }
    }
}
