using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Milliseconds of the limiter's own monotonic clock, from its <see cref="TimeProvider"/>. The clock starts at
/// <see cref="Epoch"/> (about 99 days) rather than 0, so that times before the limiter was created (recovered
/// from a checkpoint) are representable, and 0 can mean "never" in the packed words.
/// </summary>
/// <remarks>
/// Two readings. <see cref="StampMs"/> reads the provider: every time that is stored (a window's start, a
/// block's end, the last allowed request) is stamped exactly. <see cref="NowMs"/> reads a
/// <see cref="CoarseTimestamp"/> when there is one (always for <see cref="TimeProvider.System"/>), which lags
/// the provider by about a millisecond: it is used only to compare against stored times, and a clock that lags
/// can only make a window, block or cooldown end later, never earlier. Decisions therefore never allow more than
/// the policy does; a denial may last about a millisecond longer.
/// </remarks>
internal sealed class MonotonicClock : IDisposable
{
    /// <summary>The reading at creation: 2^33 ms, about 99 days.</summary>
    public const long Epoch = 1L << 33;

    private readonly CoarseTimestamp _source;
    private readonly long _originMs;
    private readonly bool _ownsSystemTicker;
    private CoarseTimestamp? _coarse;

    public MonotonicClock(TimeProvider timeProvider, CoarseTimestamp? coarse = null)
    {
        if (coarse is null && ReferenceEquals(timeProvider, TimeProvider.System))
        {
            coarse = CoarseTimestamp.AcquireSystem();
            _ownsSystemTicker = true;
        }

        // Stamps and coarse readings share one millisecond scale, so that a stamp is never behind a reading.
        _source = coarse ?? new CoarseTimestamp(timeProvider);
        _coarse = coarse;
        _originMs = _source.ToMilliseconds(timeProvider.GetTimestamp());
        TimeProvider = timeProvider;
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>The current time for comparisons: never ahead of the provider, possibly about 1 ms behind.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long NowMs()
    {
        CoarseTimestamp? coarse = _coarse;
        return coarse is null ? StampMs() : FromSource(coarse.Milliseconds);
    }

    /// <summary>The current time read from the provider, for times that are stored.</summary>
    public long StampMs() => FromSource(_source.ToMilliseconds(TimeProvider.GetTimestamp()));

    /// <summary>Converts a monotonic millisecond time to absolute UTC.</summary>
    public DateTimeOffset ToUtc(long ms) => TimeProvider.GetUtcNow().AddMilliseconds(ms - StampMs());

    /// <summary>Stops using the shared ticker; later readings go to the provider.</summary>
    public void Dispose()
    {
        if (_ownsSystemTicker && Interlocked.Exchange(ref _coarse, null) is not null)
        {
            CoarseTimestamp.ReleaseSystem();
        }
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
