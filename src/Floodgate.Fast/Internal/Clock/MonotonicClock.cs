using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Milliseconds of the limiter's own monotonic clock, from its <see cref="TimeProvider"/>. The clock starts at
/// <see cref="Epoch"/> (about 99 days) rather than 0, so that times before the limiter was created (recovered
/// from a checkpoint) are representable, and 0 can mean "never" in the packed words.
/// </summary>
/// <remarks>
/// Two readings. <see cref="StampMs"/> reads the provider: every time that is stored (a window's start, a
/// block's end, the last allowed request) is stamped exactly. <see cref="NowMs"/> is used only to compare against
/// stored times, and for <see cref="TimeProvider.System"/> reads a cheaper clock that may lag the provider but is
/// never ahead of it: the kernel's coarse clock (<see cref="KernelCoarseClock"/>, Linux; a lag of up to a kernel
/// tick plus 3 ms, and a late tick interrupt), else a value published by <see cref="ParkingTicker"/> (about 1 ms). A clock that lags can
/// only make a window, block or cooldown end later, never earlier: decisions never allow more than the policy
/// does. Policies with a duration under <see cref="PreciseBelow"/> read the provider on every check, so that the
/// lag stays a small fraction of every duration.
/// </remarks>
internal sealed class MonotonicClock
{
    /// <summary>The reading at creation: 2^33 ms, about 99 days.</summary>
    public const long Epoch = 1L << 33;

    /// <summary>The <c>AppContext</c> switch that picks the check path's clock: <c>kernel</c>, <c>ticker</c> or <c>precise</c>.</summary>
    public const string SwitchName = "Floodgate.Clock";

    /// <summary>Policies with a window, cooldown or block shorter than this read the provider on every check.</summary>
    public static readonly TimeSpan PreciseBelow = TimeSpan.FromMilliseconds(250);

    private readonly CoarseTimestamp _source;
    private readonly long _originMs;
    private readonly ClockSource _reading;   // Kernel, Ticker (the coarse source) or Provider
    private readonly long _kernelBias;   // NowMs = TickCount64 + _kernelBias (kernel mode)
    private readonly Func<long>? _kernelTicks;   // tests: the tick count to read instead of the kernel's

    /// <param name="timeProvider">The provider.</param>
    /// <param name="coarse">A source to read instead of the provider (tests lag it on purpose); null: chosen here.</param>
    /// <param name="source">What to read for <see cref="TimeProvider.System"/>.</param>
    /// <param name="shortestDuration">The policy's shortest duration; under <see cref="PreciseBelow"/>, the provider is read.</param>
    /// <param name="kernelTicks">Tests: a tick count to read through the kernel clock's arithmetic (nanosecond timestamps only).</param>
    public MonotonicClock(TimeProvider timeProvider, CoarseTimestamp? coarse = null, ClockSource source = ClockSource.Automatic, TimeSpan? shortestDuration = null, Func<long>? kernelTicks = null)
    {
        if (kernelTicks is not null && timeProvider.TimestampFrequency != 1_000_000_000)
        {
            throw new ArgumentException($"A tick count for the kernel clock's arithmetic needs nanosecond timestamps; the provider's frequency is {timeProvider.TimestampFrequency}.", nameof(kernelTicks));
        }

        ClockSource reading = kernelTicks is not null ? ClockSource.KernelTicksForTests
            : coarse is not null ? ClockSource.Ticker
            : !ReferenceEquals(timeProvider, TimeProvider.System) ? ClockSource.Provider
            : Resolve(source, shortestDuration) switch
            {
                ClockSource.Kernel when KernelCoarseClock.IsUsable => ClockSource.Kernel,
                ClockSource.Kernel or ClockSource.Ticker => ClockSource.Ticker,
                _ => ClockSource.Provider,
            };
        if (coarse is null && reading == ClockSource.Ticker)
        {
            coarse = ParkingTicker.System;
        }

        // Stamps and coarse readings share one millisecond scale, so that a stamp is never behind a reading.
        _source = coarse ?? new CoarseTimestamp(timeProvider);
        _reading = reading;
        _originMs = _source.ToMilliseconds(timeProvider.GetTimestamp());
        _kernelBias = reading is ClockSource.Kernel or ClockSource.KernelTicksForTests ? KernelCoarseClock.Bias(_source.Origin) - _originMs + Epoch : 0;
        _kernelTicks = kernelTicks;
        TimeProvider = timeProvider;
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>Gets what <see cref="NowMs"/> reads (tests and diagnostics).</summary>
    public ClockSource Reading => _reading;

    /// <summary>Gets a value indicating whether <see cref="NowMs"/> reads the provider, so that it is also a stamp.</summary>
    public bool NowIsStamp => _reading == ClockSource.Provider;

    /// <summary>The current time for comparisons: never ahead of the provider, possibly a few ms behind.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long NowMs()
    {
        ClockSource reading = _reading;
        if (reading == ClockSource.Kernel)
        {
            // The bias puts the coarse clock on the stamps' scale, rounded so that it is never ahead of them.
            return KernelCoarseClock.Read() + _kernelBias;
        }

        // Tests' tick count goes through the same bias as the kernel's, on a branch of its own: the kernel branch above
        // stays one read and one add.
        return reading == ClockSource.Ticker ? FromSource(_source.Read())
            : reading == ClockSource.KernelTicksForTests ? _kernelTicks!() + _kernelBias
            : StampMs();
    }

    /// <summary>The current time read from the provider, for times that are stored.</summary>
    public long StampMs() => FromSource(_source.ToMilliseconds(TimeProvider.GetTimestamp()));

    /// <summary>Converts a monotonic millisecond time to absolute UTC.</summary>
    public DateTimeOffset ToUtc(long ms) => TimeProvider.GetUtcNow().AddMilliseconds(ms - StampMs());

    private static ClockSource Resolve(ClockSource requested, TimeSpan? shortestDuration)
    {
        if (requested != ClockSource.Automatic)
        {
            return requested;
        }

        if (shortestDuration < PreciseBelow)
        {
            return ClockSource.Provider;
        }

        object? value = AppContext.GetData(SwitchName);
        return (value as string)?.Trim().ToUpperInvariant() switch
        {
            null when value is null => ClockSource.Kernel,
            "" or "KERNEL" => ClockSource.Kernel,
            "TICKER" => ClockSource.Ticker,
            "PRECISE" => ClockSource.Provider,
            _ => throw new InvalidOperationException(
                $"The AppContext switch {SwitchName} must be 'kernel', 'ticker' or 'precise'; got '{value}'."),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long FromSource(long sourceMs)
    {
        // A provider going back further than the epoch (a misbehaving fake) reads as the earliest time, never
        // as "never" (0) or negative.
        long ms = sourceMs - _originMs + Epoch;
        return ms < 1 ? 1 : ms;
    }
}
