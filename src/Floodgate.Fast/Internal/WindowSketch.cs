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
/// <see cref="TryAcquire"/> admits a request only if every row's cell is still below the limit, and adds one to each
/// cell as it passes: every admitted request of a key raised each of its cells by one and no cell exceeds the limit,
/// so no key is ever admitted more than the limit in a window, however many threads race. A cell is a 32-bit word
/// (an 8-bit window stamp and a 24-bit count) updated by CAS; nothing locks or allocates.
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
    /// Counts one request of the key in <paramref name="window"/> if every one of its cells is below
    /// <paramref name="limit"/>. <paramref name="count"/> is then the key's estimate including this request; when
    /// refused, it is the limit. A refused request may have been added to some cells (an over-count, never above the limit).
    /// </summary>
    public bool TryAcquire(ulong hash, long window, int limit, out int count)
    {
        uint stamp = Stamp(window);
        count = int.MaxValue;
        for (int row = 0; row < Depth; row++)
        {
            ref uint cell = ref Cell(row, hash);
            while (true)
            {
                uint seen = Volatile.Read(ref cell);
                int current = (seen & ~CountMask) == stamp ? (int)(seen & CountMask) : 0;
                if (current >= limit)
                {
                    count = limit;
                    return false;
                }

                // CAS: +1 in this window (or the first count of a new one); fails only if another request changed the cell.
                if (Interlocked.CompareExchange(ref cell, stamp | (uint)(current + 1), seen) == seen)
                {
                    count = Math.Min(count, current + 1);
                    break;
                }
            }
        }

        return true;
    }

    /// <summary>Gets the key's estimate for <paramref name="window"/>: at least its true count, 0 when no cell has one.</summary>
    public int Estimate(ulong hash, long window)
    {
        uint stamp = Stamp(window);
        int estimate = int.MaxValue;
        for (int row = 0; row < Depth; row++)
        {
            uint seen = Volatile.Read(ref Cell(row, hash));
            estimate = Math.Min(estimate, (seen & ~CountMask) == stamp ? (int)(seen & CountMask) : 0);
        }

        return estimate;
    }

    /// <summary>Adds <paramref name="amount"/> to each of the key's cells for <paramref name="window"/>, each capped at <paramref name="cap"/>.</summary>
    public void Add(ulong hash, long window, int amount, int cap)
    {
        uint stamp = Stamp(window);
        for (int row = 0; row < Depth; row++)
        {
            ref uint cell = ref Cell(row, hash);
            while (true)
            {
                uint seen = Volatile.Read(ref cell);
                int current = (seen & ~CountMask) == stamp ? (int)(seen & CountMask) : 0;
                int updated = Math.Min(Math.Max(current, cap), current + amount);
                if (updated == current || Interlocked.CompareExchange(ref cell, stamp | (uint)updated, seen) == seen)
                {
                    break;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Stamp(long window) => (uint)(byte)window << 24;

    /// <summary>The key's cell in a row: rows use disjoint 16-bit-or-more slices of two keyed re-hashes of the key's hash.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref uint Cell(int row, ulong hash)
    {
        ulong mixed = row < 2 ? MultiplyFold.Fold(hash ^ s_k0, s_k1) : MultiplyFold.Fold(hash ^ s_k2, s_k3);
        int index = (int)((row & 1) == 0 ? (uint)mixed : (uint)(mixed >> 32)) & _widthMask;
        return ref Unsafe.AsRef<uint>((void*)(_cells + ((((nint)row << _widthBits) + index) * sizeof(uint))));
    }
}
