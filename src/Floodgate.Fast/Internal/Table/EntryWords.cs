using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// A slot's tag, CAS'd to claim, evict and publish the slot.
/// <code>
///  63                                                   2 1      0
/// [ identity: 62 bits of the key's keyed hash             | state ]   state: 1 Live, 2 Busy; 0 (whole word) Empty
/// </code>
/// Checks match a client by its identity: the hash is keyed with a per-process secret, so two clients share
/// an identity (and a probe window) with a chance of about 2^-62 per pair, and nobody can aim for it. The
/// exact key is kept in the cold entry for operator operations.
/// </summary>
internal static class SlotTag
{
    public const long Empty = 0;
    private const long StateMask = 3;
    private const long LiveState = 1;
    private const long BusyState = 2;

    /// <summary>The identity part of a hash; never 0, so a Live or Busy tag is never Empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Identity(ulong hash) => (long)(hash & ~(ulong)StateMask) | 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Live(long identity) => identity | LiveState;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Busy(long identity) => identity | BusyState;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsLive(long tag) => (tag & StateMask) == LiveState;
}

/// <summary>
/// The current window, CAS'd by every counted request.
/// <code>
///  63                           25  24  23  22                 0
/// [ window start, ms : 39         | H | B | counter : 23        ]
/// </code>
/// Start 0 means no window yet (39 bits of milliseconds cover 17 years of uptime after the clock's 99-day epoch).
/// H: the client has block state to consult in its cold entry (set with the block, cleared by the window
/// roll after the block ended): without it a check reads nothing but this word.
/// B: this window has already counted a block (at most one per window).
/// The counter begins each window at <c>AccumulateCap - carry</c>, so a request is allowed while
/// <c>counter &lt; AccumulateCap + PermitLimit (+ grace)</c>: the carry needs no bits of its own.
/// On a sliding window the counter's top bit (22) says that the previous window's count is recorded in the cold entry
/// (so a client without one reads nothing else), and the count has 22 bits. On a token bucket the word holds the
/// theoretical arrival time: whole ms in the start field, the fraction of a ms (in 1/PermitLimit) in the counter.
/// </summary>
internal static class WindowWord
{
    public const int MaxCounter = (1 << 23) - 1;

    /// <summary>Sliding window: the previous window's count is recorded (bit 22 of the counter field).</summary>
    public const long PreviousBit = 1L << 22;

    /// <summary>Sliding window: the count's bits.</summary>
    public const int SlidingCountMask = (1 << 22) - 1;
    private const long CountedBit = 1L << 23;
    private const long BlockStateBit = 1L << 24;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Start(long word) => (long)((ulong)word >> 25);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Counter(long word) => (int)(word & MaxCounter);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool BlockCounted(long word) => (word & CountedBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasBlockState(long word) => (word & BlockStateBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long WithBlockCounted(long word, bool blockState) => word | CountedBit | (blockState ? BlockStateBit : 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long WithBlockState(long word) => word | BlockStateBit;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Make(long start, int counter) => (start << 25) | (uint)counter;
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
