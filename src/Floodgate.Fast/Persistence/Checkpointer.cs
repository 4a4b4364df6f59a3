using System.Diagnostics;
using Floodgate.Internal;
using Microsoft.Extensions.Logging;

namespace Floodgate.Persistence;

/// <summary>
/// Keeps a limiter's state in its data directory: recovers it at startup, checkpoints it periodically, on
/// demand and on dispose. Owns the directory through a lock file for its whole life.
/// </summary>
/// <remarks>
/// A checkpoint copies the table (never blocking checks), writes it as a new FASTER store, then removes all
/// checkpoints but the new one and the previous good one. A failure is logged and counted; checks go on.
/// </remarks>
internal sealed class Checkpointer : IDisposable
{
    private const string LockFileName = "floodgate.lock";
    private const string JournalDirectoryName = "journal";

    private volatile LimiterEngine _engine;   // replaced when the policy changes (FloodgateLimiter.Reconfigure)
    private readonly CheckpointStore _store;
    private readonly FileStream _lock;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly IDisposable _timer;
    private readonly BanJournal? _journal;
    private long _sequence;
    private long _previousGood;
    private long _previousJournalMark = -1;   // the journal's end when the previous good checkpoint (the older one kept) began
    private int _lastCount;   // records in the last checkpoint: sizes the next one's FASTER memory
    private long _checkpointedChanges = -1;   // the engine's ChangeCount when the state on disk was taken
    private long _skipped;
    private long _busyTicks;
    private int _periodicRunning;   // 1 from a tick that starts a periodic checkpoint until that checkpoint has published its outcome
    private int _disposed;

    private Checkpointer(LimiterEngine engine, CheckpointStore store, FileStream fileLock, ILogger logger, TimeSpan interval, TimeSpan timeout, bool journal)
    {
        _engine = engine;
        _store = store;
        _lock = fileLock;
        _logger = logger;
        long checkpointUtcTicks = Recover();
        if (journal)
        {
            // After the checkpoint: the journal holds what happened since it was taken.
            _journal = BanJournal.Open(engine, Path.Combine(store.Directory, JournalDirectoryName), checkpointUtcTicks, logger, () => StartCheckpointThread(null, CancellationToken.None), timeout);
            if (_journal.Replayed > 0)
            {
                _checkpointedChanges = -1;   // replayed bans are news to the checkpoint on disk
            }

            engine.Journal = _journal;
        }

        _timer = ReferenceEquals(engine.Clock.TimeProvider, TimeProvider.System)
            ? CheckpointScheduler.Register(OnTimer, interval)
            : engine.Clock.TimeProvider.CreateTimer(static state => ((Checkpointer)state!).OnTimer(), this, interval, interval);
    }

    public string Directory => _store.Directory;

    /// <summary>Gets the ban journal, when bans are journaled.</summary>
    internal BanJournal? Journal => _journal;

    /// <summary>Points the checkpoints and the journal at the engine made for a changed policy over the same state.</summary>
    internal void Retarget(LimiterEngine engine)
    {
        _engine = engine;
        _journal?.Retarget(engine);
    }

    /// <summary>Gets when the last checkpoint was written (or recovered from); null before any.</summary>
    public DateTimeOffset? LastCheckpointAt { get; private set; }

    /// <summary>Gets how many periodic checkpoints were skipped because nothing had changed since the state on disk was taken (tests).</summary>
    internal long Skipped => Interlocked.Read(ref _skipped);   // incremented on timer and checkpoint threads

    /// <summary>Gets how many timer ticks found the previous periodic checkpoint still running, and so started none (tests).</summary>
    internal long BusyTicks => Interlocked.Read(ref _busyTicks);   // incremented on timer threads

    /// <summary>Runs on the checkpoint thread once it holds the gate, before anything is exported (tests hold a checkpoint there).</summary>
    internal Action? Writing { get; set; }

