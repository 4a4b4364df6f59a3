using System;

namespace Floodgate.Internal;

/// <summary>
/// The arithmetic of the smooth shapes, in one place: the engine calls it, the Redis script (PolicyScript.lua) does the
/// same steps in Lua and the conformance suite holds the two to the same decisions, and the generator (which compiles
/// this file too) checks the bound. All exact integer arithmetic, below 2^53 so that Lua's doubles agree.
/// </summary>
/// <remarks>
/// <para><b>Token bucket (GCRA).</b> One permit is emitted every <c>T = W / P</c> ms. The state is the theoretical
/// arrival time (TAT), kept as whole ms plus a fraction in units of <c>1/P</c> ms, so that <c>T</c> is exactly
/// <c>W</c> units whatever P and W are. The excess <c>d = max(0, TAT - now)</c> in units is how full the bucket is;
/// a request is admitted when <c>d + W &lt;= capacity</c>, with <c>capacity = (Burst [+ GracePermits]) × W</c>, and
/// moves the TAT to <c>now + d + W</c>.</para>
/// <para><b>Sliding window.</b> With this window's count <c>c</c>, the previous window's <c>p</c> and <c>e</c> ms
/// elapsed in this window, the estimate is <c>c + p × (W - e) / W</c>; a request is admitted while the estimate is
/// below the allowance, compared as <c>c × W + p × (W - e) &lt; allowance × W</c>.</para>
/// </remarks>
internal static class ShapeMath
{
    /// <summary>The largest intermediate value: 2^53 - 2^24, exact in a double and leaving room for one fraction.</summary>
    public const long MaxUnits = (1L << 53) - (1L << 24);

    /// <summary>True when <c>permits × windowMs + permitLimit</c> stays within <see cref="MaxUnits"/>.</summary>
    public static bool UnitsFit(long permits, long windowMs, int permitLimit) =>
        permits > 0 && windowMs > 0 && permits <= (MaxUnits - permitLimit) / windowMs;

    /// <summary>The most permits one request may cost: all a token bucket holds (its burst), else the permit limit.</summary>
    public static int LargestRequest(bool tokenBucket, int permitLimit, int burst) => tokenBucket ? burst : permitLimit;

    /// <summary>The bucket's fill in units of 1/P ms: how far the TAT lies ahead of now; 0 for no state or a full bucket.</summary>
    public static long Excess(long tatMs, long fraction, long now, int permitLimit) =>
        tatMs == 0 ? 0 : Math.Max(0, ((tatMs - now) * permitLimit) + fraction);

    /// <summary>
    /// Ms until a request of <paramref name="requestUnits"/> (its cost × W) refused at <paramref name="excess"/> would be
    /// admitted: never 0.
    /// </summary>
    public static long BucketRetryMs(long excess, long capacity, long requestUnits, int permitLimit) =>
        Math.Max(1, CeilDiv(excess + requestUnits - capacity, permitLimit));

    /// <summary>Ms until the bucket is full again (the quota is whole).</summary>
    public static long BucketResetMs(long excess, int permitLimit) => CeilDiv(excess, permitLimit);

    /// <summary>Requests the bucket admits now, at <paramref name="excess"/>.</summary>
    public static int BucketRemaining(long excess, long capacity, long windowMs) => BucketRemaining(excess, capacity, windowMs, 1.0 / windowMs);

    /// <summary>As <see cref="BucketRemaining(long, long, long)"/>, dividing by the window's reciprocal (see <see cref="Divide"/>).</summary>
    public static int BucketRemaining(long excess, long capacity, long windowMs, double inverseWindow) =>
        excess >= capacity ? 0 : (int)Divide(capacity - excess, windowMs, inverseWindow, out _);

    /// <summary>The weighted previous count, in units of 1/W permits: <c>p × (W - e)</c>; 0 once e reaches W.</summary>
    public static long Weighted(int previous, long elapsed, long windowMs) =>
        elapsed >= windowMs ? 0 : previous * (windowMs - elapsed);

    /// <summary>True when one more request fits: <c>c × W + p × (W - e) &lt; allowance × W</c>.</summary>
    public static bool SlidingAdmits(int counter, long weighted, int allowance, long windowMs) =>
        (counter * windowMs) + weighted < allowance * windowMs;

    /// <summary>Requests still admitted now (the floor of the allowance minus the estimate).</summary>
    public static int SlidingRemaining(int counter, long weighted, int allowance, long windowMs) =>
        SlidingRemaining(counter, weighted, allowance, windowMs, 1.0 / windowMs);

