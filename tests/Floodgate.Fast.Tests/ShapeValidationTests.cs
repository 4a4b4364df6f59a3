namespace Floodgate.Tests;

/// <summary>FloodgatePolicy.Validate for the shapes: the knobs a shape does not have, and the bound of exact arithmetic.</summary>
public sealed class ShapeValidationTests
{
    [Theory]
    [InlineData(FloodgateAlgorithm.FixedWindow, 3, false, "Burst applies only to Algorithm TokenBucket (this policy is FixedWindow); remove it; got 3.")]
    [InlineData(FloodgateAlgorithm.SlidingWindow, 3, false, "Burst applies only to Algorithm TokenBucket (this policy is SlidingWindow)")]
    [InlineData(FloodgateAlgorithm.TokenBucket, 0, false, "Burst must be between 1 and 8388606, or null for PermitLimit; got 0.")]
    [InlineData(FloodgateAlgorithm.TokenBucket, null, true, "AccumulateRequests applies only to Algorithm FixedWindow: a TokenBucket has no windows")]
    [InlineData(FloodgateAlgorithm.SlidingWindow, null, true, "AccumulateRequests applies only to Algorithm FixedWindow: a SlidingWindow has no windows")]
    [InlineData((FloodgateAlgorithm)9, null, false, "Algorithm must be FixedWindow, SlidingWindow or TokenBucket; got 9.")]
    public void AKnobTheShapeDoesNotHaveIsRefusedNamingIt(FloodgateAlgorithm algorithm, int? burst, bool accumulate, string expected)
    {
        var policy = new FloodgatePolicy { Algorithm = algorithm, PermitLimit = 10, Window = TimeSpan.FromMinutes(1), Burst = burst, AccumulateRequests = accumulate };
        Assert.Contains(policy.Validate("Policies:api"), e => e.StartsWith("Policies:api.", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void ASlidingWindowCountsUpToTwentyTwoBits()
    {
        var policy = new FloodgatePolicy { Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 4_194_300, GracePermits = 3, Window = TimeSpan.FromSeconds(1) };
        Assert.Contains(policy.Validate("api"), e => e.Contains("api.PermitLimit + GracePermits must not exceed 4194302 on a SlidingWindow; got 4194303.", StringComparison.Ordinal));
        policy.GracePermits = 2;
        Assert.Empty(policy.Validate("api"));
    }

    [Fact]
    public void ABucketTooLargeForExactIntegersIsRefused()
    {
        var policy = new FloodgatePolicy
        {
            Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 5, Burst = 8_000_000, Window = FloodgatePolicy.MaxFiniteDuration,
            MaxWindowDuration = FloodgatePolicy.Forever,
        };
        string error = Assert.Single(policy.Validate("api"));
        Assert.Contains("api.(Burst + GracePermits + 1) × Window must stay below 9007199237963776", error, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new FloodgateLimiter(policy));
    }

    [Theory]
    [InlineData(FloodgateAlgorithm.FixedWindow)]
    [InlineData(FloodgateAlgorithm.SlidingWindow)]
    [InlineData(FloodgateAlgorithm.TokenBucket)]
    public void EveryShapeAcceptsEveryOtherKnob(FloodgateAlgorithm algorithm)
    {
        var policy = new FloodgatePolicy
        {
            Algorithm = algorithm, PermitLimit = 100, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5),
            RelativeBlock = true, BlockLimit = 3, BlockExceedDuration = TimeSpan.FromHours(1), BlockExceedReset = false,
            Cooldown = TimeSpan.FromMilliseconds(100), GracePermits = 5, BlockMultiplier = 2.0, MaxBlockDuration = TimeSpan.FromHours(1),
            Burst = algorithm == FloodgateAlgorithm.TokenBucket ? 20 : null,
        };
        Assert.Empty(policy.Validate());
    }
}
