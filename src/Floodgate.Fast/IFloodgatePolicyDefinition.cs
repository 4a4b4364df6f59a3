namespace Floodgate;

/// <summary>
/// A policy whose numbers are compile-time constants, supplied as a struct type parameter to
/// <see cref="FloodgateLimiter.Create{TPolicy}(FloodgateLimiterOptions?)"/>. The JIT specialises the check for
/// the type, folding its numbers into the code and removing the branches of unused knobs. The Floodgate
/// source generator emits these from <c>[FloodgatePolicy]</c> attributes; decisions are identical to those of a
/// <see cref="FloodgatePolicy"/> with the same settings, because both run the same code.
/// </summary>
/// <remarks>Durations are whole milliseconds; <c>-1</c> means none (for limits) or <see cref="FloodgatePolicy.Forever"/> (for durations that allow it).</remarks>
public interface IFloodgatePolicyDefinition
{
    /// <summary>Gets the policy's name.</summary>
    static abstract string Name { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.PermitLimit"/>.</summary>
    static abstract int PermitLimit { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.Window"/> in milliseconds.</summary>
    static abstract long WindowMilliseconds { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.BlockDuration"/> in milliseconds.</summary>
    static abstract long BlockDurationMilliseconds { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.RelativeBlock"/>.</summary>
    static abstract bool RelativeBlock { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.BlockLimit"/>, or -1 for none.</summary>
    static abstract int BlockLimit { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.BlockExceedDuration"/> in milliseconds, or -1 for Forever (blacklist).</summary>
    static abstract long BlockExceedDurationMilliseconds { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.BlockExceedReset"/>.</summary>
    static abstract bool BlockExceedReset { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.MaxWindowDuration"/> in milliseconds, or -1 for Forever.</summary>
    static abstract long MaxWindowDurationMilliseconds { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.AccumulateRequests"/>.</summary>
    static abstract bool AccumulateRequests { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.AccumulateLimit"/>, or -1 for PermitLimit.</summary>
    static abstract int AccumulateLimit { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.Cooldown"/> in milliseconds.</summary>
    static abstract long CooldownMilliseconds { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.GracePermits"/>.</summary>
    static abstract int GracePermits { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.BlockMultiplier"/>.</summary>
    static abstract double BlockMultiplier { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.MaxBlockDuration"/> in milliseconds, or -1 for none.</summary>
    static abstract long MaxBlockDurationMilliseconds { get; }

    /// <summary>Gets <see cref="FloodgatePolicy.MaxClientsPerPrefix"/> (0: off). Defaults to <see cref="FloodgatePolicy.DefaultMaxClientsPerPrefix"/>.</summary>
    static virtual int MaxClientsPerPrefix => FloodgatePolicy.DefaultMaxClientsPerPrefix;

    /// <summary>Gets <see cref="FloodgatePolicy.Algorithm"/>. Defaults to <see cref="FloodgateAlgorithm.FixedWindow"/>.</summary>
    static virtual FloodgateAlgorithm Algorithm => FloodgateAlgorithm.FixedWindow;

    /// <summary>Gets <see cref="FloodgatePolicy.Burst"/>, or -1 for PermitLimit (the default).</summary>
    static virtual int Burst => -1;

    /// <summary>Gets <see cref="FloodgatePolicy.CountStatusCodes"/>; null (the default) counts every request.</summary>
    static virtual string? CountStatusCodes => null;

    /// <summary>Gets <see cref="FloodgatePolicy.Mode"/>. Defaults to <see cref="FloodgatePolicyMode.Enforce"/>.</summary>
    static virtual FloodgatePolicyMode Mode => FloodgatePolicyMode.Enforce;
}