    /// <summary>As <see cref="SlidingRemaining(int, long, int, long)"/>, dividing by the window's reciprocal (see <see cref="Divide"/>).</summary>
    public static int SlidingRemaining(int counter, long weighted, int allowance, long windowMs, double inverseWindow)
    {
        long left = (allowance * windowMs) - (counter * windowMs) - weighted;
        return left <= 0 ? 0 : (int)Divide(left - 1, windowMs, inverseWindow, out _) + 1;
    }

    /// <summary>
    /// Ms from <paramref name="elapsed"/> (into the current window) until a request would be admitted, for a client
    /// refused with <paramref name="counter"/> in this window and <paramref name="previous"/> in the one before: the
    /// weight of the previous window falls every ms; past the window's end the current count becomes the previous one.
    /// Never 0.
    /// </summary>
    public static long SlidingRetryMs(int counter, int previous, long elapsed, int allowance, long windowMs)
    {
        if (counter < allowance && previous > 0)
        {
            // Inside this window: the first e with p × (W - e) < (allowance - c) × W.
            long need = (allowance - counter) * windowMs;
            long e = windowMs - CeilDiv(need, previous) + 1;
            if (e < windowMs)
            {
                return Math.Max(1, e - elapsed);
            }
        }

        // In the next window: c becomes the previous count, and nothing is counted yet.
        long next = windowMs - elapsed;
        if (counter >= allowance)
        {
            long e = windowMs - CeilDiv(allowance * windowMs, counter) + 1;
            next += Math.Max(0, e);
        }

        return Math.Max(1, next);
    }

    /// <summary>Ms until the whole quota is available again: the current window's requests have slid out (or the previous one's).</summary>
    public static long SlidingResetMs(int counter, int previous, long elapsed, long windowMs) =>
        counter > 0 ? (2 * windowMs) - elapsed : previous > 0 ? windowMs - elapsed : 0;

    /// <summary>
    /// A bucket as Inspect shows it: <paramref name="count"/> requests' worth of debt (rounded up), the requests it admits
    /// now, and the ms until it is full.
    /// </summary>
    public static void DescribeBucket(long tatMs, long fraction, long now, int permitLimit, long windowMs, long capacity, out int count, out int remaining, out long resetMs)
    {
        long excess = Excess(tatMs, fraction, now, permitLimit);
        count = (int)Math.Min(int.MaxValue, CeilDiv(excess, windowMs));
        remaining = BucketRemaining(excess, capacity, windowMs);
        resetMs = BucketResetMs(excess, permitLimit);
    }

    /// <summary>
    /// A sliding window as Inspect shows it at <paramref name="now"/>, rolled forward when the stored window has ended:
    /// this window's count, the requests admitted now, and the ms until the quota is whole. <c>start</c> is the stored
    /// window's start (0 for none), <c>counter</c> its count, <c>previous</c> the count of the window before it when
    /// adjacent (else 0).
    /// </summary>
    public static void DescribeSliding(long start, int counter, int previous, long now, int permitLimit, long windowMs, out int count, out int remaining, out long resetMs)
    {
        long elapsed = start == 0 ? windowMs : Math.Max(0, now - start);
        if (start != 0 && elapsed >= windowMs)
        {
            long windows = elapsed / windowMs;
            previous = windows == 1 ? counter : 0;
            counter = 0;
            elapsed -= windows * windowMs;
        }

        count = start == 0 ? 0 : counter;
        long weighted = start == 0 ? 0 : Weighted(previous, elapsed, windowMs);
        remaining = SlidingRemaining(count, weighted, permitLimit, windowMs);
        resetMs = start == 0 ? 0 : SlidingResetMs(count, previous, elapsed, windowMs);
    }

    /// <summary>
    /// <c>x / divisor</c> and the remainder, for <c>0 &lt;= x &lt; 2^53</c>, by multiplying with the divisor's
    /// reciprocal (<paramref name="inverse"/>, <c>1.0 / divisor</c>) and correcting the estimate: a division by a
    /// runtime policy's number costs a multiply instead of a 64-bit divide on the check path.
    /// </summary>
    public static long Divide(long x, long divisor, double inverse, out long remainder)
    {
        long quotient = (long)(x * inverse);
        long rest = x - (quotient * divisor);
        while (rest < 0)
        {
            quotient--;
            rest += divisor;
        }

        while (rest >= divisor)
        {
            quotient++;
            rest -= divisor;
        }

        remainder = rest;
        return quotient;
    }

    private static long CeilDiv(long a, long b) => a <= 0 ? 0 : ((a - 1) / b) + 1;
}
