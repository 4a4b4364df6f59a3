namespace Floodgate.Internal;

/// <summary>
/// The numbers of a compile-time policy. The struct has no fields: each member forwards to a static abstract
/// member of <typeparamref name="TPolicy"/>, which the JIT inlines as a constant in the specialised engine.
/// </summary>
internal readonly struct StaticPolicyParameters<TPolicy> : IPolicyParameters
    where TPolicy : struct, IFloodgatePolicyDefinition
{
    public int PermitLimit => TPolicy.PermitLimit;

    public long WindowMs => TPolicy.WindowMilliseconds;

    public long BlockDurationMs => TPolicy.BlockDurationMilliseconds;

    public bool RelativeBlock => TPolicy.RelativeBlock;

    public int BlockLimit => TPolicy.BlockLimit;

    public long BlockExceedMs => TPolicy.BlockExceedDurationMilliseconds;

    public bool BlockExceedReset => TPolicy.BlockExceedReset;

    public long MaxWindowMs => TPolicy.MaxWindowDurationMilliseconds;

    public int AccumulateCap => TPolicy.AccumulateRequests ? (TPolicy.AccumulateLimit < 0 ? TPolicy.PermitLimit : TPolicy.AccumulateLimit) : 0;

    public long CooldownMs => TPolicy.CooldownMilliseconds;

    public int GracePermits => TPolicy.GracePermits;

    public bool AdaptiveBlocks => TPolicy.BlockMultiplier > 1.0;

    public int MaxClientsPerPrefix => TPolicy.MaxClientsPerPrefix;

    public FloodgateAlgorithm Algorithm => TPolicy.Algorithm;

    public int Burst => TPolicy.Burst < 0 ? TPolicy.PermitLimit : TPolicy.Burst;

    /// <summary>Builds the equivalent runtime policy, used for validation and for <see cref="FloodgateLimiter.Policy"/>.</summary>
    public static FloodgatePolicy ToPolicy() => new()
    {
        PermitLimit = TPolicy.PermitLimit,
        Window = TimeSpan.FromMilliseconds(TPolicy.WindowMilliseconds),
        BlockDuration = TimeSpan.FromMilliseconds(TPolicy.BlockDurationMilliseconds),
        RelativeBlock = TPolicy.RelativeBlock,
        BlockLimit = TPolicy.BlockLimit < 0 ? null : TPolicy.BlockLimit,
        BlockExceedDuration = PolicyMath.FromMillisecondsOrForever(TPolicy.BlockExceedDurationMilliseconds),
        BlockExceedReset = TPolicy.BlockExceedReset,
        MaxWindowDuration = PolicyMath.FromMillisecondsOrForever(TPolicy.MaxWindowDurationMilliseconds),
        AccumulateRequests = TPolicy.AccumulateRequests,
        AccumulateLimit = TPolicy.AccumulateLimit < 0 ? null : TPolicy.AccumulateLimit,
        Cooldown = TimeSpan.FromMilliseconds(TPolicy.CooldownMilliseconds),
        GracePermits = TPolicy.GracePermits,
        BlockMultiplier = TPolicy.BlockMultiplier,
        MaxBlockDuration = TPolicy.MaxBlockDurationMilliseconds < 0 ? null : TimeSpan.FromMilliseconds(TPolicy.MaxBlockDurationMilliseconds),
        MaxClientsPerPrefix = TPolicy.MaxClientsPerPrefix,
        Algorithm = TPolicy.Algorithm,
        Burst = TPolicy.Burst < 0 ? null : TPolicy.Burst,
        CountStatusCodes = TPolicy.CountStatusCodes,
        Mode = TPolicy.Mode,
    };
}
