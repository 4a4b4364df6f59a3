namespace Floodgate.Redis.Internal;

/// <summary>
/// At most one line per interval for a warning that repeats while a fault lasts (Redis down: every check, every ban
/// sync): the first at once, then one per interval saying how many were left out. Lock-free.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    private readonly long _intervalTicks = (long)(interval.TotalSeconds * time.TimestampFrequency);
    private long _next = long.MinValue;
    private int _suppressed;

    /// <summary>True when this occurrence is to be logged, with how many were left out since the last logged one.</summary>
    public bool ShouldLog(out int suppressed)
    {
        long now = time.GetTimestamp();
        long next = Volatile.Read(ref _next);
        if (now >= next && Interlocked.CompareExchange(ref _next, now + _intervalTicks, next) == next)
        {
            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }

        Interlocked.Increment(ref _suppressed);
        suppressed = 0;
        return false;
    }

    /// <summary>The first line of an exception's message: some clients' messages run over many lines.</summary>
    public static string FirstLine(string message)
    {
        int end = message.AsSpan().IndexOfAny('\r', '\n');
        return end < 0 ? message : message[..end];
    }
}
