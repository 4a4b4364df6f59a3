namespace Floodgate.Redis.Internal;

/// <summary>
/// Counts consecutive failed round trips; past the threshold it opens, and checks stop waiting on Redis. While
/// open, a background loop probes Redis every probe interval (checks never wait on a probe); the first probe that
/// succeeds closes it.
/// </summary>
internal sealed class CircuitBreaker
{
    private readonly int _threshold;
    private int _failures;
    private int _open;   // 0 closed, 1 open

    public CircuitBreaker(int threshold)
    {
        _threshold = threshold;
    }

    public bool IsOpen => Volatile.Read(ref _open) != 0;

    public int Failures => Volatile.Read(ref _failures);

    /// <summary>A round trip answered.</summary>
    public void Success()
    {
        // Read first: the common case writes nothing, so instances' cores do not contend on this line.
        if (Volatile.Read(ref _failures) != 0)
        {
            Volatile.Write(ref _failures, 0);
        }
    }

    /// <summary>A round trip failed or timed out; true for the one caller whose failure opened the breaker.</summary>
    public bool Failure()
    {
        // Interlocked: concurrent checks fail together when Redis goes away; each failure counts once.
        return Interlocked.Increment(ref _failures) >= _threshold && Interlocked.CompareExchange(ref _open, 1, 0) == 0;
    }

    /// <summary>A probe succeeded; true when this closed the breaker.</summary>
    public bool Close()
    {
        Volatile.Write(ref _failures, 0);

        // Interlocked: only one closer logs and counts the change.
        return Interlocked.CompareExchange(ref _open, 0, 1) == 1;
    }
}
