using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// The shapes beside the fixed window: the sliding window's previous count and roll, and the token bucket's check.
/// The arithmetic is <see cref="ShapeMath"/>'s; here it meets the packed words.
/// </summary>
/// <remarks>
/// <para><b>Sliding window.</b> The window word is the fixed window's (start | H | B | count). Windows follow each other
/// on the client's own grid (start + k × W); the count of the window just ended goes to the cold entry's
/// <see cref="ColdEntry.Previous"/> word before the CAS that rolls it, and a check counts it only when its start is
/// exactly one window before the current one. A violation is the first refused request of a window (B), as on the
/// fixed window.</para>
/// <para><b>Token bucket.</b> The window word holds the theoretical arrival time: whole ms in the start field, the fraction
/// (in 1/PermitLimit ms) in the counter field, with H and B as on the windows. A violation is the first refused request
/// since the bucket was last full (B, cleared by a request that finds the bucket full); a block or blacklisting empties
/// the bucket's debt, so a client comes back from a block with a full bucket, as it comes back to a fresh window.</para>
/// </remarks>
internal sealed partial class LimiterEngine<TParams>
{
    private const long FlagBits = (1L << 23) | (1L << 24);   // WindowWord's B and H

    // ---- Sliding window (and the fixed window's side of the shared path) ----

    /// <summary>
    /// The previous window's count when the window word <paramref name="w"/> says one is recorded and it is the window
    /// just before this one; 0 on the other shapes. A client without one reads nothing more than its hot entry.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int PreviousCount(int slot, long w)
    {
        if (_p.Algorithm != FloodgateAlgorithm.SlidingWindow || (w & WindowWord.PreviousBit) == 0)
        {
            return 0;
        }

        long previous = Volatile.Read(ref Table.Cold(slot).Previous);
        return WindowWord.Start(previous) == WindowWord.Start(w) - _p.WindowMs ? WindowWord.Counter(previous) : 0;
    }

    /// <summary>The requests counted in the window word: on a sliding window, without its previous-count flag.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int CounterOf(long w) =>
        _p.Algorithm == FloodgateAlgorithm.SlidingWindow ? WindowWord.Counter(w) & WindowWord.SlidingCountMask : WindowWord.Counter(w);

    /// <summary>
    /// Whether a request of <paramref name="cost"/> permits fits the window: the count alone, or with the previous window's
    /// weight (its last permit must fit, so the first cost - 1 count as already taken).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Admits(int counter, int previous, long elapsed, int allowance, int cost) =>
        _p.Algorithm == FloodgateAlgorithm.SlidingWindow
            ? ShapeMath.SlidingAdmits(counter + cost - 1, ShapeMath.Weighted(previous, Math.Max(0, elapsed), _p.WindowMs), allowance, _p.WindowMs)
            : counter + cost <= allowance;

    /// <summary>The allowed decision after counting: <paramref name="counted"/> is the counter including this request.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Decision AllowedInWindow(int counted, int previous, long start, long now)
    {
        if (_p.Algorithm != FloodgateAlgorithm.SlidingWindow)
        {
            return Allowed(Math.Max(0, _p.PermitLimit + _p.AccumulateCap - counted), start + _p.WindowMs - now);
        }

        long elapsed = Math.Max(0, now - start);
        long weighted = ShapeMath.Weighted(previous, elapsed, _p.WindowMs);
        return Allowed(
            ShapeMath.SlidingRemaining(counted, weighted, _p.PermitLimit, _p.WindowMs, _inverseWindow),
            ShapeMath.SlidingResetMs(counted, previous, elapsed, _p.WindowMs));
    }

