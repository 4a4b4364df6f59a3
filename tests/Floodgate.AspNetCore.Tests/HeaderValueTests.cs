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
        var policies = new EndpointPolicies([("api", policy, limiter, null, 1)]);
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

    [Fact]
    public void SeveralPoliciesGiveOneItemEachInOrder()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var options = new FloodgateLimiterOptions { TimeProvider = time, Capacity = 1024 };
        var minute = new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) };
        var hour = new FloodgatePolicy { PermitLimit = 1_000, Window = TimeSpan.FromHours(1) };
        var day = new FloodgatePolicy { PermitLimit = 7, Window = TimeSpan.FromDays(1), BlockDuration = TimeSpan.FromHours(2) };
        using var a = new FloodgateLimiter(minute, options);
        using var b = new FloodgateLimiter(hour, options);
        using var c = new FloodgateLimiter(day, options);
        var policies = new EndpointPolicies([("per-minute", minute, a, null, 1), ("hourly", hour, b, null, 1), ("d", day, c, null, 1)]);
        Assert.Equal("\"per-minute\";q=5;w=60, \"hourly\";q=1000;w=3600, \"d\";q=7;w=86400", policies.PolicyHeader);
        var address = System.Net.IPAddress.Parse("10.1.2.3");
        for (int i = 0; i < 40; i++)
        {
            Decision[] decisions = [a.Check(address), b.Check(address), c.Check(address)];
            string expected = string.Join(", ", decisions.Select((d, n) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"\"{(n == 0 ? "per-minute" : n == 1 ? "hourly" : "d")}\";r={d.Remaining};t={(d.ResetAfter <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(d.ResetAfter.TotalSeconds))}")));
            Assert.Equal(expected, policies.StateHeader(decisions));
            Assert.Equal(expected[..expected.IndexOf(", \"hourly", StringComparison.Ordinal)], policies.StateHeader(decisions.AsSpan(0, 1)));
            time.Advance(TimeSpan.FromSeconds(7.3));
        }
    }
}
