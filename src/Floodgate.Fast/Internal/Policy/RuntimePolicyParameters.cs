namespace Floodgate.Internal;

/// <summary>The numbers of a <see cref="FloodgatePolicy"/> configured at run time, read from fields.</summary>
internal readonly struct RuntimePolicyParameters : IPolicyParameters
{
    public RuntimePolicyParameters(FloodgatePolicy policy)
    {
        PermitLimit = policy.PermitLimit;
        WindowMs = PolicyMath.ToMilliseconds(policy.Window);
        BlockDurationMs = PolicyMath.ToMilliseconds(policy.BlockDuration);
        RelativeBlock = policy.RelativeBlock;
        BlockLimit = policy.BlockLimit ?? -1;
        BlockExceedMs = PolicyMath.ToMillisecondsOrForever(policy.BlockExceedDuration);
        BlockExceedReset = policy.BlockExceedReset;
        MaxWindowMs = PolicyMath.ToMillisecondsOrForever(policy.MaxWindowDuration);
        AccumulateCap = policy.AccumulateRequests ? policy.AccumulateLimit ?? policy.PermitLimit : 0;
        CooldownMs = PolicyMath.ToMilliseconds(policy.Cooldown);
        GracePermits = policy.GracePermits;
        AdaptiveBlocks = policy.BlockMultiplier > 1.0;
        MaxClientsPerPrefix = policy.MaxClientsPerPrefix;
        Algorithm = policy.Algorithm;
        Burst = policy.Burst ?? policy.PermitLimit;
    }

    public int PermitLimit { get; }

    public long WindowMs { get; }

    public long BlockDurationMs { get; }

    public bool RelativeBlock { get; }

    public int BlockLimit { get; }

    public long BlockExceedMs { get; }

    public bool BlockExceedReset { get; }

    public long MaxWindowMs { get; }

    public int AccumulateCap { get; }

    public long CooldownMs { get; }

    public int GracePermits { get; }

    public bool AdaptiveBlocks { get; }

    public int MaxClientsPerPrefix { get; }

    public FloodgateAlgorithm Algorithm { get; }

    public int Burst { get; }
}
