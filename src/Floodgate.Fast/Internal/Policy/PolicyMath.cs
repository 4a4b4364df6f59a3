namespace Floodgate.Internal;

/// <summary>Conversions between policy durations and the engine's whole milliseconds.</summary>
internal static class PolicyMath
{
    /// <summary>The number of precomputed adaptive block lengths; later blocks use the last one.</summary>
    public const int BlockLengthSteps = 64;

    /// <summary>Whole milliseconds, a fraction rounded up (so a limit is never shorter than configured).</summary>
    public static long ToMilliseconds(TimeSpan value) =>
        (value.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;

    public static long ToMillisecondsOrForever(TimeSpan value) =>
        value == FloodgatePolicy.Forever ? -1 : ToMilliseconds(value);

    public static TimeSpan FromMillisecondsOrForever(long ms) =>
        ms < 0 ? FloodgatePolicy.Forever : TimeSpan.FromMilliseconds(ms);

    /// <summary>
    /// The policy's shortest duration that a check compares the clock against: its window (a token bucket's interval
    /// between permits), and its cooldown, blocks and punishment where it has them.
    /// </summary>
    public static TimeSpan ShortestDuration(FloodgatePolicy policy)
    {
        TimeSpan shortest = policy.Algorithm == FloodgateAlgorithm.TokenBucket && policy.PermitLimit > 0
            ? policy.Window / policy.PermitLimit
            : policy.Window;
        foreach (TimeSpan duration in (ReadOnlySpan<TimeSpan>)[policy.Cooldown, policy.BlockDuration, policy.MaxBlockDuration ?? TimeSpan.Zero,
                     policy.BlockLimit is null || policy.BlockExceedDuration == FloodgatePolicy.Forever ? TimeSpan.Zero : policy.BlockExceedDuration])
        {
            if (duration > TimeSpan.Zero && duration < shortest)
            {
                shortest = duration;
            }
        }

        return shortest;
    }

    /// <summary>
    /// The length of the n-th block (index n-1): <c>BlockDuration × multiplier^(n-1)</c>, capped at
    /// MaxBlockDuration, or at <see cref="FloodgatePolicy.MaxFiniteDuration"/> when there is none.
    /// </summary>
    public static long[] BlockLengths(FloodgatePolicy policy)
    {
        long baseMs = ToMilliseconds(policy.BlockDuration);
        long capMs = ToMilliseconds(policy.MaxBlockDuration ?? FloodgatePolicy.MaxFiniteDuration);
        var lengths = new long[BlockLengthSteps];
        double length = baseMs;
        for (int i = 0; i < lengths.Length; i++)
        {
            lengths[i] = length >= capMs ? capMs : (long)Math.Ceiling(length);
            length *= policy.BlockMultiplier;
        }

        return lengths;
    }
}
