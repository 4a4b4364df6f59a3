namespace Floodgate.Internal;

/// <summary>
/// The numbers of a policy as the engine reads them. Implemented by structs only, so that
/// <see cref="LimiterEngine{TParams}"/> is compiled once per implementation: for
/// <see cref="StaticPolicyParameters{TPolicy}"/> every member is a constant and unused knobs vanish.
/// </summary>
/// <remarks>Durations in whole milliseconds; -1 means none or forever, as documented per member.</remarks>
internal interface IPolicyParameters
{
    int PermitLimit { get; }

    long WindowMs { get; }

    long BlockDurationMs { get; }

    bool RelativeBlock { get; }

    /// <summary>-1: never punished.</summary>
    int BlockLimit { get; }

    /// <summary>-1: Forever, i.e. blacklist.</summary>
    long BlockExceedMs { get; }

    bool BlockExceedReset { get; }

    /// <summary>-1: Forever.</summary>
    long MaxWindowMs { get; }

    /// <summary>The most permits that can be carried over; 0 when the policy does not accumulate.</summary>
    int AccumulateCap { get; }

    long CooldownMs { get; }

    int GracePermits { get; }

    /// <summary>True when block lengths grow with the block count (multiplier above 1).</summary>
    bool AdaptiveBlocks { get; }

    /// <summary>Clients of one network prefix that may start a window per window; 0: no prefix limit.</summary>
    int MaxClientsPerPrefix { get; }

    FloodgateAlgorithm Algorithm { get; }

    /// <summary>The token bucket's size (Burst, or PermitLimit when unset); PermitLimit for the other shapes.</summary>
    int Burst { get; }
}
