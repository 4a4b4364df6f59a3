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
    public int Reserved;
}

/// <summary>Hashing and equality of persisted keys for FASTER's index.</summary>
internal sealed class PersistedKeyComparer : IFasterEqualityComparer<PersistedKey>
{
    public static readonly PersistedKeyComparer Instance = new();

    public bool Equals(ref PersistedKey k1, ref PersistedKey k2) =>
        k1.High == k2.High && k1.Low == k2.Low && k1.Kind == k2.Kind && k1.Bits == k2.Bits;

    public long GetHashCode64(ref PersistedKey k) =>
        (long)Checksum.Mix(k.High ^ Checksum.Mix(k.Low, (ulong)k.Kind), (ulong)k.Bits);
}
