using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Milliseconds since the limiter was created, from <see cref="TimeProvider.GetTimestamp"/>, starting at 1
/// so that 0 can mean "never" in the packed words.
/// </summary>
internal sealed class MonotonicClock
{
    private readonly TimeProvider _timeProvider;
    private readonly long _origin;
    private readonly long _ticksPerMs;   // 0 when the frequency is not a whole number of ticks per ms
    private readonly long _frequency;

    public MonotonicClock(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _frequency = timeProvider.TimestampFrequency;
        _ticksPerMs = _frequency % 1000 == 0 ? _frequency / 1000 : 0;
        _origin = timeProvider.GetTimestamp();
    }

    public TimeProvider TimeProvider => _timeProvider;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long NowMs()
    {
        // Subtract first: a difference of timestamps cannot overflow where their sum might.
        long elapsed = _timeProvider.GetTimestamp() - _origin;
        long ms = _ticksPerMs != 0 ? elapsed / _ticksPerMs : (long)((Int128)elapsed * 1000 / _frequency);

        // A provider that goes backwards (a misbehaving fake) must not produce "never" (0) or negative times.
        return ms < 0 ? 1 : ms + 1;
    }

    /// <summary>Converts a monotonic millisecond time to absolute UTC, relative to the current time.</summary>
    public DateTimeOffset ToUtc(long ms, long nowMs) => _timeProvider.GetUtcNow().AddMilliseconds(ms - nowMs);
}
