namespace Floodgate.Internal;

/// <summary>
/// Publishes <see cref="TimeProvider.System"/>'s time to one shared <see cref="CoarseTimestamp"/> about every
/// millisecond while checks read it, and parks (no thread wakes at all) once a lease of about 50 ms passes
/// without a check. The check that finds it parked reads the provider itself and wakes it. Used where the kernel
/// has no coarse clock that <see cref="KernelCoarseClock"/> can use, or when the <c>Floodgate.Clock</c> switch asks for it.
/// </summary>
internal static class ParkingTicker
{
    /// <summary>Ticks in a lease: the ticker parks after a whole lease without a check.</summary>
    public const int LeaseTicks = 50;

    private static readonly SemaphoreSlim s_wake = new(0);
    private static readonly Lazy<CoarseTimestamp> s_system = new(Start);
    private static long s_parks;

    /// <summary>Gets the shared source, starting the ticker on first use.</summary>
    public static CoarseTimestamp System => s_system.Value;

    /// <summary>Gets how many times the ticker has parked (tests).</summary>
    internal static long Parks => Interlocked.Read(ref s_parks);   // written by the ticker thread

    private static CoarseTimestamp Start()
    {
        var source = new CoarseTimestamp(TimeProvider.System) { Unparked = static () => s_wake.Release() };
        source.Publish();
        new Thread(() => Run(source)) { IsBackground = true, Name = "Floodgate coarse clock" }.Start();
        return source;
    }

    private static void Run(CoarseTimestamp source)
    {
        while (true)
        {
            SetFlags(source, CoarseTimestamp.ProbeFlag);
            for (int tick = 0; tick < LeaseTicks; tick++)
            {
                Thread.Sleep(1);
                source.Publish();
            }

            if (TryPark(source))
            {
                Interlocked.Increment(ref s_parks);   // read by tests on other threads

                // The check that unparks the source releases the semaphore once; if it did so before this wait,
                // the wait returns at once.
                s_wake.Wait();
            }
        }
    }

    /// <summary>Parks if no check cleared the probe during the lease; false when one did (or clears it now).</summary>
    private static bool TryPark(CoarseTimestamp source)
    {
        while (true)
        {
            long word = source.Word;
            if ((word & CoarseTimestamp.ProbeFlag) == 0)
            {
                return false;
            }

            if (source.TrySetFlags(word, CoarseTimestamp.ParkedFlag))
            {
                return true;
            }
        }
    }

    private static void SetFlags(CoarseTimestamp source, long flags)
    {
        while (!source.TrySetFlags(source.Word, flags))
        {
            // A check cleared the probe or a time was published between the read and the CAS: read again.
        }
    }
}
