using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// The slot header, CAS'd to claim, evict and publish a slot.
/// <code>
///  31              16 15                      2 1      0
/// [ generation : 16  | key fingerprint : 14    | state ]   state: 0 Empty, 1 Live, 2 Busy
/// </code>
/// </summary>
internal static class SlotHeader
{
    public const int Empty = 0;
    public const int Live = 1;
    public const int Busy = 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int State(int header) => header & 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Fingerprint(int header) => (header >> 2) & 0x3FFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Generation(int header) => (int)((uint)header >> 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FingerprintOf(ulong hash) => (int)(hash >> 32) & 0x3FFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Make(int generation, int fingerprint, int state) =>
        (int)((uint)(generation & 0xFFFF) << 16) | ((fingerprint & 0x3FFF) << 2) | state;
}

/// <summary>
/// The current window, CAS'd by every counted request.
/// <code>
///  63                           24  23  22                 0
/// [ window start, ms : 40         | B | counter : 23        ]
/// </code>
/// Start 0 means no window yet. B: this window has already counted a block (at most one per window).
/// The counter begins each window at <c>AccumulateCap - carry</c>, so a request is allowed while
/// <c>counter &lt; AccumulateCap + PermitLimit (+ grace)</c>: the carry needs no bits of its own.
/// 40 bits of milliseconds cover 34 years of uptime.
/// </summary>
internal static class WindowWord
{
    public const int MaxCounter = (1 << 23) - 1;
    private const long CountedBit = 1L << 23;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Start(long word) => (long)((ulong)word >> 24);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Counter(long word) => (int)(word & MaxCounter);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool BlockCounted(long word) => (word & CountedBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long WithBlockCounted(long word) => word | CountedBit;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Make(long start, int counter) => (start << 24) | (uint)counter;
}

/// <summary>
/// The block state, read by every check and CAS'd when a block starts, extends or is lifted.
/// <code>
///  63                         18 17               2  1   0
/// [ block end, ms : 46          | generation : 16  | P | X ]
/// </code>
/// A block is active while <c>end &gt; now</c>; an ended block keeps its end time (it tells when the
/// client's good behaviour began). P: the last block was a punishment. X: blacklisted.
/// </summary>
internal static class BlockWord
{
    private const long BlacklistedBit = 1;
    private const long PunishedBit = 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Until(long word) => (long)((ulong)word >> 18);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Generation(long word) => (int)(word >> 2) & 0xFFFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsBlacklisted(long word) => (word & BlacklistedBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsPunished(long word) => (word & PunishedBit) != 0;

    /// <summary>Blacklisted or blocked at <paramref name="now"/>: such a slot is never evicted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Protects(long word, long now) => IsBlacklisted(word) || Until(word) > now;

    public static long Fresh(int generation) => (long)(generation & 0xFFFF) << 2;

    public static long Make(long until, int generation, bool punished, bool blacklisted) =>
        (until << 18) | ((long)(generation & 0xFFFF) << 2) | (punished ? PunishedBit : 0) | (blacklisted ? BlacklistedBit : 0);

    public static long WithUntil(long word, long until) => (until << 18) | (word & 0x3FFFF);
}

/// <summary>
/// The block count (episodes, not requests), CAS'd when a block is counted.
/// <code>
///  63                       24 23               12 11               0
/// [ quiet from, ms : 40       | block count : 12  | generation : 12  ]
/// </code>
/// "Quiet from" is when the last block ended: the count is forgotten after MaxWindowDuration of quiet.
/// </summary>
internal static class OffenseWord
{
    public const int MaxCount = (1 << 12) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long QuietFromMs(long word) => (long)((ulong)word >> 24);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Count(long word) => (int)(word >> 12) & MaxCount;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Generation(long word) => (int)word & 0xFFF;

    public static long Fresh(int generation) => generation & 0xFFF;

    /// <summary>Packs a quiet-from time and a count with the generation of <paramref name="generationSource"/>.</summary>
    public static long Make(long quietFromMs, int count, long generationSource) =>
        (quietFromMs << 24) | ((long)(count & MaxCount) << 12) | (generationSource & 0xFFF);
}
