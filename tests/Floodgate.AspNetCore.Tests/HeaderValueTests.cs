using Microsoft.Extensions.Time.Testing;

namespace Floodgate.AspNetCore.Tests;

/// <summary>The RateLimit values written on the request path (exact-size strings, integer seconds) against plain formatting.</summary>
public sealed class HeaderValueTests
{
    [Theory]
    [InlineData(0L, 0L)]
    [InlineData(-1L, 0L)]
    [InlineData(-TimeSpan.TicksPerDay, 0L)]
    [InlineData(1L, 1L)]
    [InlineData(TimeSpan.TicksPerSecond - 1, 1L)]
    [InlineData(TimeSpan.TicksPerSecond, 1L)]
    [InlineData(TimeSpan.TicksPerSecond + 1, 2L)]
    [InlineData(60 * TimeSpan.TicksPerSecond, 60L)]
    [InlineData((60 * TimeSpan.TicksPerSecond) - 1, 60L)]
    [InlineData(long.MaxValue, (long.MaxValue / TimeSpan.TicksPerSecond) + 1)]
    public void SecondsRoundUpToWholeSeconds(long ticks, long expected) =>
        Assert.Equal(expected, RejectionWriter.Seconds(TimeSpan.FromTicks(ticks)));

    [Fact]
    public void SecondsMatchTheCeilingOfTotalSecondsForTheDurationsPoliciesUse()
    {
        var random = new Random(7);
        for (int i = 0; i < 100_000; i++)
        {
            var value = TimeSpan.FromTicks(random.NextInt64(-TimeSpan.TicksPerSecond, 400 * TimeSpan.TicksPerDay));
            long expected = value <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(value.TotalSeconds);
            Assert.Equal(expected, RejectionWriter.Seconds(value));
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(9, 10)]
    [InlineData(10, 59)]
    [InlineData(12_345, 90)]
    [InlineData(8_000_000, 86_400)]
    public void TheStateHeaderIsThePlainFormattingOfEveryDecision(int permitLimit, int windowSeconds)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var policy = new FloodgatePolicy { PermitLimit = permitLimit, Window = TimeSpan.FromSeconds(windowSeconds), BlockDuration = TimeSpan.FromSeconds(30) };
        using var limiter = new FloodgateLimiter(policy, new FloodgateLimiterOptions { TimeProvider = time, Capacity = 1024 });
        var policies = new EndpointPolicies([("api", policy, limiter, null)]);
        var random = new Random(permitLimit);
        var seen = new HashSet<(int, long)>();
        for (int i = 0; i < 5_000; i++)
        {
            Decision decision = limiter.Check(System.Net.IPAddress.Parse($"10.0.{random.Next(4)}.1"));
            long reset = decision.ResetAfter <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(decision.ResetAfter.TotalSeconds);
            string expected = $"\"api\";r={decision.Remaining.ToString(System.Globalization.CultureInfo.InvariantCulture)};t={reset.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            Assert.Equal(expected, policies.StateHeader(decision));
            Assert.Equal(expected, policies.StateHeader([decision]));   // the several-policies path gives the same item
            seen.Add((decision.Remaining, reset));
            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 3 * windowSeconds)));
        }

        Assert.True(seen.Count > Math.Min(permitLimit, 50), $"only {seen.Count} distinct values were checked");
    }
}
