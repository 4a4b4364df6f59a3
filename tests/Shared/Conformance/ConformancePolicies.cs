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
    };
}
