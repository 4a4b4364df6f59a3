namespace Floodgate.Tests;

public sealed class DecisionTests
{
    [Fact]
    public void DecisionIsSixteenBytesSoItIsReturnedInRegisters()
    {
        Assert.Equal(16, System.Runtime.CompilerServices.Unsafe.SizeOf<Decision>());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1_500)]
    [InlineData(2_147_483_647)]             // 24.8 days, exact to the millisecond
    public void DurationsUpTo24DaysAreExactToTheMillisecond(long ms)
    {
        var d = Decision.Denied(DecisionReason.Blocked, 10, ms, ms);
        Assert.Equal(TimeSpan.FromMilliseconds(ms), d.RetryAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(ms), d.ResetAfter);
    }

    [Fact]
    public void LongerDurationsAreKeptToTheSecondRoundedUp()
    {
        var d = Decision.Denied(DecisionReason.Blocked, 10, TimeSpan.FromDays(3_650).Ticks / 10_000 + 1, 2_147_483_648);
        Assert.Equal(TimeSpan.FromDays(3_650) + TimeSpan.FromSeconds(1), d.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(2_147_484), d.ResetAfter);
    }

    [Fact]
    public void ReasonLimitAndRemainingRoundTrip()
    {
        var d = new Decision(DecisionReason.Allowed, FloodgatePolicy.MaxTotalPermits, FloodgatePolicy.MaxTotalPermits - 1, 0, 60_000);
        Assert.True(d.IsAllowed);
        Assert.Equal(FloodgatePolicy.MaxTotalPermits, d.Limit);
        Assert.Equal(FloodgatePolicy.MaxTotalPermits - 1, d.Remaining);
        Assert.Equal(TimeSpan.Zero, d.RetryAfter);
        Assert.Equal(TimeSpan.FromMinutes(1), d.ResetAfter);

        Decision forbidden = Decision.Forbidden(DecisionReason.Denylisted, 5);
        Assert.False(forbidden.IsAllowed);
        Assert.Equal(DecisionReason.Denylisted, forbidden.Reason);
        Assert.Equal(TimeSpan.MaxValue, forbidden.RetryAfter);
        Assert.Equal(TimeSpan.MaxValue, forbidden.ResetAfter);
        Assert.Equal(DecisionReason.Allowlisted, Decision.Allowlisted(5).Reason);
        Assert.True(Decision.Allowlisted(5).IsAllowed);
    }
}
