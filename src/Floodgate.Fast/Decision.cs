using System.Runtime.CompilerServices;

namespace Floodgate;

/// <summary>The outcome of one <see cref="FloodgateLimiter.Check(System.Net.IPAddress?)"/>: a small value, never allocated.</summary>
public readonly struct Decision
{
    // Durations are kept in whole milliseconds; long.MaxValue means "never" (blacklisted, denylisted).
    private const long Never = long.MaxValue;

    private readonly long _retryAfterMs;
    private readonly long _resetAfterMs;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Decision(DecisionReason reason, int limit, int remaining, long retryAfterMs, long resetAfterMs)
    {
        Reason = reason;
        Limit = limit;
        Remaining = remaining;
        _retryAfterMs = retryAfterMs;
        _resetAfterMs = resetAfterMs;
    }

    /// <summary>Gets why the request was allowed or denied.</summary>
    public DecisionReason Reason { get; }

    /// <summary>Gets a value indicating whether the request may proceed.</summary>
    public bool IsAllowed => Reason <= DecisionReason.Allowlisted;

    /// <summary>Gets the policy's permit limit per window (the <c>q</c> of the RateLimit headers).</summary>
    public int Limit { get; }

    /// <summary>Gets the permits left in the current window after this request (0 when denied).</summary>
    public int Remaining { get; }

    /// <summary>
    /// Gets how long the client should wait before trying again: <see cref="TimeSpan.Zero"/> when allowed,
    /// <see cref="TimeSpan.MaxValue"/> when the denial does not end by itself (blacklisted, denylisted).
    /// </summary>
    public TimeSpan RetryAfter => ToTimeSpan(_retryAfterMs);

    /// <summary>
    /// Gets the time until the current window ends, or until the block ends while the client is blocked;
    /// <see cref="TimeSpan.MaxValue"/> when it does not end by itself.
    /// </summary>
    public TimeSpan ResetAfter => ToTimeSpan(_resetAfterMs);

    internal static Decision Allowlisted(int limit) => new(DecisionReason.Allowlisted, limit, limit, 0, 0);

    internal static Decision Forbidden(DecisionReason reason, int limit) => new(reason, limit, 0, Never, Never);

    internal static Decision Denied(DecisionReason reason, int limit, long retryAfterMs, long resetAfterMs) =>
        new(reason, limit, 0, retryAfterMs, resetAfterMs);

    private static TimeSpan ToTimeSpan(long ms) => ms == Never ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(ms);

    /// <inheritdoc />
    public override string ToString() =>
        IsAllowed ? $"{Reason} (remaining {Remaining}/{Limit}, reset in {ResetAfter})" : $"{Reason} (retry after {RetryAfter})";
}
