using System.Runtime.CompilerServices;

namespace Floodgate.Internal;

/// <summary>
/// Milliseconds of a <see cref="TimeProvider"/>, published so that a check reads a field instead of the clock.
/// Tests publish it by hand (<see cref="Publish"/>); for <see cref="TimeProvider.System"/> on platforms without a
/// usable kernel coarse clock, <see cref="ParkingTicker"/> publishes it about every millisecond while checks
/// arrive and parks when they stop. The value only ever lags the provider: see <see cref="MonotonicClock"/>.
/// </summary>
/// <remarks>
/// The published word:
/// <code>
///  63                                              2    1        0
/// [ milliseconds since this source's origin : 62    | parked | probe ]
/// </code>
/// <c>probe</c> is set by the ticker at the start of each lease and cleared by the first check that sees it: a
/// lease that ends with it still set saw no check, and the ticker parks. <c>parked</c> means nobody is publishing:
/// the value may be arbitrarily old, so a check that sees it reads the provider itself and wakes the ticker. A
/// source that no ticker drives (tests) never has either flag.
/// </remarks>
internal sealed class CoarseTimestamp
{
    public const long ProbeFlag = 1;
    public const long ParkedFlag = 2;
    private const long FlagMask = ProbeFlag | ParkedFlag;
    private const int Shift = 2;

    private readonly TimeProvider _timeProvider;
    private readonly long _origin;
    private readonly long _ticksPerMs;   // 0 when the frequency is not a whole number of ticks per ms
    private readonly long _frequency;
    private long _word;

    /// <summary>Creates a source whose value moves only when <see cref="Publish"/> is called (tests, and the ticker).</summary>
    public CoarseTimestamp(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _frequency = timeProvider.TimestampFrequency;
        _ticksPerMs = _frequency % 1000 == 0 ? _frequency / 1000 : 0;
        _origin = timeProvider.GetTimestamp();
    }

    /// <summary>Gets the provider's timestamp at this source's origin (its millisecond 0).</summary>
    public long Origin => _origin;

    /// <summary>Gets the latest published time, in milliseconds since this source's origin, whatever the flags.</summary>
    public long Milliseconds => Volatile.Read(ref _word) >> Shift;   // one word: time and flags are read together

    /// <summary>Gets the published word (time and flags), for the ticker.</summary>
    internal long Word => Volatile.Read(ref _word);   // the ticker CASes what it read

    /// <summary>Raised (on the reading thread) when a check finds the source parked and unparks it.</summary>
    internal Action? Unparked { get; set; }

    /// <summary>
    /// The current time for comparisons, in this source's milliseconds: the published value, or, when nobody is
    /// publishing, the provider's (and the ticker is woken).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Read()
    {
        // One read of one word: the time and whether it can be trusted (no flag) come together.
        long word = Volatile.Read(ref _word);
        return (word & FlagMask) == 0 ? word >> Shift : ReadFlagged(word);
    }

    /// <summary>Converts one of the provider's timestamps to this source's milliseconds (rounded down).</summary>
    public long ToMilliseconds(long timestamp)
    {
        // Subtract first: a difference of timestamps cannot overflow where their sum might.
        long elapsed = timestamp - _origin;
        return _ticksPerMs != 0 ? elapsed / _ticksPerMs : (long)((Int128)elapsed * 1000 / _frequency);
    }

    /// <summary>Publishes the provider's current time unless a later one is already published: the value never goes back. Flags are kept.</summary>
    public void Publish()
    {
        long ms = ToMilliseconds(_timeProvider.GetTimestamp());
        long current = Volatile.Read(ref _word);
        while (ms > current >> Shift)
        {
            // CAS: the ticker and reading threads may publish at once; the later time wins, the flags stay.
            long seen = Interlocked.CompareExchange(ref _word, (ms << Shift) | (current & FlagMask), current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Replaces the flags of <paramref name="expected"/> if the word is still it; false when it changed.</summary>
    internal bool TrySetFlags(long expected, long flags) =>
        // CAS: a check clearing the probe, or a newer time, wins over the ticker's flag change; the ticker re-reads.
        Interlocked.CompareExchange(ref _word, (expected & ~FlagMask) | flags, expected) == expected;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private long ReadFlagged(long word)
    {
        if ((word & ParkedFlag) == 0)
        {
            // The ticker asks whether checks still arrive: answer once per lease (one write, not one per check).
            // A lost CAS means the ticker published meanwhile; the next check answers.
            TrySetFlags(word, 0);
            return word >> Shift;
        }

        // Nobody publishes: the published value may be minutes old. Read the provider (never ahead of itself),
        // publish it, and wake the ticker; of several threads that find it parked, the one whose CAS unparks wakes it.
        long ms = ToMilliseconds(_timeProvider.GetTimestamp());
        while ((word & ParkedFlag) != 0)
        {
            long next = Math.Max(ms, word >> Shift) << Shift;
            long seen = Interlocked.CompareExchange(ref _word, next, word);
            if (seen == word)
            {
                Unparked?.Invoke();
                break;
            }

            word = seen;
        }

        return ms;
    }
}
