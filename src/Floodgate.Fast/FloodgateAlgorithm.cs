namespace Floodgate;

/// <summary>How a policy spreads its <see cref="FloodgatePolicy.PermitLimit"/> over time: the shape of the limit.</summary>
/// <remarks>
/// Blocks, escalation, blacklists, grace and cooldown work the same on top of every shape; what differs is which
/// request the shape refuses (the violation). docs/policies.md compares how each shape admits a burst.
/// </remarks>
public enum FloodgateAlgorithm
{
    /// <summary>
    /// FlaskFloodgate's window: <see cref="FloodgatePolicy.PermitLimit"/> per <see cref="FloodgatePolicy.Window"/>,
    /// the window starting at a client's first request. Cheapest and exact per window; a client can send up to twice
    /// the limit within one window's length across a boundary. The default.
    /// </summary>
    FixedWindow = 0,

    /// <summary>
    /// The weighted two-window estimate: this window's count plus the previous window's count scaled by the part of it
    /// still inside the sliding interval. Smooths the fixed window's double burst at the cost of one more read per check.
    /// </summary>
    SlidingWindow = 1,

    /// <summary>
    /// A token bucket (GCRA): a sustained rate of <see cref="FloodgatePolicy.PermitLimit"/> per
    /// <see cref="FloodgatePolicy.Window"/>, and at most <see cref="FloodgatePolicy.Burst"/> requests at once.
    /// </summary>
    TokenBucket = 2,
}
