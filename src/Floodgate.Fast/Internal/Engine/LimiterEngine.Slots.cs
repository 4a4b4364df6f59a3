using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Finding a client's slot, and claiming one for a new client: an empty slot first, else a slot whose state
/// can be forgotten. A check takes no other slot for a client it sees for the first time: a client whose slot is
/// full is counted in the homeless sketch, and takes the slot of the least active evictable client only once it
/// has been counted more often than that client (see <see cref="ChooseVictim"/>).
/// </summary>
/// <remarks>
/// Claiming is a CAS of the slot's tag to Busy (with the key's identity); the claimer then checks that no other
/// thread placed or is placing the same key in the probe window, and publishes the slot as Live. Of two threads
/// inserting one key, the one further from the home slot backs off, so a key never ends up in two slots.
/// </remarks>
internal sealed partial class LimiterEngine<TParams>
{
    /// <summary>No slot can be had for now: the homeless sketch limits the client.</summary>
    private const int NoSlot = -1;

    /// <summary>FindOrAddSlow's <c>admitBelow</c> for operators: any victim that is neither blocked nor has history.</summary>
    private const int AnyVictim = int.MaxValue;

    /// <summary>FindOrAddSlow's <c>admitBelow</c> for a recovered client: a free slot only, never another's.</summary>
    private const int FreeSlotOnly = -1;

    /// <summary>Another thread is still placing this client: the check is denied, never counted elsewhere.</summary>
    private const int Contended = -2;

    private const int MaxInsertAttempts = 64;
    private const int MaxPendingSpins = 1_000;
    private const int MaxRivalSpins = 64;

    /// <summary>Finds the client's slot, or claims one; <see cref="NoSlot"/> or <see cref="Contended"/> when it cannot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int FindOrAdd(in IpKey key, ulong hash, long now)
    {
        long live = SlotTag.Live(SlotTag.Identity(hash));
        int home = Table.HomeSlot(hash);

        // The common case: the client is at its home slot, or the next one (usually the same cache line).
        if (Volatile.Read(ref Table.Hot(home).Tag) == live)
        {
            return home;
        }

        int next = Table.Probe(home, 1);
        return Volatile.Read(ref Table.Hot(next).Tag) == live ? next : FindOrAddSlow(in key, hash, now, ResidentsFirst ? 0 : AnyVictim);
    }

    /// <summary>Finds or claims a slot for an operator's change, evicting the least active client if it must.</summary>
    private int FindOrClaim(in IpKey key, long now) => FindOrAddSlow(in key, EntryTable.Hash(in key), now, AnyVictim);

