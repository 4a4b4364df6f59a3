using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Gives each thread its own row of counters (shared by all limiters), so that counting a decision is a plain
/// increment: a locked increment costs ~5 ns even when uncontended, as much as the rest of a check.
/// </summary>
/// <remarks>
/// A row is owned by one live thread at a time, so its counters have a single writer and need no atomic
/// operation. When every row is taken, a row whose owner has died is reclaimed (its counts stay: the new owner
/// adds to them). A thread that finds no row uses the shared row 0, incremented atomically.
/// </remarks>
internal static class CounterRows
{
    /// <summary>Rows per limiter, row 0 being the shared one.</summary>
    public const int Count = 256;

    private static readonly Thread?[] s_owners = new Thread?[Count];

    // 0: not assigned yet; above 0: this thread's own row; -1: the shared row.
    [ThreadStatic]
    private static int t_row;

    /// <summary>Gets this thread's row: its own (1..Count-1), or 0 for the shared, atomic row.</summary>
    public static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int row = t_row;
            return row > 0 ? row : (row < 0 ? 0 : Assign());
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Assign()
    {
        Thread current = Thread.CurrentThread;
        for (int pass = 0; pass < 2; pass++)
        {
            for (int row = 1; row < Count; row++)
            {
                Thread? owner = Volatile.Read(ref s_owners[row]);

                // First pass: free rows; second pass: rows of threads that have died.
                bool free = pass == 0 ? owner is null : owner is { IsAlive: false };
                if (free && Interlocked.CompareExchange(ref s_owners[row], current, owner) == owner)
                {
                    t_row = row;
                    return row;
                }
            }
        }

        t_row = -1;
        return 0;
    }
}
