using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// The check, compiled once per policy type. Every decision reads and CASes single 64-bit words of one slot;
/// nothing allocates, locks or throws. A client with no block state is decided from its hot entry alone.
/// </summary>
internal sealed partial class LimiterEngine<TParams> : LimiterEngine
    where TParams : struct, IPolicyParameters
{
    // A CAS fails only when another request of the same client changed the word first; past this many
    // failures in one check the request is denied (never allowed) rather than retried forever.
    private const int MaxCasAttempts = 128;

    private readonly TParams _p;

    public LimiterEngine(TParams parameters, FloodgatePolicy policy, FloodgateLimiterOptions options)
        : base(policy, options)
    {
        _p = parameters;
        _inversePermitLimit = 1.0 / parameters.PermitLimit;
        _inverseWindow = 1.0 / parameters.WindowMs;
    }

    /// <summary>An engine for a changed policy over <paramref name="previous"/>'s state (see the base constructor).</summary>
    public LimiterEngine(TParams parameters, FloodgatePolicy policy, LimiterEngine previous)
        : base(previous, policy)
    {
        _p = parameters;
        _inversePermitLimit = 1.0 / parameters.PermitLimit;
        _inverseWindow = 1.0 / parameters.WindowMs;
    }

    /// <summary>True when a violation may start a block (so the window must point checks to the block state).</summary>
    private bool ViolationsBlock => _p.BlockDurationMs > 0 || _p.BlockLimit >= 0;

    public override int MaxCost => ShapeMath.LargestRequest(_p.Algorithm == FloodgateAlgorithm.TokenBucket, _p.PermitLimit, _p.Burst);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override Decision Check(in IpKey client, int cost) => Check(in client, in client, cost);

    public override Decision Check(in IpKey address, in IpKey client, int cost)
    {
        long now = Clock.NowMs();
        Decision decision;
        if (TryListDecision(in address, out decision))
        {
            // Allowlisted or denylisted, by the client's address: decided before any per-client state.
        }
        else
        {
            // Counted as its group under this policy (its /24, say), when the policy groups addresses.
            IpKey key = Grouped(in client);
            ulong hash = EntryTable.Hash(in key);
            int slot = FindOrAdd(in key, hash, now);
            decision = slot >= 0 ? Evaluate(slot, in key, now, cost)
                : slot == NoSlot ? CheckHomeless(in key, hash, now, cost)
                : Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, 1000, 1000);
        }

        // MetricIndex lists the decision counters in DecisionReason order.
        Metrics.Increment((MetricIndex)decision.Reason);
        return decision;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override bool TryListDecision(in IpKey key, out Decision decision)
    {
        if (!ListsInUse)
        {
            decision = default;
            return false;
        }

        return ListDecision(in key, out decision);
    }

    private bool ListDecision(in IpKey key, out Decision decision)
    {
        if (Allowlist.Contains(in key))
        {
            decision = Decision.Allowlisted(_p.PermitLimit);
            return true;
        }

        if (Denylist.Contains(in key))
        {
            decision = Decision.Forbidden(DecisionReason.Denylisted, _p.PermitLimit);
            return true;
        }

        decision = default;
        return false;
    }

    /// <summary>
    /// The order of evaluation: blacklist → active block → cooldown → window roll → count → allowed or violation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Decision Evaluate(int slot, in IpKey key, long now, int cost)
    {
        if (_p.Algorithm == FloodgateAlgorithm.TokenBucket)
        {
            return EvaluateBucket(slot, in key, now, cost);
        }

        ref HotEntry hot = ref Table.Hot(slot);
        long w = Volatile.Read(ref hot.Window);
        if (_p.CooldownMs > 0 || WindowWord.HasBlockState(w))
        {
            return EvaluateWithState(slot, in key, w, now, cost);
        }

        if (_p.Algorithm == FloodgateAlgorithm.FixedWindow)
        {
            // The fixed window's hot path on its own, free of the sliding window's steps (one test of the shape here,
            // none per step): a counter and one CAS, or the refusal of a client whose violation is recorded.
            for (int attempt = 0; attempt < MaxCasAttempts; attempt++)
            {
                long start = WindowWord.Start(w);
                int counter = WindowWord.Counter(w);
                if (start == 0 || now - start >= _p.WindowMs)
                {
                    break;   // roll: rare, on the full path
                }

                int allowance = _p.PermitLimit + _p.AccumulateCap;
                if (counter + cost <= allowance)
                {
                    // CAS: +cost on the low bits; counter + cost <= allowance <= MaxCounter, so it cannot carry into B.
                    if (Interlocked.CompareExchange(ref hot.Window, w + cost, w) == w)
                    {
                        return Allowed(allowance - counter - cost, start + _p.WindowMs - now);
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
                    long resetAfter = start + _p.WindowMs - now;
                    return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, resetAfter, resetAfter);
                }

                break;
            }

            return EvaluateWithState(slot, in key, Volatile.Read(ref hot.Window), now, cost);
        }

        // The sliding window's hot path: the same, with the previous window's weight.
        for (int attempt = 0; attempt < MaxCasAttempts; attempt++)
        {
            long start = WindowWord.Start(w);
            int counter = CounterOf(w);
            if (start == 0 || now - start >= _p.WindowMs)
            {
                break;   // roll: rare, on the full path
            }

            int previous = PreviousCount(slot, w);
            if (Admits(counter, previous, now - start, _p.PermitLimit + _p.AccumulateCap, cost))
            {
                // CAS: +cost on the low bits; counter + cost <= PermitLimit + AccumulateCap <= MaxCounter, so it cannot carry into B.
                if (Interlocked.CompareExchange(ref hot.Window, w + cost, w) == w)
                {
                    return AllowedInWindow(counter + cost, previous, start, now);
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
                return DeniedInWindow(counter, previous, start, now, _p.PermitLimit + _p.AccumulateCap, cost);
            }

            break;
        }

        return EvaluateWithState(slot, in key, Volatile.Read(ref hot.Window), now, cost);
    }

    /// <summary>Every step of the evaluation order, for clients with block state, a cooldown, a full or ended window.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Decision EvaluateWithState(int slot, in IpKey key, long w, long now, int cost)
    {
        ref HotEntry hot = ref Table.Hot(slot);
        ref ColdEntry cold = ref Table.Cold(slot);
        if (WindowWord.HasBlockState(w) && BlockedNow(ref cold, now, out _, out Decision denied))
        {
            return denied;
        }

        long cooldownRestore = -1;
        long cooldownStamp = 0;
        if (_p.CooldownMs > 0)
        {
            long last = Volatile.Read(ref cold.LastAllowed);
            if (last != 0 && now - last < _p.CooldownMs)
            {
                return DenyCooldown(w, last + _p.CooldownMs - now, now);
            }

            // Reserve this cooldown period: of the requests racing here, only the CAS winner goes on.
            cooldownStamp = Clock.StampMs();
            if (Interlocked.CompareExchange(ref cold.LastAllowed, cooldownStamp, last) != last)
            {
                return DenyCooldown(w, _p.CooldownMs, now);
            }

            cooldownRestore = last;
        }

        Decision decision = _p.Algorithm == FloodgateAlgorithm.TokenBucket
            ? CountInBucket(slot, ref hot, ref cold, in key, w, now, cost)
            : CountInWindow(slot, ref hot, ref cold, in key, w, now, cost);
        if (!decision.IsAllowed && cooldownRestore >= 0)
        {
            // Hand back the cooldown period this denied request reserved; if another request moved it, keep theirs.
            Interlocked.CompareExchange(ref cold.LastAllowed, cooldownRestore, cooldownStamp);
        }

        return decision;
    }

    private Decision CountInWindow(int slot, ref HotEntry hot, ref ColdEntry cold, in IpKey key, long w, long now, int cost)
    {
        bool networkCounted = false;
        for (int attempt = 0; attempt < MaxCasAttempts; attempt++, w = Volatile.Read(ref hot.Window))
        {
            long until = 0;
            if (WindowWord.HasBlockState(w))
            {
                // Re-read on every attempt: a block may have started since the last one. One read serves both
                // questions (blocked now? when did the last block end?): two reads could mix an old and a new block.
                if (BlockedNow(ref cold, now, out long block, out Decision denied))
                {
                    return denied;
                }

                until = BlockWord.Until(block);
            }

            long start = WindowWord.Start(w);
            int counter = CounterOf(w);

            // A new window starts with this request when there is none, when it has run its length, or when a
            // block that began during it has since ended (the client comes back from a block with a fresh window).
            if (start == 0 || now - start >= _p.WindowMs || until > start)
            {
                // A window starts: one more client of its network in this window (once per check, whatever the CAS retries).
                if (_p.MaxClientsPerPrefix > 0 && !networkCounted)
                {
                    if (!NetworkAdmits(in key, now, out Decision refused))
                    {
                        return refused;
                    }

                    networkCounted = true;
                }

                if (_p.Algorithm == FloodgateAlgorithm.SlidingWindow)
                {
                    // Roll without counting, then count in the new window on the next attempt: the previous window's
                    // weight may refuse even its first request.
                    if (Interlocked.CompareExchange(ref hot.Window, SlidingRoll(ref cold, start, counter, until, now), w) == w)
                    {
                        ReassertBlockState(slot, w, now);
                    }

                    continue;
                }

                int carry = _p.AccumulateCap > 0 && start != 0 ? CarryFrom(counter, start, now) : 0;
                int first = _p.AccumulateCap - carry + cost;   // cost <= PermitLimit: the first request of a window always fits

                // CAS: racing requests of this client either roll the window here or count in the rolled one.
                // The start is stamped from the provider, so the window can never end early. The new word has no
                // H or B: a finished block needs no more consulting.
                if (Interlocked.CompareExchange(ref hot.Window, WindowWord.Make(Clock.StampMs(), first), w) == w)
                {
                    if (_p.AccumulateCap > 0)
                    {
                        Volatile.Write(ref cold.Carry, carry);
                    }

                    return Allowed(_p.PermitLimit + _p.AccumulateCap - first, _p.WindowMs);
                }

                continue;
            }

            long windowEnd = start + _p.WindowMs;
            int allowance = _p.PermitLimit + _p.AccumulateCap;
            int previous = PreviousCount(slot, w);
            if (_p.GracePermits > 0 && !Admits(counter, previous, now - start, allowance, cost) &&
                EffectiveBlockCount(Volatile.Read(ref cold.Offenses), Volatile.Read(ref cold.Block), now) == 0)
            {
                allowance += _p.GracePermits;
            }

            if (Admits(counter, previous, now - start, allowance, cost))
            {
                // CAS: +cost on the low bits; counter + cost <= allowance <= WindowWord.MaxCounter, so it cannot carry into B.
                if (Interlocked.CompareExchange(ref hot.Window, w + cost, w) == w)
                {
                    return AllowedInWindow(counter + cost, previous, start, now);
                }

                continue;
            }

            if (WindowWord.BlockCounted(w))
            {
                // The block this window counted may have landed since the top of this attempt: report it if so.
                if (WindowWord.HasBlockState(w) && BlockedNow(ref cold, now, out _, out Decision denied))
                {
                    return denied;
                }

                return DeniedInWindow(counter, previous, start, now, allowance, cost);
            }

            // The check path's clock may lag the provider by a few ms (never lead it): before a violation is recorded
            // (a block, a step toward escalation), make sure the window has not ended by the provider. A request just
            // past the window's end starts the next window instead. Rare path: one provider read.
            long precise = Clock.StampMs();
            if (precise >= windowEnd)
            {
                now = precise;
                continue;
            }

            // CAS: at most one block per window; only the request that sets B records the violation. H is set in
            // the same CAS when the violation may block, so from now on checks consult the block state.
            if (Interlocked.CompareExchange(ref hot.Window, WindowWord.WithBlockCounted(w, ViolationsBlock), w) == w)
            {
                RefusalTimes(counter, previous, start, precise, allowance, cost, out long retryMs, out long resetMs);
                return Violation(ref cold, in key, windowEnd, precise + retryMs, precise + resetMs);
            }
        }

        return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, 1000, 1000);
    }

    /// <summary>Reads the block state once: blacklisted or blocked now gives the denial.</summary>
    private bool BlockedNow(ref ColdEntry cold, long now, out long block, out Decision denied)
    {
        block = Volatile.Read(ref cold.Block);
        if (BlockWord.IsBlacklisted(block))
        {
            denied = Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
            return true;
        }

        long until = BlockWord.Until(block);
        if (until > now)
        {
            denied = DenyBlocked(ref cold, block, until, now);
            return true;
        }

        denied = default;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Decision Allowed(int remaining, long resetAfterMs) =>
        new(DecisionReason.Allowed, _p.PermitLimit, remaining, 0, resetAfterMs);

    private Decision DenyCooldown(long w, long retryAfterMs, long now)
    {
        long start = WindowWord.Start(w);
        long resetAfter = _p.Algorithm switch
        {
            FloodgateAlgorithm.FixedWindow => start != 0 && now - start < _p.WindowMs ? start + _p.WindowMs - now : retryAfterMs,
            FloodgateAlgorithm.TokenBucket => Math.Max(retryAfterMs, ShapeMath.BucketResetMs(ShapeMath.Excess(start, WindowWord.Counter(w), now, _p.PermitLimit), _p.PermitLimit)),
            _ => Math.Max(retryAfterMs, start != 0 && now - start < 2 * _p.WindowMs ? (2 * _p.WindowMs) - (now - start) : 0),
        };
        return Decision.Denied(DecisionReason.Cooldown, _p.PermitLimit, retryAfterMs, resetAfter);
    }

    /// <summary>
    /// A client with no slot: limited by its own approximate count in the homeless sketch (strict, in windows aligned to
    /// the window length; rate-limited, never blocked). Once it has been counted more often than the least active
    /// evictable client of its probe window, it takes that client's slot, its count going with it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Decision CheckHomeless(in IpKey key, ulong hash, long now, int cost)
    {
        Metrics.Increment(MetricIndex.Overflow);
        long window = now / _p.WindowMs;
        long resetAfter = ((window + 1) * _p.WindowMs) - now;
        if (_p.MaxClientsPerPrefix > 0 && Homeless.Estimate(hash, window) == 0 && !NetworkAdmits(in key, now, out Decision refused))
        {
            return refused;
        }

        if (!Homeless.TryAcquire(hash, window, _p.PermitLimit, out int count, cost))
        {
            return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, resetAfter, resetAfter);
        }

        if (count > 1)
        {
            _ = FindOrAddSlow(in key, hash, now, admitBelow: count, initialCount: count);
        }

        return Allowed(_p.PermitLimit - count, resetAfter);
    }

    /// <summary>
    /// Counts a client starting a window against its network's <see cref="IPolicyParameters.MaxClientsPerPrefix"/>;
    /// false (and the refusal) when that many of its network have started one in the current window already.
    /// </summary>
    private bool NetworkAdmits(in IpKey key, long now, out Decision refused)
    {
        long window = now / _p.WindowMs;
        // A key hash (an API key) has no network: MaxClientsPerPrefix is about addresses.
        if (key.IsUnknown || key.IsKeyHash || Networks.TryAcquire(NetworkHash(in key), window, _p.MaxClientsPerPrefix, out _))
        {
            refused = default;
            return true;
        }

        Metrics.Increment(MetricIndex.NetworkLimited);
        long retryAfter = ((window + 1) * _p.WindowMs) - now;
        refused = Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, retryAfter, retryAfter);
        return false;
    }

    /// <summary>Unused permits of the window that started at <paramref name="start"/>, capped at AccumulateCap, whatever the gap.</summary>
    private int CarryFrom(int counter, long start, long now)
    {
        if (_p.MaxWindowMs >= 0 && now - start >= _p.MaxWindowMs)
        {
            return 0; // idle past MaxWindowDuration: the state is forgotten, carry-over included
        }

        return Math.Clamp(_p.PermitLimit + _p.AccumulateCap - counter, 0, _p.AccumulateCap);
    }
}
