using Floodgate.Tests.Shared.Conformance;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>The conformance suite over the runtime engine: a <see cref="FloodgatePolicy"/> read at each check.</summary>
public sealed class RuntimeConformanceTests : PolicyConformanceTests
{
    protected override Task<IConformanceLimiter> CreateAsync(string name, FakeTimeProvider time) =>
        Task.FromResult<IConformanceLimiter>(new InProcessConformanceLimiter(
            new FloodgateLimiter(ConformancePolicies.All[name], new FloodgateLimiterOptions { Capacity = 64, TimeProvider = time })));
}

/// <summary>
/// The conformance suite over generated limiters: the catalog's policies declared with <c>[FloodgatePolicy]</c>,
/// compiled by the source generator into checkers with their numbers as constants.
/// </summary>
public sealed partial class GeneratedConformanceTests : PolicyConformanceTests
{
    [FloodgatePolicy("conformance-limit", PermitLimit = 3, Window = "10s")]
    [FloodgatePolicy("conformance-block", PermitLimit = 2, Window = "10s", BlockDuration = "30s", BlockLimit = 2, BlockExceedDuration = "forever")]
    [FloodgatePolicy("conformance-punish", PermitLimit = 1, Window = "5s", BlockDuration = "10s", BlockLimit = 1, BlockExceedDuration = "1m", BlockExceedReset = true)]
    [FloodgatePolicy("conformance-adaptive", PermitLimit = 1, Window = "5s", BlockDuration = "4s", BlockMultiplier = 2.0, MaxBlockDuration = "10s")]
    [FloodgatePolicy("conformance-grace", PermitLimit = 2, Window = "10s", GracePermits = 1, BlockDuration = "20s")]
    [FloodgatePolicy("conformance-cooldown", PermitLimit = 5, Window = "10s", Cooldown = "1s")]
    [FloodgatePolicy("conformance-carry", PermitLimit = 3, Window = "10s", AccumulateRequests = true, AccumulateLimit = 2)]
    [FloodgatePolicy("conformance-relative", PermitLimit = 1, Window = "10s", BlockDuration = "5s", RelativeBlock = true)]
    [FloodgatePolicy("conformance-bucket", Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 4, Window = "8s", Burst = 2)]
    [FloodgatePolicy("conformance-bucket-strict", Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 3, Window = "1s", Burst = 1)]
    [FloodgatePolicy("conformance-bucket-block", Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 2, Window = "10s", BlockDuration = "30s", BlockLimit = 1, BlockExceedDuration = "forever")]
    [FloodgatePolicy("conformance-bucket-grace", Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 2, Window = "10s", GracePermits = 1, BlockDuration = "20s")]
    [FloodgatePolicy("conformance-bucket-cooldown", Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 5, Window = "10s", Cooldown = "1s")]
    [FloodgatePolicy("conformance-sliding", Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 4, Window = "10s")]
    [FloodgatePolicy("conformance-sliding-block", Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 2, Window = "10s", BlockDuration = "30s", BlockLimit = 1, BlockExceedDuration = "forever")]
    [FloodgatePolicy("conformance-sliding-grace", Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 2, Window = "10s", GracePermits = 1, BlockDuration = "20s")]
    [FloodgatePolicy("conformance-sliding-cooldown", Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 5, Window = "10s", Cooldown = "1s")]
    internal static partial class Declared;

    private static readonly FloodgatePolicyRegistry s_registry = new FloodgatePolicyRegistry().AddFloodgatePolicies();

    [Fact]
    public void EveryCatalogPolicyIsDeclaredAndCompilesToTheSameSettings()
    {
        Assert.Equal(ConformancePolicies.All.Keys.Order(StringComparer.Ordinal), s_registry.Names.Where(n => n.StartsWith("conformance-", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        foreach ((string name, FloodgatePolicy expected) in ConformancePolicies.All)
        {
            Assert.True(s_registry.TryGetPolicy(name, out FloodgatePolicy? generated));
            foreach (System.Reflection.PropertyInfo setting in typeof(FloodgatePolicy).GetProperties().Where(p => p.CanWrite))
            {
                Assert.True(Equals(setting.GetValue(expected), setting.GetValue(generated)), $"{name}.{setting.Name}: catalog {setting.GetValue(expected)}, attribute {setting.GetValue(generated)}");
            }
        }
    }

    protected override Task<IConformanceLimiter> CreateAsync(string name, FakeTimeProvider time)
    {
        FloodgateLimiter limiter = s_registry.CreateLimiter(name, new FloodgateLimiterOptions { Capacity = 64, TimeProvider = time });
        Assert.True(limiter.IsPrecompiled);
        return Task.FromResult<IConformanceLimiter>(new InProcessConformanceLimiter(limiter));
    }
}
