using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Floodgate;

/// <summary>
/// The outcome of one <see cref="FloodgateLimiter.Check(System.Net.IPAddress?)"/>: a 16-byte value, returned in
/// registers, never allocated.
/// </summary>
/// <remarks>
/// Durations are exact to the millisecond up to 24 days, and to the second beyond (up to 68 years).
/// </remarks>
public readonly struct Decision
{
    // _counts:  [ remaining : 23 | limit : 23 | reason : 4 ]  (bits 49..27, 26..4, 3..0)
    // _times:   [ retry after : 32 | reset after : 32 ]       each a compact duration, see Compact()
    private const uint NeverCode = uint.MaxValue;
    private const uint SecondsFlag = 1u << 31;
    private const long Never = long.MaxValue;

    private readonly long _counts;
    private readonly ulong _times;

    /// <summary>Creates a decision (for packages built on the engine, e.g. a shared store answering for it).</summary>
    /// <param name="reason">Why the request is allowed or denied.</param>
    /// <param name="limit">The policy's permit limit per window.</param>
    /// <param name="remaining">The permits left in the window.</param>
    /// <param name="retryAfterMs">Milliseconds until the client may retry; <see cref="long.MaxValue"/> for never.</param>
    /// <param name="resetAfterMs">Milliseconds until the window or the block ends; <see cref="long.MaxValue"/> for never.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [EditorBrowsable(EditorBrowsableState.Never)]
    public Decision(DecisionReason reason, int limit, int remaining, long retryAfterMs, long resetAfterMs)
    {
        _counts = ((long)(remaining & 0x7FFFFF) << 27) | ((long)(limit & 0x7FFFFF) << 4) | (long)reason;
        _times = ((ulong)Compact(retryAfterMs) << 32) | Compact(resetAfterMs);
    }

    /// <summary>Gets why the request was allowed or denied.</summary>
    public DecisionReason Reason => (DecisionReason)(_counts & 0xF);

    /// <summary>Gets a value indicating whether the request may proceed.</summary>
    public bool IsAllowed => Reason <= DecisionReason.Allowlisted;

    /// <summary>Gets the policy's permit limit per window (the <c>q</c> of the RateLimit headers).</summary>
    public int Limit => (int)(_counts >> 4) & 0x7FFFFF;

    /// <summary>Gets the permits left in the current window after this request (0 when denied).</summary>
    public int Remaining => (int)(_counts >> 27) & 0x7FFFFF;

    /// <summary>
    /// Gets how long the client should wait before trying again: <see cref="TimeSpan.Zero"/> when allowed,
    /// <see cref="TimeSpan.MaxValue"/> when the denial does not end by itself (blacklisted, denylisted).
    /// </summary>
    public TimeSpan RetryAfter => Expand((uint)(_times >> 32));

    /// <summary>
    /// Gets the time until the current window ends, or until the block ends while the client is blocked;
    /// <see cref="TimeSpan.MaxValue"/> when it does not end by itself.
    /// </summary>
    public TimeSpan ResetAfter => Expand((uint)_times);

    internal static Decision Allowlisted(int limit) => new(DecisionReason.Allowlisted, limit, limit, 0, 0);

    /// <summary>Creates a denial that does not end by itself (blacklisted, denylisted).</summary>
    /// <param name="reason">Why.</param>
    /// <param name="limit">The policy's permit limit per window.</param>
    /// <returns>The decision.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static Decision Forbidden(DecisionReason reason, int limit) => new(reason, limit, 0, Never, Never);

    /// <summary>Creates a denial that ends after <paramref name="retryAfterMs"/>.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="limit">The policy's permit limit per window.</param>
    /// <param name="retryAfterMs">Milliseconds until the client may retry.</param>
    /// <param name="resetAfterMs">Milliseconds until the window or the block ends.</param>
    /// <returns>The decision.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static Decision Denied(DecisionReason reason, int limit, long retryAfterMs, long resetAfterMs) =>
        new(reason, limit, 0, retryAfterMs, resetAfterMs);

    /// <inheritdoc />
    public override string ToString() =>
        IsAllowed ? $"{Reason} (remaining {Remaining}/{Limit}, reset in {ResetAfter})" : $"{Reason} (retry after {RetryAfter})";

    /// <summary>Milliseconds below 2^31 as they are; longer durations as seconds (rounded up) with the top bit set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Compact(long ms)
    {
        if ((ulong)ms < SecondsFlag)
        {
            return (uint)ms;   // also the common case; negative values cannot occur
        }

        if (ms == Never)
        {
            return NeverCode;
        }

        long seconds = (ms + 999) / 1000;
        return seconds >= SecondsFlag - 1 ? NeverCode - 1 : SecondsFlag | (uint)seconds;
    }

    private static TimeSpan Expand(uint code) => code switch
    {
        NeverCode => TimeSpan.MaxValue,
        < SecondsFlag => TimeSpan.FromMilliseconds(code),
        _ => TimeSpan.FromSeconds(code & ~SecondsFlag),
    };
}
