using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// The check, compiled once per policy type. Every decision reads and CASes single 64-bit words of one slot;
/// nothing allocates, locks or throws.
/// </summary>
internal sealed partial class LimiterEngine<TParams> : LimiterEngine
    where TParams : struct, IPolicyParameters
{
    // A CAS fails only when another request of the same client changed the word first; past this many
    // failures in one check the request is denied (never allowed) rather than retried forever.
    private const int MaxCasAttempts = 128;

    private readonly TParams _p;
    private PaddedWord _overflow;

    public LimiterEngine(TParams parameters, FloodgatePolicy policy, FloodgateLimiterOptions options)
        : base(policy, options)
    {
        _p = parameters;
    }

    public override Decision Check(in IpKey key)
    {
        long now = Clock.NowMs();
        Decision decision;
        if (Allowlist.Contains(in key))
        {
            decision = Decision.Allowlisted(_p.PermitLimit);
        }
        else if (Denylist.Contains(in key))
        {
            decision = Decision.Forbidden(DecisionReason.Denylisted, _p.PermitLimit);
        }
        else
        {
            int slot = FindOrAdd(in key, EntryTable.Hash(in key), now);
            decision = slot >= 0 ? Evaluate(ref Table[slot], in key, now) : CheckOverflow(now);
        }

        // MetricIndex lists the decision counters in DecisionReason order.
        Metrics.Increment((MetricIndex)decision.Reason);
        return decision;
    }

    /// <summary>
    /// The order of evaluation: blacklist → active block → cooldown → window roll → count → allowed or violation.
    /// </summary>
    private Decision Evaluate(ref Entry e, in IpKey key, long now)
    {
        // LRU hint only: a lost race leaves it a second older, which is harmless.
        uint seen = (uint)(now / 1000);
        if (e.LastSeen != seen)
        {
            Volatile.Write(ref e.LastSeen, seen);
        }

        long block = Volatile.Read(ref e.Block);
        if (BlockWord.IsBlacklisted(block))
        {
            return Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
        }

        long until = BlockWord.Until(block);
        if (until > now)
        {
            return DenyBlocked(ref e, block, until, now);
        }

        long cooldownRestore = -1;
        if (_p.CooldownMs > 0)
        {
            long last = Volatile.Read(ref e.LastAllowed);
            if (last != 0 && now - last < _p.CooldownMs)
            {
                return DenyCooldown(ref e, last + _p.CooldownMs - now, now);
            }

            // Reserve this cooldown period: of the requests racing here, only the CAS winner goes on.
            if (Interlocked.CompareExchange(ref e.LastAllowed, now, last) != last)
            {
                return DenyCooldown(ref e, _p.CooldownMs, now);
            }

            cooldownRestore = last;
        }

        for (int attempt = 0; attempt < MaxCasAttempts; attempt++)
        {
            long w = Volatile.Read(ref e.Window);
            long start = WindowWord.Start(w);
            int counter = WindowWord.Counter(w);

            // A new window starts with this request when there is none, when it has run its length, or when a
            // block that began during it has since ended (the client comes back from a block with a fresh window).
            if (start == 0 || now - start >= _p.WindowMs || until > start)
            {
                int carry = _p.AccumulateCap > 0 && start != 0 ? CarryFrom(counter, start, now) : 0;
                int first = _p.AccumulateCap - carry + 1;

                // CAS: racing requests of this client either roll the window here or count in the rolled one.
                if (Interlocked.CompareExchange(ref e.Window, WindowWord.Make(now, first), w) == w)
                {
                    if (_p.AccumulateCap > 0)
                    {
                        Volatile.Write(ref e.Carry, carry);
                    }

                    return Allowed(_p.PermitLimit + _p.AccumulateCap - first, _p.WindowMs);
                }

                continue;
            }

            long windowEnd = start + _p.WindowMs;
            int allowance = _p.PermitLimit + _p.AccumulateCap;
            if (_p.GracePermits > 0 && counter >= allowance &&
                EffectiveBlockCount(Volatile.Read(ref e.Offenses), block, now) == 0)
            {
                allowance += _p.GracePermits;
            }

            if (counter < allowance)
            {
                // CAS: +1 on the low bits; counter < allowance <= WindowWord.MaxCounter, so it cannot carry into B.
                if (Interlocked.CompareExchange(ref e.Window, w + 1, w) == w)
                {
                    return Allowed(Math.Max(0, _p.PermitLimit + _p.AccumulateCap - counter - 1), windowEnd - now);
                }

                continue;
            }

            if (cooldownRestore >= 0)
            {
                // Hand back the cooldown period this denied request reserved; if another request moved it, keep theirs.
                Interlocked.CompareExchange(ref e.LastAllowed, cooldownRestore, now);
                cooldownRestore = -1;
            }

            if (WindowWord.BlockCounted(w))
            {
                // The block this window counted may have landed since we read the block word: report it if so.
                long latest = Volatile.Read(ref e.Block);
                if (latest != block)
                {
                    if (BlockWord.IsBlacklisted(latest))
                    {
                        return Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
                    }

                    if (BlockWord.Until(latest) > now)
                    {
                        return DenyBlocked(ref e, latest, BlockWord.Until(latest), now);
                    }
                }

                return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, windowEnd - now, windowEnd - now);
            }

            // CAS: at most one block per window; only the request that sets the flag records the violation.
            if (Interlocked.CompareExchange(ref e.Window, WindowWord.WithBlockCounted(w), w) == w)
            {
                return Violation(ref e, in key, block, windowEnd, now);
            }
        }

        return ContendedDenial(ref e, cooldownRestore, now);
    }

    private Decision ContendedDenial(ref Entry e, long cooldownRestore, long now)
    {
        if (cooldownRestore >= 0)
        {
            Interlocked.CompareExchange(ref e.LastAllowed, cooldownRestore, now);
        }

        return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, 1000, 1000);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Decision Allowed(int remaining, long resetAfterMs) =>
        new(DecisionReason.Allowed, _p.PermitLimit, remaining, 0, resetAfterMs);

    private Decision DenyCooldown(ref Entry e, long retryAfterMs, long now)
    {
        long start = WindowWord.Start(Volatile.Read(ref e.Window));
        long resetAfter = start != 0 && now - start < _p.WindowMs ? start + _p.WindowMs - now : retryAfterMs;
        return Decision.Denied(DecisionReason.Cooldown, _p.PermitLimit, retryAfterMs, resetAfter);
    }

    private Decision DenyBlocked(ref Entry e, long block, long until, long now)
    {
        if (_p.RelativeBlock)
        {
            long length = BlockWord.IsPunished(block)
                ? _p.BlockExceedMs
                : BlockLength(OffenseWord.Count(Volatile.Read(ref e.Offenses)));
            long extended = now + length;

            // CAS: restart the block timer. Losing to another request of this client is fine: it extended it as far.
            if (extended > until && Interlocked.CompareExchange(ref e.Block, BlockWord.WithUntil(block, extended), block) == block)
            {
                until = extended;
            }
        }

        return Decision.Denied(DecisionReason.Blocked, _p.PermitLimit, until - now, until - now);
    }

    /// <summary>
    /// Records a violation: the block count rises (after forgetting and resets), and the client is blocked,
    /// punished or blacklisted. The triggering request is denied with that block's decision.
    /// </summary>
    private Decision Violation(ref Entry e, in IpKey key, long block, long windowEnd, long now)
    {
        long offenses = Volatile.Read(ref e.Offenses);
        int count = 0;
        bool punish = false;
        long length = 0;   // -1: blacklist; 0: deny until the window ends; above 0: block this long
        for (int attempt = 0; ; attempt++)
        {
            count = Math.Min(EffectiveBlockCount(offenses, block, now) + 1, OffenseWord.MaxCount);
            punish = _p.BlockLimit >= 0 && count > _p.BlockLimit;
            length = punish ? _p.BlockExceedMs : BlockLength(count);
            long quietFrom = length < 0 ? now : (length == 0 ? windowEnd : now + length);

            // CAS with the generation in the word: fails if the slot was handed to another client meanwhile.
            long seen = Interlocked.CompareExchange(ref e.Offenses, OffenseWord.Make(quietFrom, count, offenses), offenses);
            if (seen == offenses)
            {
                break;
            }

            if (OffenseWord.Generation(seen) != OffenseWord.Generation(offenses) || attempt >= MaxCasAttempts)
            {
                return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, windowEnd - now, windowEnd - now);
            }

            offenses = seen;
        }

        if (length != 0)
        {
            for (int attempt = 0; ; attempt++)
            {
                long updated = length < 0
                    ? BlockWord.Make(BlockWord.Until(block), BlockWord.Generation(block), punished: false, blacklisted: true)
                    : BlockWord.Make(now + length, BlockWord.Generation(block), punish, blacklisted: false);

                // CAS with the generation in the word, as above; an operator's change in between is re-read.
                long seen = Interlocked.CompareExchange(ref e.Block, updated, block);
                if (seen == block)
                {
                    break;
                }

                if (BlockWord.Generation(seen) != BlockWord.Generation(block) || attempt >= MaxCasAttempts)
                {
                    return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, windowEnd - now, windowEnd - now);
                }

                if (BlockWord.IsBlacklisted(seen))
                {
                    return Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
                }

                block = seen;
            }
        }

        // Events and counters after the state changed, outside the CAS loops.
        if (length < 0)
        {
            Metrics.Increment(MetricIndex.Blacklistings);
            Raise(FloodgateEventKind.Blacklisted, in key, count, -1, now);
            return Decision.Forbidden(DecisionReason.Blacklisted, _p.PermitLimit);
        }

        if (punish)
        {
            Metrics.Increment(MetricIndex.Punishments);
            Raise(FloodgateEventKind.Punished, in key, count, length, now);
            return Decision.Denied(DecisionReason.Blocked, _p.PermitLimit, length, length);
        }

        Metrics.Increment(MetricIndex.BlocksStarted);
        if (length == 0)
        {
            Raise(FloodgateEventKind.Blocked, in key, count, windowEnd - now, now);
            return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, windowEnd - now, windowEnd - now);
        }

        Raise(FloodgateEventKind.Blocked, in key, count, length, now);
        return Decision.Denied(DecisionReason.Blocked, _p.PermitLimit, length, length);
    }

    /// <summary>
    /// The shared overflow entry for clients that could get no slot: strict (one window for all of them),
    /// only rate-limited, never blocked, punished or blacklisted.
    /// </summary>
    private Decision CheckOverflow(long now)
    {
        Metrics.Increment(MetricIndex.Overflow);
        for (int attempt = 0; attempt < MaxCasAttempts; attempt++)
        {
            long w = Volatile.Read(ref _overflow.Value);
            long start = WindowWord.Start(w);
            if (start == 0 || now - start >= _p.WindowMs)
            {
                // CAS: as for a client's window.
                if (Interlocked.CompareExchange(ref _overflow.Value, WindowWord.Make(now, 1), w) == w)
                {
                    return Allowed(_p.PermitLimit - 1, _p.WindowMs);
                }

                continue;
            }

            int counter = WindowWord.Counter(w);
            long windowEnd = start + _p.WindowMs;
            if (counter >= _p.PermitLimit)
            {
                return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, windowEnd - now, windowEnd - now);
            }

            if (Interlocked.CompareExchange(ref _overflow.Value, w + 1, w) == w)
            {
                return Allowed(_p.PermitLimit - counter - 1, windowEnd - now);
            }
        }

        return Decision.Denied(DecisionReason.RateLimited, _p.PermitLimit, 1000, 1000);
    }

    /// <summary>
    /// The block count that applies now: 0 once a served punishment resets it (BlockExceedReset), or after
    /// MaxWindowDuration without violations, counted from the end of the last block.
    /// </summary>
    private int EffectiveBlockCount(long offenses, long block, long now)
    {
        int count = OffenseWord.Count(offenses);
        if (count == 0 || BlockWord.IsBlacklisted(block))
        {
            return count;
        }

        long until = BlockWord.Until(block);
        if (until > now)
        {
            return count;
        }

        if (_p.BlockExceedReset && BlockWord.IsPunished(block))
        {
            return 0;
        }

        if (_p.MaxWindowMs >= 0 && now - Math.Max(OffenseWord.QuietFromMs(offenses), until) >= _p.MaxWindowMs)
        {
            return 0;
        }

        return count;
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

    /// <summary>The length of the n-th block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long BlockLength(int n) =>
        _p.AdaptiveBlocks && n > 1 ? BlockLengths[Math.Min(n, PolicyMath.BlockLengthSteps) - 1] : _p.BlockDurationMs;
}
