namespace Floodgate.Internal;

/// <summary>
/// Milliseconds of a <see cref="TimeProvider"/> republished by a background thread about every millisecond, so
/// that a check reads a field instead of the clock (a clock read costs ~20 ns on a VM, more than the rest of
/// the check). The value only ever lags the provider, which is what keeps decisions correct: see
/// <see cref="MonotonicClock"/>.
/// </summary>
internal sealed class CoarseTimestamp
{
    private static readonly Lazy<CoarseTimestamp> s_system = new(() => new CoarseTimestamp(TimeProvider.System));
    private static int s_users;
    private static int s_running;

    private readonly TimeProvider _timeProvider;
    private readonly long _origin;
    private readonly long _ticksPerMs;   // 0 when the frequency is not a whole number of ticks per ms
    private readonly long _frequency;
    private long _ms;

    /// <summary>Creates a source whose value moves only when <see cref="Publish"/> is called (tests, and the system ticker).</summary>
    public CoarseTimestamp(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _frequency = timeProvider.TimestampFrequency;
        _ticksPerMs = _frequency % 1000 == 0 ? _frequency / 1000 : 0;
        _origin = timeProvider.GetTimestamp();
    }

    /// <summary>Gets the latest published time, in milliseconds since this source's origin.</summary>
    public long Milliseconds => Volatile.Read(ref _ms);

    /// <summary>Starts (or joins) the shared ticker of <see cref="TimeProvider.System"/>; pair with <see cref="ReleaseSystem"/>.</summary>
    public static CoarseTimestamp AcquireSystem()
    {
        CoarseTimestamp system = s_system.Value;
        Interlocked.Increment(ref s_users);
        system.Publish();
        if (Interlocked.CompareExchange(ref s_running, 1, 0) == 0)
        {
            new Thread(Tick) { IsBackground = true, Name = "Floodgate coarse clock" }.Start();
        }

        return system;
    }

    /// <summary>Leaves the shared ticker; its thread ends when no limiter uses it.</summary>
    public static void ReleaseSystem() => Interlocked.Decrement(ref s_users);

    /// <summary>Converts one of the provider's timestamps to this source's milliseconds (rounded down).</summary>
    public long ToMilliseconds(long timestamp)
    {
        // Subtract first: a difference of timestamps cannot overflow where their sum might.
        long elapsed = timestamp - _origin;
        return _ticksPerMs != 0 ? elapsed / _ticksPerMs : (long)((Int128)elapsed * 1000 / _frequency);
    }

    /// <summary>Publishes the provider's current time unless a later one is already published: the value never goes back.</summary>
    public void Publish()
    {
        long ms = ToMilliseconds(_timeProvider.GetTimestamp());
        long current = Volatile.Read(ref _ms);
        while (ms > current)
        {
            // CAS: the ticker and a starting limiter may publish at once; the later time wins.
            long seen = Interlocked.CompareExchange(ref _ms, ms, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private static void Tick()
    {
        CoarseTimestamp system = s_system.Value;
        while (true)
        {
            while (Volatile.Read(ref s_users) > 0)
            {
                system.Publish();
                Thread.Sleep(1);
            }

            Volatile.Write(ref s_running, 0);

            // A limiter may have arrived after the loop saw none and before the flag was cleared: if so, and no
            // other ticker started meanwhile, keep going.
            if (Volatile.Read(ref s_users) == 0 || Interlocked.CompareExchange(ref s_running, 1, 0) != 0)
            {
                return;
            }
        }
    }
}
