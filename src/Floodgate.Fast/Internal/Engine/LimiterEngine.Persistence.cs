using Floodgate.Persistence;

namespace Floodgate.Internal;

/// <summary>
/// Copying the table out to a checkpoint and back in at recovery. Copying reads each word atomically while
/// checks go on; it never makes a check wait.
/// </summary>
internal sealed partial class LimiterEngine<TParams>
{
    public override void ExportClients(IRecordSink sink, long nowMs, long utcNowTicks)
    {
        for (int slot = 0; slot < Table.Capacity; slot++)
        {
            if (TryExportSlot(slot, nowMs, utcNowTicks, out PersistedKey key, out PersistedEntry entry))
            {
                sink.Add(in key, in entry);
            }
        }
    }

    public override bool TryExportClient(in IpKey client, long nowMs, long utcNowTicks, out PersistedEntry entry)
    {
        IpKey key = Grouped(in client);
        int slot = Find(in key);
        if (slot >= 0 && TryExportSlot(slot, nowMs, utcNowTicks, out PersistedKey found, out entry) && found.High == key.High && found.Low == key.Low)
        {
            return true;
        }

        entry = default;
        return false;
    }

    /// <summary>One live slot's state, when a decision depends on it; false for a free slot or one with nothing to keep.</summary>
    private bool TryExportSlot(int slot, long nowMs, long utcNowTicks, out PersistedKey key, out PersistedEntry entry)
    {
        key = default;
        entry = default;
        ref HotEntry hot = ref Table.Hot(slot);
        long tag = Volatile.Read(ref hot.Tag);
        if (!SlotTag.IsLive(tag))
        {
            return false;
        }

        ref ColdEntry cold = ref Table.Cold(slot);
        long w = Volatile.Read(ref hot.Window);
        long block = Volatile.Read(ref cold.Block);
        long offenses = Volatile.Read(ref cold.Offenses);
        long start = WindowWord.Start(w);
        bool windowOver = StateOver(w, nowMs);
        if (windowOver && !BlockWord.Protects(block, nowMs) && CanForget(slot, w, nowMs))
        {
            return false;   // nothing a decision depends on
        }

        key = new PersistedKey { High = Volatile.Read(ref cold.KeyHigh), Low = Volatile.Read(ref cold.KeyLow), Kind = (int)PersistedKind.Client };
        entry = new PersistedEntry
        {
            WindowStartUtc = ToUtcTicks(start, nowMs, utcNowTicks),
            Counter = CounterOf(w),
            BlockCounted = WindowWord.BlockCounted(w) ? 1 : 0,
            BlockUntilUtc = ToUtcTicks(BlockWord.Until(block), nowMs, utcNowTicks),
            BlockFlags = (BlockWord.IsBlacklisted(block) ? 1 : 0) | (BlockWord.IsPunished(block) ? 2 : 0),
            OffenseCount = OffenseWord.Count(offenses),
            QuietFromUtc = ToUtcTicks(OffenseWord.QuietFromMs(offenses), nowMs, utcNowTicks),
            LastAllowedUtc = ToUtcTicks(Volatile.Read(ref cold.LastAllowed), nowMs, utcNowTicks),
            Carry = _p.AccumulateCap > 0 ? Volatile.Read(ref cold.Carry) : 0,
            Previous = start == 0 ? 0 : PreviousCount(slot, w),
        };

        // Skip a slot that was given to another client while we read it.
        return Volatile.Read(ref hot.Tag) == tag;
    }

