namespace Floodgate.Persistence;

/// <summary>
/// The periodic checkpoint timer of every limiter on <see cref="TimeProvider.System"/>: one background thread that
/// sleeps until the next limiter is due and calls it there. A <see cref="System.Threading.Timer"/> would wake a
/// thread-pool worker instead, and an idle pool worker that is woken spins and yields before it sleeps again: on one
/// core, hundreds of context switches per tick. Limiters on other providers (tests' fake clocks) use the provider's timers.
/// </summary>
internal static class CheckpointScheduler
{
    private static readonly object s_lock = new();
    private static readonly AutoResetEvent s_changed = new(false);
    private static readonly List<Registration> s_registrations = [];
    private static Thread? s_thread;

    /// <summary>Calls <paramref name="callback"/> every <paramref name="interval"/> (on the scheduler's thread) until disposed.</summary>
    public static IDisposable Register(Action callback, TimeSpan interval)
    {
        var registration = new Registration(callback, interval, Environment.TickCount64 + (long)interval.TotalMilliseconds);
        lock (s_lock)
        {
            s_registrations.Add(registration);
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "Floodgate checkpoint timer" };
                s_thread.Start();
            }
        }

        s_changed.Set();
        return registration;
    }

    private static void Run()
    {
        var due = new List<Registration>();
        while (true)
        {
            long wait;
            lock (s_lock)
            {
                long now = Environment.TickCount64;
                long next = long.MaxValue;
                foreach (Registration registration in s_registrations)
                {
                    if (registration.DueAt <= now)
                    {
                        due.Add(registration);

                        // The next tick one interval on, or from now if the limiter is far behind (a suspended machine).
                        registration.DueAt = Math.Max(registration.DueAt + registration.IntervalMs, now);
                    }

                    next = Math.Min(next, registration.DueAt);
                }

                wait = next == long.MaxValue ? Timeout.Infinite : Math.Clamp(next - now, 0, int.MaxValue);
            }

            foreach (Registration registration in due)
            {
                registration.Fire();
            }

            due.Clear();
            s_changed.WaitOne((int)wait);
        }
    }

    private sealed class Registration(Action callback, TimeSpan interval, long dueAt) : IDisposable
    {
        private Action? _callback = callback;

        public long IntervalMs { get; } = Math.Max(1, (long)interval.TotalMilliseconds);

        public long DueAt { get; set; } = dueAt;   // guarded by s_lock

        public void Fire()
        {
            try
            {
                Volatile.Read(ref _callback)?.Invoke();   // null once disposed, from any thread
            }
#pragma warning disable CA1031 // One limiter's failure (no thread could be started) must not stop the others' checkpoints.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        public void Dispose()
        {
            Volatile.Write(ref _callback, null);
            lock (s_lock)
            {
                s_registrations.Remove(this);
            }
        }
    }
}
