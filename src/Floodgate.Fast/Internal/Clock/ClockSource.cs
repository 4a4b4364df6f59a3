namespace Floodgate.Internal;

/// <summary>What a limiter on <see cref="TimeProvider.System"/> reads for "now" on the check path.</summary>
internal enum ClockSource
{
    /// <summary>The kernel's coarse clock where usable, else the parking ticker; the provider for short policies.</summary>
    Automatic,

    /// <summary><see cref="KernelCoarseClock"/> (falls back to <see cref="Ticker"/> where it is not usable).</summary>
    Kernel,

    /// <summary><see cref="ParkingTicker"/>.</summary>
    Ticker,

    /// <summary>The provider itself, on every check.</summary>
    Provider,

    /// <summary>
    /// The kernel path's arithmetic over a tick count the test controls, with a provider whose timestamps are
    /// nanoseconds (a fake): decisions on the production coarse clock, deterministic.
    /// </summary>
    KernelTicksForTests,
}