    public override bool Restore(in PersistedKey record, in PersistedEntry entry, long nowMs, long utcNowTicks)
    {
        var key = new IpKey(record.High, record.Low);
        int slot = FindOrAddSlow(in key, EntryTable.Hash(in key), nowMs, FreeSlotOnly);
        if (slot < 0)
        {
            return false;
        }

        bool blacklisted = (entry.BlockFlags & 1) != 0;
        bool punished = (entry.BlockFlags & 2) != 0;

        // Times come back relative to now, clamped: the wall clock may have moved since they were written. A
        // block may not outlast the policy's longest; nothing may lie in the future that should lie in the past.
        long until = FromUtcTicks(entry.BlockUntilUtc, nowMs, utcNowTicks);
        until = until <= 0 ? 0 : Math.Min(until, nowMs + LongestBlockMs());
        // A token bucket's TAT lies ahead of now by at most the bucket's size; a window's start never does.
        long latest = _p.Algorithm == FloodgateAlgorithm.TokenBucket ? nowMs + (BucketCapacity / _p.PermitLimit) + 1 : nowMs;
        long start = Math.Min(FromUtcTicks(entry.WindowStartUtc, nowMs, utcNowTicks), latest);
        long quietFrom = Math.Min(FromUtcTicks(entry.QuietFromUtc, nowMs, utcNowTicks), Math.Max(nowMs, until));
        long lastAllowed = Math.Min(FromUtcTicks(entry.LastAllowedUtc, nowMs, utcNowTicks), nowMs);
        int counter = Math.Clamp(entry.Counter, 0, _p.Algorithm switch
        {
            FloodgateAlgorithm.TokenBucket => _p.PermitLimit - 1,
            FloodgateAlgorithm.SlidingWindow => WindowWord.SlidingCountMask,
            _ => WindowWord.MaxCounter,
        });
        bool previousRecorded = _p.Algorithm == FloodgateAlgorithm.SlidingWindow && start > _p.WindowMs && entry.Previous > 0;

        ref ColdEntry cold = ref Table.Cold(slot);
        long fresh = Volatile.Read(ref cold.Block);
        bool blockState = blacklisted || until > 0;
        if (blacklisted)
        {
            NoteBlacklisting();
        }

        Volatile.Write(ref cold.Block, BlockWord.Make(until, BlockWord.Generation(fresh), punished, blacklisted));
        Volatile.Write(ref cold.Offenses, OffenseWord.Make(Math.Max(0, quietFrom), Math.Clamp(entry.OffenseCount, 0, OffenseWord.MaxCount), Volatile.Read(ref cold.Offenses)));
        Volatile.Write(ref cold.LastAllowed, Math.Max(0, lastAllowed));
        // Previous and Carry share their bytes (ColdEntry): write the one this shape has, whole, and only it.
        Volatile.Write(ref cold.Previous, previousRecorded ? WindowWord.Make(start - _p.WindowMs, Math.Clamp(entry.Previous, 0, WindowWord.SlidingCountMask)) : 0);
        if (_p.AccumulateCap > 0)
        {
            Volatile.Write(ref cold.Carry, Math.Clamp(entry.Carry, 0, _p.AccumulateCap));
        }

        long w = start > 0 ? WindowWord.Make(start, counter) | (previousRecorded ? WindowWord.PreviousBit : 0) : 0;
        if (entry.BlockCounted != 0 && start > 0)
        {
            w = WindowWord.WithBlockCounted(w, blockState);
        }
        else if (blockState)
        {
            w = WindowWord.WithBlockState(w);
        }

        Volatile.Write(ref Table.Hot(slot).Window, w);
        return true;
    }

    /// <summary>The longest block the policy can impose: a recovered block is never longer.</summary>
    private long LongestBlockMs() =>
        Math.Max(Math.Max(_p.BlockDurationMs, BlockLengths[^1]), _p.BlockExceedMs);

    private static long ToUtcTicks(long ms, long nowMs, long utcNowTicks) =>
        ms == 0 ? 0 : utcNowTicks + ((ms - nowMs) * TimeSpan.TicksPerMillisecond);

    /// <summary>The monotonic time of a UTC time; 0 for none or for a time before the clock's epoch.</summary>
    private static long FromUtcTicks(long utcTicks, long nowMs, long utcNowTicks)
    {
        if (utcTicks == 0)
        {
            return 0;
        }

        long ms = nowMs + ((utcTicks - utcNowTicks) / TimeSpan.TicksPerMillisecond);
        return ms < 1 ? 0 : ms;
    }
}
