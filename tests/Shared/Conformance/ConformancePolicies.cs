namespace Floodgate.Tests.Shared.Conformance;

/// <summary>
/// The policies of the conformance suite, by name. The generated-limiter run declares each of them again with
/// <c>[FloodgatePolicy]</c> and checks that the attribute compiles to exactly this policy.
/// </summary>
public static class ConformancePolicies
{
    public static IReadOnlyDictionary<string, FloodgatePolicy> All { get; } = new Dictionary<string, FloodgatePolicy>(StringComparer.Ordinal)
    {
        ["conformance-limit"] = new() { PermitLimit = 3, Window = TimeSpan.FromSeconds(10) },
        ["conformance-block"] = new()
        {
            PermitLimit = 2, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(30),
            BlockLimit = 2, BlockExceedDuration = FloodgatePolicy.Forever,
        },
        ["conformance-punish"] = new()
        {
            PermitLimit = 1, Window = TimeSpan.FromSeconds(5), BlockDuration = TimeSpan.FromSeconds(10),
            BlockLimit = 1, BlockExceedDuration = TimeSpan.FromMinutes(1), BlockExceedReset = true,
        },
        ["conformance-adaptive"] = new()
        {
            PermitLimit = 1, Window = TimeSpan.FromSeconds(5), BlockDuration = TimeSpan.FromSeconds(4),
            BlockMultiplier = 2.0, MaxBlockDuration = TimeSpan.FromSeconds(10),
        },
        ["conformance-grace"] = new() { PermitLimit = 2, Window = TimeSpan.FromSeconds(10), GracePermits = 1, BlockDuration = TimeSpan.FromSeconds(20) },
        ["conformance-cooldown"] = new() { PermitLimit = 5, Window = TimeSpan.FromSeconds(10), Cooldown = TimeSpan.FromSeconds(1) },
        ["conformance-carry"] = new() { PermitLimit = 3, Window = TimeSpan.FromSeconds(10), AccumulateRequests = true, AccumulateLimit = 2 },
        ["conformance-relative"] = new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(5), RelativeBlock = true },

        // The token bucket: 4 per 8 s is one permit every 2 s; 3 per second is one every 333⅓ ms (fractions of a ms).
        ["conformance-bucket"] = new() { Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 4, Window = TimeSpan.FromSeconds(8), Burst = 2 },
        ["conformance-bucket-strict"] = new() { Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 3, Window = TimeSpan.FromSeconds(1), Burst = 1 },
        ["conformance-bucket-block"] = new()
        {
            Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 2, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(30),
            BlockLimit = 1, BlockExceedDuration = FloodgatePolicy.Forever,
        },
        ["conformance-bucket-grace"] = new()
        {
            Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 2, Window = TimeSpan.FromSeconds(10), GracePermits = 1, BlockDuration = TimeSpan.FromSeconds(20),
        },
        ["conformance-bucket-cooldown"] = new() { Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 5, Window = TimeSpan.FromSeconds(10), Cooldown = TimeSpan.FromSeconds(1) },

        // The sliding window.
        ["conformance-sliding"] = new() { Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 4, Window = TimeSpan.FromSeconds(10) },
        ["conformance-sliding-block"] = new()
        {
            Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 2, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(30),
            BlockLimit = 1, BlockExceedDuration = FloodgatePolicy.Forever,
        },
        ["conformance-sliding-grace"] = new()
        {
            Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 2, Window = TimeSpan.FromSeconds(10), GracePermits = 1, BlockDuration = TimeSpan.FromSeconds(20),
        },
        ["conformance-sliding-cooldown"] = new() { Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 5, Window = TimeSpan.FromSeconds(10), Cooldown = TimeSpan.FromSeconds(1) },
    };
}
