using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Finding a client's slot, and claiming one for a new client: an empty slot first, else a slot whose state
/// can be forgotten, else the slot with the oldest window that is neither blocked nor blacklisted.
/// </summary>
/// <remarks>
/// Claiming is a CAS of the slot's tag to Busy (with the key's identity); the claimer then checks that no other
/// thread placed or is placing the same key in the probe window, and publishes the slot as Live. Of two threads
/// inserting one key, the one further from the home slot backs off, so a key never ends up in two slots.
/// </remarks>
internal sealed partial class LimiterEngine<TParams>
{
    /// <summary>No slot can be had: every candidate is blocked or blacklisted. The overflow entry limits the client.</summary>
    private const int NoSlot = -1;

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
        return Volatile.Read(ref Table.Hot(next).Tag) == live ? next : FindOrAddSlow(in key, hash, now);
    }

    // evict: false when restoring a checkpoint, so a recovered client takes a free slot, never another's.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int FindOrAddSlow(in IpKey key, ulong hash, long now, bool evict = true)
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
                claimedStep = evict ? ChooseVictim(home, now, live, out previous) : -1;
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
            int generation = (BlockWord.Generation(block) + 1) & 0xFFFF;
            if (evicting)
            {
                // Re-check under the claim: the victim may have been blocked since it was chosen. Resetting the
                // block word by CAS makes a block that lands after our read win, and our eviction back off.
                if (BlockWord.Protects(block, now) ||
                    Interlocked.CompareExchange(ref cold.Block, BlockWord.Fresh(generation), block) != block)
                {
                    Volatile.Write(ref hot.Tag, previous);
                    continue;
                }

                Metrics.Increment(MetricIndex.Evictions);
            }
            else
            {
                // Never used: nothing else can be writing here.
                Volatile.Write(ref cold.Block, BlockWord.Fresh(generation));
            }

            cold.KeyHigh = key.High;
            cold.KeyLow = key.Low;
            cold.Carry = 0;
            Volatile.Write(ref cold.LastAllowed, 0);
            Volatile.Write(ref cold.Offenses, OffenseWord.Fresh(generation));
            Volatile.Write(ref hot.Window, 0);

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
    /// Picks the slot to give to a new client: the first whose state can be forgotten without loss, else the
    /// one whose window started longest ago. Blocked and blacklisted slots are never picked. Returns the probe
    /// step, or -1. If the client itself has meanwhile been placed in the window (by another thread), returns
    /// its step with <paramref name="victimTag"/> equal to <paramref name="live"/>: a fresh slot has the oldest
    /// window of all, and evicting it would reset the client it was just given to.
    /// </summary>
    private int ChooseVictim(int home, long now, long live, out long victimTag)
    {
        int best = -1;
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
            long block = 0;
            if (WindowWord.HasBlockState(w))
            {
                block = Volatile.Read(ref Table.Cold(slot).Block);
                if (BlockWord.Protects(block, now))
                {
                    continue;
                }
            }

            long start = WindowWord.Start(w);
            if ((start == 0 || now - start >= _p.WindowMs) && CanForget(slot, w, now))
            {
                victimTag = tag;
                return step;
            }

            if (start < oldest)
            {
                oldest = start;
                best = step;
                victimTag = tag;
            }
        }

        return best;
    }

    /// <summary>True when forgetting a slot whose window is over changes no future decision: no block count, cooldown or carry.</summary>
    private bool CanForget(int slot, long w, long now)
    {
        ref ColdEntry cold = ref Table.Cold(slot);
        if (EffectiveBlockCount(Volatile.Read(ref cold.Offenses), Volatile.Read(ref cold.Block), now) != 0)
        {
            return false;
        }

        if (_p.CooldownMs > 0)
        {
            long last = Volatile.Read(ref cold.LastAllowed);
            if (last != 0 && now - last < _p.CooldownMs)
            {
                return false;
            }
        }

        long start = WindowWord.Start(w);
        return _p.AccumulateCap == 0 || start == 0 || CarryFrom(WindowWord.Counter(w), start, now) == 0;
    }
}