    /// <summary>Gets why the last checkpoint failed; null when it succeeded.</summary>
    public string? LastCheckpointError { get; private set; }

    /// <summary>Takes the directory, recovers the newest usable checkpoint into the engine, and starts the timer.</summary>
    /// <exception cref="InvalidOperationException">The directory cannot be created or written, or another limiter holds it.</exception>
    public static Checkpointer Open(LimiterEngine engine, string dataDirectory, TimeSpan interval, TimeSpan timeout, ILogger logger, bool journal = true)
    {
        string directory = Path.GetFullPath(dataDirectory);
        try
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidOperationException($"Floodgate cannot use the data directory '{directory}': {ex.Message}", ex);
        }

        FileStream fileLock;
        try
        {
            // FileShare.None is an exclusive advisory lock on Unix too: a second limiter, in this process or
            // another, fails here instead of corrupting the first one's checkpoints.
            fileLock = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new InvalidOperationException($"Floodgate cannot write to the data directory '{directory}': {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"The Floodgate data directory '{directory}' is in use by another limiter (in this or another process); each limiter needs its own. ({ex.Message})", ex);
        }

        try
        {
            return new Checkpointer(engine, new CheckpointStore(directory, logger, timeout), fileLock, logger, interval, timeout, journal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            fileLock.Dispose();
            throw new InvalidOperationException($"Floodgate cannot use the data directory '{directory}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Writes a checkpoint now (after any running one), on a thread of its own. A failure is logged, counted and thrown.
    /// </summary>
    public Task CheckpointAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        StartCheckpointThread(done, cancellationToken);
        return done.Task;
    }

    /// <summary>
    /// Runs a checkpoint on a new thread: it never takes, nor blocks, a thread-pool thread, which requests need (with
    /// <see cref="SynchronousFileDevice"/>, FASTER completes its writes on this thread too). Outcome in <paramref name="done"/>, if any.
    /// </summary>
    private void StartCheckpointThread(TaskCompletionSource? done, CancellationToken cancellationToken, bool periodic = false)
    {
        var thread = new Thread(() =>
        {
            try
            {
                Checkpoint(cancellationToken, periodic ? CheckpointKind.Periodic : CheckpointKind.Requested);
                done?.TrySetResult();
            }
            catch (OperationCanceledException ex)
            {
                done?.TrySetCanceled(ex.CancellationToken);
            }
#pragma warning disable CA1031 // Logged and counted by Checkpoint; handed to the caller that asked for it, if any.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                done?.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "Floodgate checkpoint",
        };
        thread.Start();
    }

    /// <summary>
    /// Writes a checkpoint on the calling thread, after any running one. A failure is logged, counted and thrown. A
    /// periodic one that finds nothing new once it holds the gate (a requested one wrote it meanwhile) writes nothing.
    /// </summary>
    private void Checkpoint(CancellationToken cancellationToken, CheckpointKind kind)
    {
        _gate.Wait(cancellationToken);   // periodic ones wait uncancellably; a throw here ends the limiter anyway
        bool periodic = kind == CheckpointKind.Periodic;   // set back to false once the next tick may start another

        if (kind != CheckpointKind.Final && Volatile.Read(ref _disposed) != 0)
        {
            // Disposed while this thread waited: the final checkpoint was (or is being) written, and the lock released.
            EndPeriodic(ref periodic);
            _gate.Release();
            throw new ObjectDisposedException(nameof(FloodgateLimiter));
        }

        if (periodic && IsIdle())
        {
            Interlocked.Increment(ref _skipped);
            EndPeriodic(ref periodic);
            _gate.Release();
            return;
        }

        long sequence = ++_sequence;
        try
        {
            Writing?.Invoke();
            var watch = Stopwatch.StartNew();
            long changes = _engine.ChangeCount;   // before the export: a change during it is written next time
            long journalMark = _journal?.Mark() ?? -1;   // the journal before this point is in the export
            DateTimeOffset utcNow = _engine.Clock.TimeProvider.GetUtcNow();
            long nowMs = _engine.Clock.StampMs();
            long written = _store.WriteAsync(
                sequence,
                sink =>
                {
                    _engine.ExportClients(sink, nowMs, utcNow.UtcTicks);
                    AddListEntries(sink, _engine.Allowlist, PersistedKind.Allowlist);
                    AddListEntries(sink, _engine.Denylist, PersistedKind.Denylist);
                },
                Math.Max(_lastCount, _engine.Table.CountLive()),
                _engine.Table,
                utcNow,
                cancellationToken).GetAwaiter().GetResult();   // completes on this thread: the devices are synchronous
            _lastCount = (int)Math.Min(int.MaxValue, written);
            _store.Prune(sequence, _previousGood);
            _previousGood = sequence;
            if (journalMark >= 0)
            {
                // Keep the journal back to the older of the two checkpoints kept: if this one is found damaged at the
                // next start, recovery falls back to that one and replays everything journaled since it.
                if (_previousJournalMark >= 0)
                {
                    _journal!.TruncateUntil(_previousJournalMark);
                }

                _previousJournalMark = journalMark;
            }
            _engine.Metrics.Increment(MetricIndex.Checkpoints);
            LastCheckpointAt = utcNow;
            LastCheckpointError = null;

            // After the outcome above: a tick that finds nothing new from here on finds it on disk, and observers too.
            Volatile.Write(ref _checkpointedChanges, changes);   // read by the timer's thread, outside the gate
            EndPeriodic(ref periodic);
            Log.CheckpointWritten(_logger, sequence, _lastCount, Directory, watch.ElapsedMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _engine.Metrics.Increment(MetricIndex.CheckpointFailures);
            LastCheckpointError = ex.Message;
            EndPeriodic(ref periodic);
            Log.CheckpointFailed(_logger, sequence, Directory, ex.Message, ex);
            throw;
        }
        finally
        {
            EndPeriodic(ref periodic);   // a cancellation or an unexpected exception; otherwise already ended above
            _gate.Release();
        }
    }

    /// <summary>Lets the next tick start a periodic checkpoint: called once this one's outcome is published.</summary>
    private void EndPeriodic(ref bool periodic)
    {
        if (periodic)
        {
            periodic = false;   // once only: a second write could end the next tick's checkpoint too
            Volatile.Write(ref _periodicRunning, 0);
        }
    }

    /// <summary>Nothing to write: no decision and no operator change since the state on disk was taken, and no failure to retry.</summary>
    private bool IsIdle() => LastCheckpointError is null && _engine.ChangeCount == Volatile.Read(ref _checkpointedChanges);

    /// <summary>Releases the directory without a final checkpoint, as a process that dies does (crash tests).</summary>
    public void Abandon()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _timer.Dispose();
            _journal?.Abandon();
            _engine.Journal = null;
            _lock.Dispose();
        }
    }

    /// <summary>Stops the timer, takes a final checkpoint and releases the directory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _timer.Dispose();
        try
        {
            Checkpoint(CancellationToken.None, CheckpointKind.Final);
        }
#pragma warning disable CA1031 // Logged and counted by Checkpoint; disposing must still release the directory.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            _engine.Journal = null;
            _journal?.Dispose();   // after the final checkpoint: writes what it still holds, kept back to the checkpoint before it
            _lock.Dispose();
            _gate.Dispose();
        }
    }

    private static void AddListEntries(IRecordSink sink, AccessList list, PersistedKind kind)
    {
        foreach ((IpKey key, int bits) in list.CanonicalEntries)
        {
            var record = new PersistedKey { High = key.High, Low = key.Low, Kind = (int)kind, Bits = bits };
            sink.Add(in record, default);
        }
    }

    /// <summary>Loads the newest usable checkpoint; returns when it was taken (UTC ticks), 0 when there was none.</summary>
    private long Recover()
    {
        try
        {
            return RecoverRecords();
        }
        finally
        {
            // The table now holds what is on disk (or nothing, as an empty directory does): nothing to write yet.
            _checkpointedChanges = _engine.ChangeCount;
        }
    }

    private long RecoverRecords()
    {
        var watch = Stopwatch.StartNew();
        List<long> existing = _store.ListSequences();
        _sequence = existing.Count > 0 ? existing[0] : 0;
        _previousGood = -1;
        List<(PersistedKey Key, PersistedEntry Entry)>? records = _store.Recover(out long sequence, out int damaged);
        if (records is null)
        {
            if (damaged > 0)
            {
                Log.NoUsableCheckpoint(_logger, damaged, Directory);
            }

            return 0;
        }

        _previousGood = sequence;
        _lastCount = records.Count;
        long nowMs = _engine.Clock.StampMs();
        long utcNowTicks = _engine.Clock.TimeProvider.GetUtcNow().UtcTicks;
        int clients = 0;
        int listEntries = 0;
        int dropped = 0;

        // Blocked and blacklisted clients first: if the table is smaller than before, they are the ones to keep.
        records.Sort(static (a, b) => (b.Entry.BlockFlags != 0 || b.Entry.BlockUntilUtc != 0).CompareTo(a.Entry.BlockFlags != 0 || a.Entry.BlockUntilUtc != 0));
        foreach ((PersistedKey key, PersistedEntry entry) in records)
        {
            switch ((PersistedKind)key.Kind)
            {
                case PersistedKind.Client when _engine.Restore(in key, in entry, nowMs, utcNowTicks):
                    clients++;
                    break;
                case PersistedKind.Client:
                    dropped++;
                    break;
                case PersistedKind.Allowlist:
                    _engine.Allowlist.AddCanonical(new IpKey(key.High, key.Low), key.Bits);
                    listEntries++;
                    break;
                case PersistedKind.Denylist:
                    _engine.Denylist.AddCanonical(new IpKey(key.High, key.Low), key.Bits);
                    listEntries++;
                    break;
            }
        }

        if (dropped > 0)
        {
            Log.RestoreDropped(_logger, dropped, _engine.Table.Capacity);
        }

        Log.Recovered(_logger, clients, listEntries, sequence, Directory, watch.ElapsedMilliseconds);
        return _store.RecoveredCreatedUtcTicks;
    }

    private void OnTimer()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        // One periodic checkpoint at a time: a tick while the last one still runs (a slow disk, a loaded machine)
        // starts none, or it would queue behind the gate and write the same state again. Such a tick is busy, not
        // idle: what changed meanwhile is seen by the first tick after the running checkpoint has ended.
        // CompareExchange: timer callbacks may overlap; the checkpoint thread sets it back to 0 (EndPeriodic).
        if (Interlocked.CompareExchange(ref _periodicRunning, 1, 0) != 0)
        {
            Interlocked.Increment(ref _busyTicks);
            return;
        }

        // An idle limiter writes nothing: the same records again. A failed checkpoint is retried whatever happened since.
        if (IsIdle())
        {
            Interlocked.Increment(ref _skipped);
            Volatile.Write(ref _periodicRunning, 0);
            return;
        }

        try
        {
            StartCheckpointThread(null, CancellationToken.None, periodic: true);   // a failure is logged and counted
        }
        catch
        {
            Volatile.Write(ref _periodicRunning, 0);   // no thread (out of memory): the next tick tries again
            throw;
        }
    }

    private enum CheckpointKind
    {
        /// <summary>From the timer: skipped when nothing is new.</summary>
        Periodic,

        /// <summary>Asked for (<see cref="CheckpointAsync"/>, a full ban journal): always written.</summary>
        Requested,

        /// <summary>On dispose, on the disposing thread.</summary>
        Final,
    }
}
