namespace Floodgate.Internal;

/// <summary>
/// The one home of a policy's numeric limits. The engine's validation (<c>FloodgatePolicy.Validate</c>), the source
/// generator's diagnostics (which compiles this file too) and the docs read them from here; each follows from a
/// packed word's field width (<c>PolicyLimitsTests</c> checks them against <c>EntryWords</c> and the sketch).
/// </summary>
internal static class PolicyLimits
{
    /// <summary>The longest finite duration, in milliseconds: 10 years.</summary>
    public const long MaxFiniteMs = 3_650L * 86_400_000;

    /// <summary>The largest <c>PermitLimit + GracePermits + AccumulateLimit</c>: the window counter has 23 bits, one value kept for "over".</summary>
    public const int MaxTotalPermits = (1 << 23) - 2;

    /// <summary>The largest <c>PermitLimit + GracePermits</c> of a sliding window: its count has 22 bits (the 23rd flags a previous count).</summary>
    public const int MaxSlidingPermits = (1 << 22) - 2;

    /// <summary>The largest <c>BlockLimit</c>: the block count has 12 bits, and a client must be able to pass the limit by one.</summary>
    public const int MaxBlockLimit = (1 << 12) - 2;

    /// <summary>The default <c>MaxClientsPerPrefix</c>.</summary>
    public const int DefaultMaxClientsPerPrefix = 64;

    /// <summary>The largest <c>MaxClientsPerPrefix</c>: a network sketch cell counts in 24 bits.</summary>
    public const int MaxClientsPerPrefix = (1 << 24) - 1;
}