    /// <summary>
    /// The slow path of <see cref="FindOrAdd"/>. A slot whose state can be forgotten is always taken; another slot is
    /// taken only from a client that is neither blocked nor has a block on record nor waits out a cooldown, and whose
    /// count in its window is below <paramref name="admitBelow"/> (0: none; <see cref="FreeSlotOnly"/>: not even a
    /// forgettable one). The new client's window starts with what the homeless sketch counted for it in this window
    /// (at least <paramref name="initialCount"/>): a client evicted mid-window comes back where it was, never to a
    /// fresh window. Such a window is marked as having counted its block (B): the sketch may over-count, so going over
    /// the limit in it is rate-limited, never a block an innocent client could owe to someone else's count.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int FindOrAddSlow(in IpKey key, ulong hash, long now, int admitBelow = 0, int initialCount = 0)
    {
        long identity = SlotTag.Identity(hash);
        long live = SlotTag.Live(identity);
        long busy = SlotTag.Busy(identity);
        int home = Table.HomeSlot(hash);
        var spinner = default(SpinWait);
        int pendingSpins = 0;
        for (int attempt = 0; attempt < MaxInsertAttempts; attempt++)
        {
            int emptyStep = -1;
            bool pending = false;

            // Scan the whole probe window: slots are claimed and given back in any order, so an empty slot
            // does not end the search.
            for (int step = 0; step < EntryTable.ProbeLength; step++)
            {
                int slot = Table.Probe(home, step);
                long tag = Volatile.Read(ref Table.Hot(slot).Tag);
                if (tag == live)
                {
                    return slot;
                }

                if (tag == SlotTag.Empty)
                {
                    emptyStep = emptyStep < 0 ? step : emptyStep;
                }
                else if (tag == busy)
                {
                    pending = true;
                }
            }

            if (pending)
            {
                // Another thread is placing this very key: let it finish (it may be descheduled, or compiling
                // this path for the first time), then look again. Waiting does not use up an attempt.
                if (++pendingSpins > MaxPendingSpins)
                {
                    return Contended;
                }

                attempt--;
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            int claimedStep = emptyStep;
            long previous = SlotTag.Empty;
            bool evicting = claimedStep < 0;
            if (evicting)
            {
                claimedStep = admitBelow >= 0 ? ChooseVictim(home, now, live, admitBelow, out previous) : -1;
                if (claimedStep < 0)
                {
                    return NoSlot;
                }

                if (previous == live)
                {
                    // Another thread placed this key since our scan: it is ours, not a victim.
                    return Table.Probe(home, claimedStep);
                }
            }

            int claimed = Table.Probe(home, claimedStep);
            ref HotEntry hot = ref Table.Hot(claimed);

            // CAS: claim the slot. Busy with our identity tells other threads this key is being placed here.
            if (Interlocked.CompareExchange(ref hot.Tag, busy, previous) != previous)
            {
                continue;
            }

            if (HasRival(live, busy, home, claimedStep))
            {
                Volatile.Write(ref hot.Tag, previous);
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            ref ColdEntry cold = ref Table.Cold(claimed);
            long block = Volatile.Read(ref cold.Block);
            long offenses = Volatile.Read(ref cold.Offenses);
            int generation = (BlockWord.Generation(block) + 1) & 0xFFFF;
            if (evicting)
            {
                // Re-check under the claim: the victim may have been blocked, or had a violation recorded, since it
                // was chosen. Resetting both words by CAS makes a block or violation that lands after our read win,
                // and our eviction back off (theirs fails on the new generation if it comes later still).
                if (BlockWord.Protects(block, now) || EffectiveBlockCount(offenses, block, now) != 0 ||
                    Interlocked.CompareExchange(ref cold.Block, BlockWord.Fresh(generation), block) != block)
                {
                    Volatile.Write(ref hot.Tag, previous);
                    continue;
                }

                if (Interlocked.CompareExchange(ref cold.Offenses, OffenseWord.Fresh(generation), offenses) != offenses)
                {
                    // A violation of the victim landed between the two CASes: its slot stays its own.
                    Volatile.Write(ref cold.Block, block);
                    Volatile.Write(ref hot.Tag, previous);
                    continue;
                }

                if (ResidentsFirst)
                {
                    KeepCountOfEvicted(ref Table.Hot(claimed), ref cold, now);
                }

                Metrics.Increment(MetricIndex.Evictions);
            }
            else
            {
                // Never used: nothing else can be writing here.
                Volatile.Write(ref cold.Block, BlockWord.Fresh(generation));
                Volatile.Write(ref cold.Offenses, OffenseWord.Fresh(generation));
            }

            cold.KeyHigh = key.High;
            cold.KeyLow = key.Low;
            cold.Previous = 0;   // and Carry, which it overlaps
            Volatile.Write(ref cold.LastAllowed, 0);
            int counted = admitBelow >= 0 && ResidentsFirst
                ? Math.Min(Math.Max(initialCount, Homeless.Estimate(hash, now / _p.WindowMs)), _p.PermitLimit)
                : 0;
            Volatile.Write(ref hot.Window, counted > 0 ? CarriedWindow(counted) : 0);

            // Release: everything written above is visible to whoever sees the slot Live.
            Volatile.Write(ref hot.Tag, live);
            return claimed;
        }

        return Contended;
    }

    /// <summary>Finds the client's slot without claiming one, comparing the exact key; -1 when it is not tracked.</summary>
    private int Find(in IpKey key)
    {
        ulong hash = EntryTable.Hash(in key);
        long live = SlotTag.Live(SlotTag.Identity(hash));
        int home = Table.HomeSlot(hash);
        for (int step = 0; step < EntryTable.ProbeLength; step++)
        {
            int slot = Table.Probe(home, step);
            if (Volatile.Read(ref Table.Hot(slot).Tag) == live)
            {
                ref ColdEntry cold = ref Table.Cold(slot);
                if (Volatile.Read(ref cold.KeyHigh) == key.High && Volatile.Read(ref cold.KeyLow) == key.Low)
                {
                    return slot;
                }
            }
        }

        return -1;
    }

    /// <summary>
    /// True when the key is already Live in the window, or another thread is placing it nearer the home slot
    /// (or takes too long to finish placing it further away): the caller then backs off.
    /// </summary>
    private bool HasRival(long live, long busy, int home, int claimedStep)
    {
        for (int step = 0; step < EntryTable.ProbeLength; step++)
        {
            if (step == claimedStep)
            {
                continue;
            }

            ref HotEntry hot = ref Table.Hot(Table.Probe(home, step));
            long tag = Volatile.Read(ref hot.Tag);
            var spinner = default(SpinWait);
            while (tag == busy)
            {
                if (step < claimedStep || spinner.Count >= MaxRivalSpins)
                {
                    return true;
                }

                spinner.SpinOnce(sleep1Threshold: -1);
                tag = Volatile.Read(ref hot.Tag);
            }

            if (tag == live)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Picks the slot to give to a new client: the first whose state can be forgotten without loss; else, when
    /// <paramref name="admitBelow"/> is positive, the least active client that counted fewer requests than that in its
    /// window (the oldest window among equals). Never a client that is blocked, blacklisted, has a block count (its
    /// escalation) or waits out a cooldown: a flood of new keys cannot erase what a client has earned. Returns the probe
    /// step, or -1. If the client itself has meanwhile been placed in the window (by another thread), returns its step
    /// with <paramref name="victimTag"/> equal to <paramref name="live"/>: a fresh slot has the oldest window of all,
    /// and evicting it would reset the client it was just given to.
    /// </summary>
    /// <remarks>
    /// The rule is W-TinyLFU's admission (Caffeine): a newcomer displaces a resident only when it has been seen more
    /// often. Here "seen" is the newcomer's count in the homeless sketch against the resident's count in its window,
    /// so one-shot keys, however many, take only slots that nobody needs.
    /// </remarks>
    private int ChooseVictim(int home, long now, long live, int admitBelow, out long victimTag)
    {
        int best = -1;
        int fewest = admitBelow;
        long oldest = long.MaxValue;
        victimTag = SlotTag.Empty;
        for (int step = 0; step < EntryTable.ProbeLength; step++)
        {
            int slot = Table.Probe(home, step);
            ref HotEntry hot = ref Table.Hot(slot);
            long tag = Volatile.Read(ref hot.Tag);
            if (tag == live)
            {
                victimTag = live;
                return step;
            }

            if (!SlotTag.IsLive(tag))
            {
                continue;
            }

            long w = Volatile.Read(ref hot.Window);
            ref ColdEntry cold = ref Table.Cold(slot);
            long block = Volatile.Read(ref cold.Block);
            if (WindowWord.HasBlockState(w) && BlockWord.Protects(block, now))
            {
                continue;
            }

            long start = WindowWord.Start(w);
            bool over = StateOver(w, now);
            if (over && CanForget(slot, w, now))
            {
                victimTag = tag;
                return step;
            }

            if (EffectiveBlockCount(Volatile.Read(ref cold.Offenses), block, now) != 0 || InCooldown(ref cold, now))
            {
                continue;
            }

            int count = over ? 0 : CountedInWindow(w, ref cold);
            if (count < fewest || (count == fewest && best >= 0 && start < oldest))
            {
                fewest = count;
                oldest = start;
                best = step;
                victimTag = tag;
            }
        }

        return best;
    }

    /// <summary>A window starting now with <paramref name="counted"/> requests the homeless sketch counted, its block already counted (B).</summary>
    /// <remarks>On the token bucket: a bucket holding that many requests' debt.</remarks>
    private long CarriedWindow(int counted) =>
        _p.Algorithm == FloodgateAlgorithm.TokenBucket
            ? BucketWord(Clock.StampMs(), Math.Min((long)counted * _p.WindowMs, BucketCapacity), FlagBits & ~(1L << 24))
            : WindowWord.WithBlockCounted(WindowWord.Make(Clock.StampMs(), _p.AccumulateCap + counted), blockState: false);

    /// <summary>
    /// The requests a client has counted in its current window (its counter less the permits carried in); on the token
    /// bucket, the requests' worth of debt in its bucket.
    /// </summary>
    private int CountedInWindow(long w, ref ColdEntry cold) =>
        _p.Algorithm == FloodgateAlgorithm.TokenBucket
            ? (int)Math.Min(int.MaxValue, (ShapeMath.Excess(WindowWord.Start(w), WindowWord.Counter(w), Clock.NowMs(), _p.PermitLimit) + _p.WindowMs - 1) / _p.WindowMs)
            : Math.Max(0, CounterOf(w) - _p.AccumulateCap + (_p.AccumulateCap > 0 ? Volatile.Read(ref cold.Carry) : 0));

    /// <summary>
    /// True when the window word no longer affects a decision: the fixed window has run out, both windows of the sliding
    /// estimate have, or the bucket is full.
    /// </summary>
    private bool StateOver(long w, long now)
    {
        long start = WindowWord.Start(w);
        return start == 0 || _p.Algorithm switch
        {
            FloodgateAlgorithm.TokenBucket => ShapeMath.Excess(start, WindowWord.Counter(w), now, _p.PermitLimit) == 0,
            FloodgateAlgorithm.SlidingWindow => now - start >= 2 * _p.WindowMs,
            _ => now - start >= _p.WindowMs,
        };
    }

    private bool InCooldown(ref ColdEntry cold, long now)
    {
        if (_p.CooldownMs == 0)
        {
            return false;
        }

        long last = Volatile.Read(ref cold.LastAllowed);
        return last != 0 && now - last < _p.CooldownMs;
    }

    /// <summary>
    /// Carries an evicted client's count in its current window into the homeless sketch, so that it goes on where it
    /// was, limited by its own count, and eviction never hands it a fresh window.
    /// </summary>
    private void KeepCountOfEvicted(ref HotEntry hot, ref ColdEntry cold, long now)
    {
        long w = Volatile.Read(ref hot.Window);
        long start = WindowWord.Start(w);
        if (StateOver(w, now) || (_p.Algorithm == FloodgateAlgorithm.SlidingWindow && now - start >= _p.WindowMs))
        {
            return;   // (a sliding window's previous count is not carried: the sketch counts one window)
        }

        int count = CountedInWindow(w, ref cold);
        if (count > 0)
        {
            var evicted = new IpKey(Volatile.Read(ref cold.KeyHigh), Volatile.Read(ref cold.KeyLow));
            Homeless.Add(EntryTable.Hash(in evicted), now / _p.WindowMs, count, _p.PermitLimit);
        }
    }

    /// <summary>True when forgetting a slot whose window is over changes no future decision: no block count, cooldown or carry.</summary>
    private bool CanForget(int slot, long w, long now)
    {
        ref ColdEntry cold = ref Table.Cold(slot);
        if (EffectiveBlockCount(Volatile.Read(ref cold.Offenses), Volatile.Read(ref cold.Block), now) != 0)
        {
            return false;
        }

        if (InCooldown(ref cold, now))
        {
            return false;
        }

        long start = WindowWord.Start(w);
        return _p.AccumulateCap == 0 || start == 0 || CarryFrom(WindowWord.Counter(w), start, now) == 0;
    }
}
