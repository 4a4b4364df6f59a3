using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Finding a client's slot, and claiming one for a new client: an empty slot first, else a slot whose state
/// can be forgotten, else the least recently seen slot that is neither blocked nor blacklisted.
/// </summary>
/// <remarks>
/// Claiming is a CAS of the slot header to Busy (with the key's fingerprint); the claimer then checks that no
/// other thread placed or is placing the same key in the probe window, and publishes the slot as Live with a
/// new generation. Of two threads inserting one key, the one further from the home slot backs off, so a key
/// never ends up in two slots.
/// </remarks>
internal sealed partial class LimiterEngine<TParams>
{
    private const int MaxInsertAttempts = 64;
    private const int MaxRivalSpins = 64;

    /// <summary>Finds the client's slot, or claims one; -1 when none can be had (use the overflow entry).</summary>
    private int FindOrAdd(in IpKey key, ulong hash, long now)
    {
        int fingerprint = SlotHeader.FingerprintOf(hash);
        int home = Table.HomeSlot(hash);
        var spinner = default(SpinWait);
        for (int attempt = 0; attempt < MaxInsertAttempts; attempt++)
        {
            int emptyStep = -1;
            int emptyHeader = 0;
            bool pending = false;

            // Scan the whole probe window: slots are claimed and given back in any order, so an empty slot
            // does not end the search.
            for (int step = 0; step < EntryTable.ProbeLength; step++)
            {
                int slot = Table.Probe(home, step);
                ref Entry e = ref Table[slot];
                int header = Volatile.Read(ref e.Header);
                switch (SlotHeader.State(header))
                {
                    case SlotHeader.Live when SlotHeader.Fingerprint(header) == fingerprint && KeyMatches(ref e, in key, header):
                        return slot;
                    case SlotHeader.Empty when emptyStep < 0:
                        emptyStep = step;
                        emptyHeader = header;
                        break;
                    case SlotHeader.Busy when SlotHeader.Fingerprint(header) == fingerprint:
                        pending = true;
                        break;
                }
            }

            if (pending)
            {
                // Another thread may be placing this very key: let it finish, then look again.
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            int claimedStep = emptyStep;
            int previous = emptyHeader;
            bool evicting = claimedStep < 0;
            if (evicting)
            {
                claimedStep = ChooseVictim(home, now, out previous);
                if (claimedStep < 0)
                {
                    return -1;
                }
            }

            int claimed = Table.Probe(home, claimedStep);
            ref Entry c = ref Table[claimed];
            int generation = SlotHeader.Generation(previous);

            // CAS: claim the slot. Busy with our fingerprint tells other threads this key is being placed here.
            if (Interlocked.CompareExchange(ref c.Header, SlotHeader.Make(generation, fingerprint, SlotHeader.Busy), previous) != previous)
            {
                continue;
            }

            if (HasRival(in key, fingerprint, home, claimedStep))
            {
                Volatile.Write(ref c.Header, previous);
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            int next = (generation + 1) & 0xFFFF;
            if (evicting)
            {
                // Re-check under the claim: the victim may have been blocked since it was chosen. Resetting the
                // block word by CAS makes a block that lands after our read win, and our eviction back off.
                long block = Volatile.Read(ref c.Block);
                if (BlockWord.Protects(block, now) ||
                    Interlocked.CompareExchange(ref c.Block, BlockWord.Fresh(next), block) != block)
                {
                    Volatile.Write(ref c.Header, previous);
                    continue;
                }

                Metrics.Increment(MetricIndex.Evictions);
            }
            else
            {
                Volatile.Write(ref c.Block, BlockWord.Fresh(next));
            }

            c.KeyHigh = key.High;
            c.KeyLow = key.Low;
            c.LastSeen = (uint)(now / 1000);
            c.Carry = 0;
            Volatile.Write(ref c.Window, 0);
            Volatile.Write(ref c.LastAllowed, 0);
            Volatile.Write(ref c.Offenses, OffenseWord.Fresh(next));

            // Release: everything written above is visible to whoever sees the slot Live.
            Volatile.Write(ref c.Header, SlotHeader.Make(next, fingerprint, SlotHeader.Live));
            return claimed;
        }

        return -1;
    }

    /// <summary>Finds the client's slot without claiming one; -1 when it is not tracked.</summary>
    private int Find(in IpKey key)
    {
        ulong hash = EntryTable.Hash(in key);
        int fingerprint = SlotHeader.FingerprintOf(hash);
        int home = Table.HomeSlot(hash);
        for (int step = 0; step < EntryTable.ProbeLength; step++)
        {
            int slot = Table.Probe(home, step);
            ref Entry e = ref Table[slot];
            int header = Volatile.Read(ref e.Header);
            if (SlotHeader.State(header) == SlotHeader.Live && SlotHeader.Fingerprint(header) == fingerprint &&
                KeyMatches(ref e, in key, header))
            {
                return slot;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool KeyMatches(ref Entry e, in IpKey key, int header) =>
        // Volatile reads, then the header again: a slot being reused in between shows a changed header.
        Volatile.Read(ref e.KeyHigh) == key.High && Volatile.Read(ref e.KeyLow) == key.Low &&
        Volatile.Read(ref e.Header) == header;

    /// <summary>
    /// True when the key is already Live in the window, or another thread is placing it nearer the home slot
    /// (or takes too long to finish placing it further away): the caller then backs off.
    /// </summary>
    private bool HasRival(in IpKey key, int fingerprint, int home, int claimedStep)
    {
        for (int step = 0; step < EntryTable.ProbeLength; step++)
        {
            if (step == claimedStep)
            {
                continue;
            }

            ref Entry e = ref Table[Table.Probe(home, step)];
            int header = Volatile.Read(ref e.Header);
            var spinner = default(SpinWait);
            while (SlotHeader.State(header) == SlotHeader.Busy && SlotHeader.Fingerprint(header) == fingerprint)
            {
                if (step < claimedStep || spinner.Count >= MaxRivalSpins)
                {
                    return true;
                }

                spinner.SpinOnce(sleep1Threshold: -1);
                header = Volatile.Read(ref e.Header);
            }

            if (SlotHeader.State(header) == SlotHeader.Live && SlotHeader.Fingerprint(header) == fingerprint &&
                KeyMatches(ref e, in key, header))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Picks the slot to give to a new client: the first whose state can be forgotten without loss, else the
    /// least recently seen. Blocked and blacklisted slots are never picked. Returns the probe step, or -1.
    /// </summary>
    private int ChooseVictim(int home, long now, out int victimHeader)
    {
        int best = -1;
        uint oldest = uint.MaxValue;
        victimHeader = 0;
        for (int step = 0; step < EntryTable.ProbeLength; step++)
        {
            ref Entry e = ref Table[Table.Probe(home, step)];
            int header = Volatile.Read(ref e.Header);
            if (SlotHeader.State(header) != SlotHeader.Live)
            {
                continue;
            }

            long block = Volatile.Read(ref e.Block);
            if (BlockWord.Protects(block, now))
            {
                continue;
            }

            if (CanForget(ref e, block, now))
            {
                victimHeader = header;
                return step;
            }

            uint seen = Volatile.Read(ref e.LastSeen);
            if (seen < oldest)
            {
                oldest = seen;
                best = step;
                victimHeader = header;
            }
        }

        return best;
    }

    /// <summary>True when forgetting the slot changes no future decision: no running window, block count, cooldown or carry.</summary>
    private bool CanForget(ref Entry e, long block, long now)
    {
        long w = Volatile.Read(ref e.Window);
        long start = WindowWord.Start(w);
        if (start != 0 && now - start < _p.WindowMs)
        {
            return false;
        }

        if (EffectiveBlockCount(Volatile.Read(ref e.Offenses), block, now) != 0)
        {
            return false;
        }

        if (_p.CooldownMs > 0)
        {
            long last = Volatile.Read(ref e.LastAllowed);
            if (last != 0 && now - last < _p.CooldownMs)
            {
                return false;
            }
        }

        return _p.AccumulateCap == 0 || start == 0 || CarryFrom(WindowWord.Counter(w), start, now) == 0;
    }
}