    /// <summary>A plain refusal in a window (no violation recorded by it).</summary>
    private Decision DeniedInWindow(int counter, int previous, long start, long now, int allowance, int cost)
    {
        RefusalTimes(counter, previous, start, now, allowance, cost, out long retryMs, out long resetMs);
        return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, retryMs, resetMs);
    }

    /// <summary>When a refused client may come back (when a request of <paramref name="cost"/> fits), and when its quota is whole again.</summary>
    private void RefusalTimes(int counter, int previous, long start, long now, int allowance, int cost, out long retryMs, out long resetMs)
    {
        if (_p.Algorithm != FloodgateAlgorithm.SlidingWindow)
        {
            retryMs = resetMs = Math.Max(1, start + _p.WindowMs - now);
            return;
        }

        long elapsed = Math.Max(0, now - start);
        retryMs = ShapeMath.SlidingRetryMs(counter, previous, elapsed, allowance - cost + 1, _p.WindowMs);
        resetMs = Math.Max(retryMs, ShapeMath.SlidingResetMs(counter, previous, elapsed, _p.WindowMs));
    }

    /// <summary>
    /// The window word of the sliding window that follows the one at <paramref name="start"/>, with nothing counted:
    /// the next on the client's grid, the count just ended recorded as the previous one (and flagged) when the two are
    /// adjacent; after a block that ended, or with no window, a window starting now.
    /// </summary>
    private long SlidingRoll(ref ColdEntry cold, long start, int counter, long blockUntil, long now)
    {
        if (start == 0 || blockUntil > start || now - start < _p.WindowMs)
        {
            return WindowWord.Make(Clock.StampMs(), 0);
        }

        long windows = (now - start) / _p.WindowMs;
        long next = WindowWord.Make(start + (windows * _p.WindowMs), 0);
        if (windows == 1 && counter > 0)
        {
            RecordPrevious(ref cold, WindowWord.Make(start, counter));
            next |= WindowWord.PreviousBit;
        }

        return next;
    }

    /// <summary>Raises the previous-window word to <paramref name="previous"/>: a later window, or the same with a higher count. A late writer never lowers it.</summary>
    private static void RecordPrevious(ref ColdEntry cold, long previous)
    {
        long seen = Volatile.Read(ref cold.Previous);
        while (seen < previous)   // start in the high bits, count in the low: "later or higher" is "greater"
        {
            long found = Interlocked.CompareExchange(ref cold.Previous, previous, seen);
            if (found == seen)
            {
                return;
            }

            seen = found;
        }
    }

    /// <summary>
    /// After a CAS that dropped H from <paramref name="before"/>: if a block landed meanwhile (an operator's, racing the
    /// roll), set H again so that checks consult it.
    /// </summary>
    private void ReassertBlockState(int slot, long before, long now)
    {
        if (WindowWord.HasBlockState(before) && BlockWord.Protects(Volatile.Read(ref Table.Cold(slot).Block), now))
        {
            PointChecksAtBlockState(slot);
        }
    }

    // ---- Token bucket ----

    private long BucketCapacity => (long)_p.Burst * _p.WindowMs;

    // The reciprocals of PermitLimit and the window, for ShapeMath.Divide on the check path.
    private readonly double _inversePermitLimit;
    private readonly double _inverseWindow;

    /// <summary>The bucket word after admitting a request at <paramref name="at"/> that leaves <paramref name="excess"/> units of debt.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long BucketWord(long at, long excess, long flags)
    {
        long whole = ShapeMath.Divide(excess, _p.PermitLimit, _inversePermitLimit, out long fraction);
        return WindowWord.Make(at + whole, (int)fraction) | flags;
    }

    /// <summary>
    /// CAS: admits a request at <paramref name="at"/> that leaves <paramref name="excess"/> units of debt, if the word is
    /// still <paramref name="w"/>. One division gives the stored TAT and the reset (<see cref="ShapeMath.BucketResetMs"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryAdmitToBucket(ref HotEntry hot, long w, long at, long excess, long flags, out Decision allowed)
    {
        long whole = ShapeMath.Divide(excess, _p.PermitLimit, _inversePermitLimit, out long fraction);
        if (Interlocked.CompareExchange(ref hot.Window, WindowWord.Make(at + whole, (int)fraction) | flags, w) == w)
        {
            // The reset is ShapeMath.BucketResetMs, from the division just made.
            allowed = Allowed(ShapeMath.BucketRemaining(excess, BucketCapacity, _p.WindowMs, _inverseWindow), whole + (fraction == 0 ? 0 : 1));
            return true;
        }

        allowed = default;
        return false;
    }

    /// <summary>The time to store a full bucket's TAT from: the provider's (the check path's clock may lag it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long StampForFullBucket(long now) => Clock.NowIsStamp ? now : Math.Max(now, Clock.StampMs());

    /// <summary>True when the bucket check must take the full path first: a new or long-idle client counts toward its network.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool StartsAfresh(long tat, long now) => tat == 0 || now - tat >= _p.WindowMs;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Decision EvaluateBucket(int slot, in IpKey key, long now, int cost)
    {
        ref HotEntry hot = ref Table.Hot(slot);
        long w = Volatile.Read(ref hot.Window);
        if (_p.CooldownMs > 0 || WindowWord.HasBlockState(w))
        {
            return EvaluateWithState(slot, in key, w, now, cost);
        }

        // The hot path: no block state, no cooldown. A full bucket's TAT is stamped from the provider; a new or long-idle
        // client takes the full path, to count toward its network.
        for (int attempt = 0; attempt < MaxCasAttempts; attempt++)
        {
            long tat = WindowWord.Start(w);
            int fraction = WindowWord.Counter(w);
            long at = now;
            long excess = ShapeMath.Excess(tat, fraction, at, _p.PermitLimit);
            if (excess == 0)
            {
                if (_p.MaxClientsPerPrefix > 0 && StartsAfresh(tat, now))
                {
                    break;
                }

                at = StampForFullBucket(now);
                excess = ShapeMath.Excess(tat, fraction, at, _p.PermitLimit);
            }

            long next = excess + (cost * _p.WindowMs);
            if (next <= BucketCapacity)
            {
                // A request that finds the bucket full ends the episode (B).
                if (TryAdmitToBucket(ref hot, w, at, next, excess == 0 ? 0 : w & FlagBits, out Decision allowed))
                {
                    return allowed;
                }

                w = Volatile.Read(ref hot.Window);
                if (WindowWord.HasBlockState(w))
                {
                    break;
                }

                continue;
            }

            if (WindowWord.BlockCounted(w) && _p.GracePermits == 0)
            {
                long retryMs = ShapeMath.BucketRetryMs(excess, BucketCapacity, cost * _p.WindowMs, _p.PermitLimit);
                return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, retryMs, Math.Max(retryMs, ShapeMath.BucketResetMs(excess, _p.PermitLimit)));
            }

            break;
        }

        return EvaluateWithState(slot, in key, Volatile.Read(ref hot.Window), now, cost);
    }

    private Decision CountInBucket(int slot, ref HotEntry hot, ref ColdEntry cold, in IpKey key, long w, long now, int cost)
    {
        bool networkCounted = false;
        for (int attempt = 0; attempt < MaxCasAttempts; attempt++, w = Volatile.Read(ref hot.Window))
        {
            if (WindowWord.HasBlockState(w) && BlockedNow(ref cold, now, out _, out Decision denied))
            {
                return denied;
            }

            long tat = WindowWord.Start(w);
            int fraction = WindowWord.Counter(w);
            long at = now;
            long excess = ShapeMath.Excess(tat, fraction, at, _p.PermitLimit);
            if (excess == 0)
            {
                // A full bucket: the TAT about to be stored starts from the provider's time (the check path's clock may lag).
                at = StampForFullBucket(now);
                excess = ShapeMath.Excess(tat, fraction, at, _p.PermitLimit);
                if (_p.MaxClientsPerPrefix > 0 && !networkCounted && StartsAfresh(tat, at))
                {
                    if (!NetworkAdmits(in key, at, out Decision refused))
                    {
                        return refused;
                    }

                    networkCounted = true;
                }
            }

            long capacity = BucketCapacity;
            long next = excess + (cost * _p.WindowMs);
            if (_p.GracePermits > 0 && next > capacity &&
                EffectiveBlockCount(Volatile.Read(ref cold.Offenses), Volatile.Read(ref cold.Block), at) == 0)
            {
                capacity += (long)_p.GracePermits * _p.WindowMs;
            }

            if (next <= capacity)
            {
                // A request that finds the bucket full ends the episode (B) and, past any block, the consulting of block state (H).
                long flags = excess == 0 ? 0 : w & FlagBits;
                if (TryAdmitToBucket(ref hot, w, at, next, flags, out Decision allowed))
                {
                    if (flags == 0)
                    {
                        ReassertBlockState(slot, w, at);
                    }

                    return allowed;
                }

                continue;
            }

            long retryMs = ShapeMath.BucketRetryMs(excess, capacity, cost * _p.WindowMs, _p.PermitLimit);
            long resetMs = Math.Max(retryMs, ShapeMath.BucketResetMs(excess, _p.PermitLimit));
            if (WindowWord.BlockCounted(w))
            {
                if (WindowWord.HasBlockState(w) && BlockedNow(ref cold, now, out _, out denied))
                {
                    return denied;
                }

                return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, retryMs, resetMs);
            }

            // Before a violation is recorded, make sure the bucket refuses by the provider's time too (as on the windows).
            long precise = Clock.StampMs();
            if (precise > at)
            {
                now = precise;
                continue;
            }

            // CAS: one violation per episode; only the request that sets B records it.
            if (Interlocked.CompareExchange(ref hot.Window, WindowWord.WithBlockCounted(w, ViolationsBlock), w) == w)
            {
                Decision decision = Violation(ref cold, in key, at + retryMs, at + retryMs, at + resetMs);
                if (decision.Reason is DecisionReason.Blocked or DecisionReason.Blacklisted)
                {
                    ForgiveDebt(ref hot);
                }

                return decision;
            }
        }

        return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, 1000, 1000);
    }

    /// <summary>A block or blacklisting replaces the bucket's debt: the client comes back with a full bucket (H and B stay).</summary>
    private static void ForgiveDebt(ref HotEntry hot)
    {
        long w = Volatile.Read(ref hot.Window);
        for (int attempt = 0; attempt < MaxCasAttempts; attempt++)
        {
            long seen = Interlocked.CompareExchange(ref hot.Window, w & FlagBits, w);
            if (seen == w)
            {
                return;
            }

            w = seen;
        }
    }
}
