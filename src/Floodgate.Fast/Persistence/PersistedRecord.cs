using System.Runtime.InteropServices;
using FASTER.core;

namespace Floodgate.Persistence;

/// <summary>What a persisted record describes.</summary>
internal enum PersistedKind
{
    Client = 0,
    Allowlist = 1,
    Denylist = 2,
}

/// <summary>
/// The key of a persisted record: a client (its 16-byte key) or a runtime list entry (a key prefix and its
/// length). Blittable, so FASTER stores it without a serializer.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PersistedKey
{
    public ulong High;
    public ulong Low;
    public int Kind;
    public int Bits;
}

/// <summary>
/// One client's state as it is written to disk. Times are absolute UTC ticks (0: none), converted from and to
/// the limiter's monotonic clock at checkpoint and recovery, so a restart, or a wall clock that moved, is handled
/// when loading.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PersistedEntry
{
    public long WindowStartUtc;
    public int Counter;
    public int BlockCounted;
    public long BlockUntilUtc;
    public int BlockFlags;      // 1: blacklisted, 2: punished
    public int OffenseCount;
    public long QuietFromUtc;
    public long LastAllowedUtc;
    public int Carry;
    public int Previous;        // SlidingWindow: the count of the window before WindowStart (0 in checkpoints written before it)
}

/// <summary>Hashing and equality of persisted keys for FASTER's index.</summary>
/// <remarks>
/// A checkpoint store is written once, from a scan of the table in slot order, and afterwards only scanned, never
/// searched by key. So, when writing, a client's FASTER bucket (the low bits of its hash) is taken from its home
/// slot in the table: the scan then fills FASTER's index front to back instead of missing the cache on every
/// record. The rest of the hash, and the hash of list entries, are ordinary.
/// </remarks>
internal sealed class PersistedKeyComparer : IFasterEqualityComparer<PersistedKey>
{
    /// <summary>For reading a checkpoint back: no slot order.</summary>
    public static readonly PersistedKeyComparer Instance = new(null, 0);

    private readonly Internal.EntryTable? _table;
    private readonly int _bucketBits;
    private readonly int _slotShift;

    public PersistedKeyComparer(Internal.EntryTable? table, int bucketBits)
    {
        _table = table;
        _bucketBits = bucketBits;
        _slotShift = table is null ? 0 : Math.Max(0, System.Numerics.BitOperations.Log2((uint)table.Capacity) - bucketBits);
    }

    public bool Equals(ref PersistedKey k1, ref PersistedKey k2) =>
        k1.High == k2.High && k1.Low == k2.Low && k1.Kind == k2.Kind && k1.Bits == k2.Bits;

    public long GetHashCode64(ref PersistedKey k)
    {
        ulong hash = Checksum.Mix(k.High ^ Checksum.Mix(k.Low, (ulong)k.Kind), (ulong)k.Bits);
        if (_table is null || k.Kind != (int)PersistedKind.Client)
        {
            return (long)hash;
        }

        ulong mask = (1UL << _bucketBits) - 1;
        ulong bucket = (ulong)(uint)_table.HomeSlot(Internal.EntryTable.Hash(new IpKey(k.High, k.Low))) >> _slotShift;
        return (long)((hash & ~mask) | (bucket & mask));
    }
}
