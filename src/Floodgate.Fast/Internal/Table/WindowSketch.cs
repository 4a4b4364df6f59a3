using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Floodgate.Internal;

/// <summary>
/// Approximate per-key counts for the current window, in fixed memory: a count-min sketch of <see cref="Depth"/> rows
/// whose cells are stamped with the window they count, so a new window needs no reset. A key's estimate is the
/// smallest of its cells; other keys can only add to a cell, so an estimate never falls below the key's true count.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="TryAcquire"/> admits a request while the key's estimate is below the limit, and updates conservatively
/// (only the cells holding the estimate move), which keeps over-counts far below a plain count-min's. A cell is a
/// 32-bit word (an 8-bit window stamp and a 24-bit count) updated by CAS; nothing locks or allocates.
/// </para>
/// <para>
/// Stamps repeat every 256 windows: a cell untouched for exactly a multiple of 256 windows is read as current. That
/// can only over-count (refuse early), never admit more.
/// </para>
/// </remarks>
internal sealed unsafe class WindowSketch
{
    /// <summary>The number of rows (independent hashes) per key.</summary>
    public const int Depth = 4;

    /// <summary>The largest count a cell holds.</summary>
    public const int MaxCount = (1 << 24) - 1;

    private const uint CountMask = MaxCount;
    private const int MaxAttempts = 128;

    // Per-process secrets for the row hashes, independent of the slot hash's.
    private static readonly ulong s_k0 = MultiplyFold.RandomKey();
    private static readonly ulong s_k1 = MultiplyFold.RandomKey();
    private static readonly ulong s_k2 = MultiplyFold.RandomKey();
    private static readonly ulong s_k3 = MultiplyFold.RandomKey();

    private readonly nint _cells;
    private readonly int _widthMask;
    private readonly int _widthBits;
    private readonly long _bytes;

    /// <param name="width">Cells per row, rounded up to a power of two (at least 64).</param>
    public WindowSketch(int width)
    {
        int cells = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(width, 64));
        _widthMask = cells - 1;
        _widthBits = BitOperations.Log2((uint)cells);
        Width = cells;
        _bytes = (long)cells * Depth * sizeof(uint);
        _cells = (nint)NativeMemory.AlignedAlloc((nuint)_bytes, 64);
        NativeMemory.Clear((void*)_cells, (nuint)_bytes);
        GC.AddMemoryPressure(_bytes);
    }

    /// <summary>Frees the cells once nothing can reach the sketch (as the entry table: never while a check may run).</summary>
    ~WindowSketch()
    {
        NativeMemory.AlignedFree((void*)_cells);
        GC.RemoveMemoryPressure(_bytes);
    }

    /// <summary>Gets the number of cells per row.</summary>
    public int Width { get; }

    /// <summary>Gets the bytes the sketch holds.</summary>
    public long Bytes => _bytes;

    /// <summary>
    /// Counts one request of the key in <paramref name="window"/> if its estimate is below <paramref name="limit"/>.
    /// <paramref name="count"/> is then the key's estimate including this request; when refused, the estimate.
    /// </summary>
    /// <remarks>
    /// A conservative update: only the cells that hold the estimate (the smallest) are raised, each by CAS from the
    /// value read; if any of them moved meanwhile the request reads again (cells it raised stay raised: an over-count).
    /// So of the requests that read one estimate, at most one raises every cell holding it, and only that one is
    /// admitted: however many threads race, a key is admitted at most <paramref name="limit"/> times per window.
    /// </remarks>
    public bool TryAcquire(ulong hash, long window, int limit, out int count, int amount = 1)
    {
        uint stamp = Stamp(window);
        Rows rows = RowsOf(hash);
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            uint s0 = Volatile.Read(ref Cell(0, rows.R0)), s1 = Volatile.Read(ref Cell(1, rows.R1));
            uint s2 = Volatile.Read(ref Cell(2, rows.R2)), s3 = Volatile.Read(ref Cell(3, rows.R3));
            int n0 = CountIn(s0, stamp), n1 = CountIn(s1, stamp), n2 = CountIn(s2, stamp), n3 = CountIn(s3, stamp);
            int estimate = Math.Min(Math.Min(n0, n1), Math.Min(n2, n3));
            if (estimate + amount > limit)
            {
                count = estimate;
                return false;
            }

            uint next = stamp | (uint)(estimate + amount);
            if (Raise(ref Cell(0, rows.R0), s0, n0 == estimate, next) && Raise(ref Cell(1, rows.R1), s1, n1 == estimate, next) &&
                Raise(ref Cell(2, rows.R2), s2, n2 == estimate, next) && Raise(ref Cell(3, rows.R3), s3, n3 == estimate, next))
            {
                count = estimate + amount;
                return true;
            }
        }

        count = limit;   // contended past every attempt: refused, never admitted
        return false;
    }

    /// <summary>Gets the key's estimate for <paramref name="window"/>: at least its true count, 0 when no cell has one.</summary>
    public int Estimate(ulong hash, long window)
    {
        uint stamp = Stamp(window);
        Rows rows = RowsOf(hash);
        int estimate = int.MaxValue;
        for (int row = 0; row < Depth; row++)
        {
            estimate = Math.Min(estimate, CountIn(Volatile.Read(ref Cell(row, rows[row])), stamp));
        }

        return estimate;
    }

    /// <summary>
    /// Adds <paramref name="amount"/> to the key's estimate for <paramref name="window"/>, up to <paramref name="cap"/>
    /// (a conservative update: every cell below the new estimate is raised to it).
    /// </summary>
    public void Add(ulong hash, long window, int amount, int cap)
    {
        uint stamp = Stamp(window);
        Rows rows = RowsOf(hash);
        int target = Math.Min(cap, Estimate(hash, window) + amount);
        for (int row = 0; row < Depth; row++)
        {
            ref uint cell = ref Cell(row, rows[row]);
            while (true)
            {
                uint seen = Volatile.Read(ref cell);
                if (CountIn(seen, stamp) >= target || Interlocked.CompareExchange(ref cell, stamp | (uint)target, seen) == seen)
                {
                    break;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CountIn(uint cell, uint stamp) => (cell & ~CountMask) == stamp ? (int)(cell & CountMask) : 0;

    /// <summary>CAS: a cell that holds the estimate goes to the next value; false when it moved since it was read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Raise(ref uint cell, uint seen, bool holdsEstimate, uint next) =>
        !holdsEstimate || Interlocked.CompareExchange(ref cell, next, seen) == seen;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Stamp(long window) => (uint)(byte)window << 24;

    /// <summary>The key's cell index in each row: four 32-bit slices of two keyed re-hashes of the key's hash.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Rows RowsOf(ulong hash)
    {
        ulong a = MultiplyFold.Fold(hash ^ s_k0, s_k1);
        ulong b = MultiplyFold.Fold(hash ^ s_k2, s_k3);
        return new Rows((int)((uint)a & (uint)_widthMask), (int)((uint)(a >> 32) & (uint)_widthMask), (int)((uint)b & (uint)_widthMask), (int)((uint)(b >> 32) & (uint)_widthMask));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref uint Cell(int row, int index) =>
        ref Unsafe.AsRef<uint>((void*)(_cells + ((((nint)row << _widthBits) + index) * sizeof(uint))));

    private readonly record struct Rows(int R0, int R1, int R2, int R3)
    {
        public int this[int row] => row switch { 0 => R0, 1 => R1, 2 => R2, _ => R3 };
    }
}
