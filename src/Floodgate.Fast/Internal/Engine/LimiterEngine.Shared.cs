namespace Floodgate.Internal;

/// <summary>
/// A shared store's view of a client, set into its slot: a batched exchange (Floodgate.Redis, SyncMode Batched) counts
/// locally and, every interval, replaces its clients' counts with the shared totals plus what was admitted here since.
/// </summary>
internal sealed partial class LimiterEngine<TParams>
{
    public override int SlotOf(in IpKey key)
    {
        long now = Clock.NowMs();
        return FindOrAdd(in key, EntryTable.Hash(in key), now);
    }

    public override Decision CheckSlot(int slot, in IpKey key, int cost)
    {
        Decision decision = Evaluate(slot, in key, Clock.NowMs(), cost);
        Metrics.Increment((MetricIndex)decision.Reason);   // MetricIndex lists the decision counters in DecisionReason order
        return decision;
    }

    public override bool TryGetKeyAt(int slot, out IpKey key)
    {
        long tag = Volatile.Read(ref Table.Hot(slot).Tag);
        ref ColdEntry cold = ref Table.Cold(slot);
        key = new IpKey(Volatile.Read(ref cold.KeyHigh), Volatile.Read(ref cold.KeyLow));
        return SlotTag.IsLive(tag) && Volatile.Read(ref Table.Hot(slot).Tag) == tag;
    }

    public override void SetShared(in IpKey key, long windowAgeMs, long count, long previous, int unsent)
    {
        int slot = Find(in key);
        if (slot < 0)
        {
            return;   // no longer tracked here: its next check starts it afresh, from a later exchange
        }

        long now = Clock.StampMs();
        ref HotEntry hot = ref Table.Hot(slot);
        for (int attempt = 0; attempt < MaxCasAttempts; attempt++)
        {
            long w = Volatile.Read(ref hot.Window);
            long next;
            if (_p.Algorithm == FloodgateAlgorithm.TokenBucket)
            {
                // The debt in 1/PermitLimit ms, from now: the TAT is now + debt / PermitLimit.
                long debt = Math.Max(0, count) + ((long)unsent * _p.WindowMs);
                long whole = Math.DivRem(debt, _p.PermitLimit, out long fraction);
                next = WindowWord.Make(now + whole, (int)fraction) | (debt == 0 ? KeptBlockState(w) : w & FlagBits);
            }
            else
            {
                long start = Math.Max(1, now - Math.Max(0, windowAgeMs));
                long counted = Math.Clamp(count + unsent, 0, _p.Algorithm == FloodgateAlgorithm.SlidingWindow ? WindowWord.SlidingCountMask : WindowWord.MaxCounter);
                next = WindowWord.Make(start, (int)counted) | (WindowWord.Start(w) == start ? w & FlagBits : KeptBlockState(w));
                if (_p.Algorithm == FloodgateAlgorithm.SlidingWindow && previous > 0 && start > _p.WindowMs)
                {
                    Volatile.Write(ref Table.Cold(slot).Previous, WindowWord.Make(start - _p.WindowMs, (int)Math.Min(previous, WindowWord.SlidingCountMask)));
                    next |= WindowWord.PreviousBit;
                }
            }

            if (Interlocked.CompareExchange(ref hot.Window, next, w) == w)
            {
                return;
            }
        }
    }

    /// <summary>H of <paramref name="w"/> alone: checks keep consulting a block state; B (a violation in this window) goes with a new window.</summary>
    private static long KeptBlockState(long w) => WindowWord.HasBlockState(w) ? WindowWord.WithBlockState(0) : 0;
}
