using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// The kernel's coarse clock, read through <see cref="Environment.TickCount64"/>: on Linux that is
/// <c>CLOCK_MONOTONIC_COARSE</c>, the clock <see cref="Stopwatch"/> reads (<c>CLOCK_MONOTONIC</c>, in ns) as it stood
/// at the last kernel tick. A read costs a few nanoseconds from the vDSO page, with no thread of ours ticking, so
/// an idle app wakes nothing; the price is a lag of up to one kernel tick (1 to 10 ms with <c>CONFIG_HZ</c>).
/// </summary>
internal static class KernelCoarseClock
{
    /// <summary>Subtracted on top of the rounding, so that no sub-millisecond disagreement can put a reading ahead.</summary>
    public const long SafetyMs = 1;

    private const long NsPerMs = 1_000_000;
    private const long MaxLagNs = 1_000 * NsPerMs;

    /// <summary>Gets a value indicating whether the coarse clock is the stopwatch's clock, coarser (Linux only).</summary>
    public static bool IsUsable { get; } = Probe();

    /// <summary>Reads the coarse clock, in milliseconds.</summary>
    /// <remarks>
    /// Not inlined: the tick count is a native call, and a native call inlined into the check would make every
    /// check set up a call frame in its prologue, whichever clock it reads.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static long Read() => Environment.TickCount64;

    /// <summary>
    /// The milliseconds to add to <see cref="Environment.TickCount64"/> so that the sum never exceeds the
    /// milliseconds since <paramref name="originTimestamp"/> (a <see cref="Stopwatch"/> timestamp) at the same moment.
    /// </summary>
    /// <remarks>
    /// A tick count is floor(c / 1 ms) for a coarse reading c, and c ≤ f for the fine reading f at the same moment,
    /// so floor(c / 1 ms) - ceil(origin / 1 ms) ≤ floor((f - origin) / 1 ms): the stamp's own rounding.
    /// </remarks>
    public static long Bias(long originTimestamp) => -((originTimestamp + NsPerMs - 1) / NsPerMs) - SafetyMs;

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || Stopwatch.Frequency != 1_000_000_000)
        {
            return false;
        }

        for (int i = 0; i < 3; i++)
        {
            long before = Stopwatch.GetTimestamp();
            long coarse = Environment.TickCount64 * NsPerMs;
            long after = Stopwatch.GetTimestamp();

            // The same clock, coarser: never past the fine reading after it, and not far behind the one before it.
            if (coarse > after || coarse < before - MaxLagNs)
            {
                return false;
            }
        }

        return true;
    }
}
