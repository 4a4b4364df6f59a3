using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FASTER.core;
using Floodgate.Internal;
using Microsoft.Extensions.Logging;

namespace Floodgate.Persistence;

/// <summary>
/// Makes bans durable between checkpoints: every block, punishment, blacklisting and lift is noted by the check
/// path in a preallocated queue (no lock, no allocation, no I/O), and a background thread writes the client's state
/// at that moment to an append-only FasterLog and commits it, within <see cref="CommitDelay"/> plus one write.
/// </summary>
/// <remarks>
/// Recovery is the last checkpoint plus the journal records written since it was taken, replayed in order (a record
/// holds a client's whole state, so replaying one that the checkpoint already has changes nothing). Each checkpoint
/// truncates the journal to where it stood when the checkpoint began, so the journal holds at most one checkpoint
/// interval of bans. A torn or damaged tail is skipped (each record carries a checksum); a journal that cannot be
/// read at all is set aside and a new one started, never failing startup.
/// </remarks>
internal sealed class BanJournal : IDisposable
{
    /// <summary>How long the writer gathers notes before it writes and commits them.</summary>
    public static readonly TimeSpan CommitDelay = TimeSpan.FromMilliseconds(200);

    private const int QueueCapacity = 1 << 14;
    private const int PageBits = 16;       // 64 KiB pages: about 700 records each
    private const int MemoryBits = 18;     // 4 pages in memory
    private const int SegmentBits = 22;    // 4 MiB files: truncation frees whole segments
    private const long FirstAddress = 64;  // where FasterLog's first record goes: a tail there means an empty log
    private const uint Magic = 0x4A424746; // "FGBJ"
    private static readonly int EntrySize = System.Runtime.CompilerServices.Unsafe.SizeOf<PersistedEntry>();
    private static readonly int RecordSize = 4 + 4 + 16 + 8 + EntrySize + 8;   // magic, flags, key, written at, entry, checksum

    private volatile LimiterEngine _engine;   // replaced when the policy changes
    private readonly ILogger _logger;
    private readonly string _directory;
    private readonly KeyQueue _queue = new(QueueCapacity);
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Action _requestCheckpoint;
    private readonly TimeSpan _commitTimeout;
    private readonly Thread _writer;
    private readonly Lock _logGate = new();   // the writer and checkpoint truncation; never the check path
    private FasterLog _log;
    private IDevice _device;
    private DeviceLogCommitCheckpointManager _commits;
    private int _pending;
    private int _overflowed;
    private int _stopping;       // 1: drain and stop; 2: stop at once (a simulated crash)
    private long _truncateTo = -1;
    private long _written;
    private string? _lastWriteError;   // set by a failed write: FasterLog keeps failing every later commit, so the next write reopens it

    private BanJournal(LimiterEngine engine, string directory, ILogger logger, Action requestCheckpoint, TimeSpan commitTimeout)
    {
        _engine = engine;
        _directory = directory;
        _logger = logger;
        _requestCheckpoint = requestCheckpoint;
        _commitTimeout = commitTimeout;
        (_log, _device, _commits) = OpenLog(directory);
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "Floodgate ban journal" };
    }

    /// <summary>Gets how many records the replay at opening applied.</summary>
    public int Replayed { get; private set; }

    /// <summary>Gets how many records were written and committed (tests).</summary>
    internal long Written => Interlocked.Read(ref _written);

    /// <summary>Gets why the journal's last write failed; null while writes succeed (health checks read it).</summary>
    public string? LastWriteError => Volatile.Read(ref _lastWriteError);   // written by the writer thread

    /// <summary>Runs on the writer before each write (tests hold the writer there to fill the queue).</summary>
    internal Action? Writing { get; set; }

    /// <summary>Gets the bytes the journal's files take on disk (tests).</summary>
    internal long DiskBytes => System.IO.Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    /// <summary>Points recovery and writes at the engine made for a changed policy over the same state.</summary>
    internal void Retarget(LimiterEngine engine) => _engine = engine;

    /// <summary>
    /// Opens the journal in <paramref name="directory"/>, replays the records written since <paramref name="checkpointUtcTicks"/>
    /// (the recovered checkpoint's time; 0 for none) into the engine, and starts the writer. A commit that has not
    /// completed within <paramref name="commitTimeout"/> (a failing disk: FasterLog never completes it) counts as failed.
    /// </summary>
    public static BanJournal Open(LimiterEngine engine, string directory, long checkpointUtcTicks, ILogger logger, Action requestCheckpoint, TimeSpan commitTimeout)
    {
        System.IO.Directory.CreateDirectory(directory);
        bool hadRecords = System.IO.Directory.EnumerateFiles(directory, "bans.log.*").Any(f => new FileInfo(f).Length > 0);
        BanJournal? journal;
        string? unreadable;
        try
        {
            journal = new BanJournal(engine, directory, logger, requestCheckpoint, commitTimeout);
            unreadable = null;
            if (hadRecords && journal._log.TailAddress <= FirstAddress)
            {
                // Records on disk, yet FasterLog recovered none: its commit record is unreadable (it skips those
                // silently) or the log cannot be read. A new log here would write over them.
                journal.CloseLog();
                journal = null;
                unreadable = "no readable commit record: the journal's records were not applied";
            }
        }
#pragma warning disable CA1031 // An unreadable journal must not stop the app: it is set aside and a new one begins.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            journal = null;
            unreadable = ex.Message;
        }

        if (journal is null)
        {
            // Kept whole for an operator to look at, out of the new journal's way.
            string aside = SetAside(directory);
            Log.JournalUnreadable(logger, directory, aside, unreadable!);
            System.IO.Directory.CreateDirectory(directory);
            journal = new BanJournal(engine, directory, logger, requestCheckpoint, commitTimeout);
        }

        journal.Replay(checkpointUtcTicks);
        journal._writer.Start();
        return journal;
    }

    /// <summary>Notes that the client's ban state changed: lock-free, allocation-free, never waits (the check path).</summary>
    public void Note(in IpKey key)
    {
        if (Volatile.Read(ref _stopping) != 0)
        {
            return;   // closing: the final checkpoint has (or had) this state
        }

        if (!_queue.TryEnqueue(in key))
        {
            Volatile.Write(ref _overflowed, 1);
        }

        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _signal.Release();
        }
    }

    /// <summary>Where the journal ends now: a checkpoint that starts after this holds everything before it.</summary>
    public long Mark()
    {
        lock (_logGate)
        {
            return _log.TailAddress;
        }
    }

    /// <summary>Drops what a completed checkpoint holds (the records before <paramref name="mark"/>), on the writer's next round.</summary>
    public void TruncateUntil(long mark)
    {
        Interlocked.Exchange(ref _truncateTo, mark);
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            _signal.Release();
        }
    }

    /// <summary>Writes what is noted, commits, and closes the journal.</summary>
    public void Dispose() => Stop(1);

    /// <summary>Stops at once without writing what is noted, as a process that dies does (crash tests).</summary>
    public void Abandon() => Stop(2);

    private void Stop(int how)
    {
        if (Interlocked.CompareExchange(ref _stopping, how, 0) != 0)
        {
            return;
        }

        _signal.Release();
        _writer.Join();
        lock (_logGate)
        {
            if (how == 2)
            {
                // A crash writes nothing more: drop the log without its dispose-time work.
                _device.Dispose();
                return;
            }

            CloseLog();
        }

        // The semaphore is not disposed: a check that read the journal just before it was detached may still note (and is ignored).
    }

    /// <summary>
    /// After a failed write (a full disk): FasterLog remembers the failed range and fails every later commit with it,
    /// even once there is room again. Close it and open it anew from its last good commit; what the failed range
    /// held is in the checkpoint the failure asked for. Throws (and the next write tries again) while the disk still refuses.
    /// </summary>
    private void Reopen()
    {
        try
        {
            _log.Dispose();
        }
#pragma warning disable CA1031 // A log that failed may fail to close too: it is being replaced.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        _commits.Dispose();
        _device.Dispose();
        (_log, _device, _commits) = OpenLog(_directory);
    }

    /// <summary>Closes the log, its commit records and its device (a writer that stopped, or never started).</summary>
    private void CloseLog()
    {
        _log.Dispose();
        _commits.Dispose();
        _device.Dispose();
    }

    private static (FasterLog Log, IDevice Device, DeviceLogCommitCheckpointManager Commits) OpenLog(string directory)
    {
        IDevice device = new SynchronousFileDevice(Path.Combine(directory, "bans.log"));
        var commits = new DeviceLogCommitCheckpointManager(new SynchronousDeviceFactory(), new DefaultCheckpointNamingScheme(Path.GetFullPath(directory)), removeOutdated: true);
        try
        {
            var log = new FasterLog(new FasterLogSettings
            {
                LogDevice = device,
                LogCommitManager = commits,
                PageSizeBits = PageBits,
                MemorySizeBits = MemoryBits,
                SegmentSizeBits = SegmentBits,
                AutoRefreshSafeTailAddress = false,
            });
            return (log, device, commits);
        }
        catch
        {
            commits.Dispose();
            device.Dispose();
            throw;
        }
    }

    private static string SetAside(string directory)
    {
        string aside = directory.TrimEnd(Path.DirectorySeparatorChar) + ".damaged-" + DateTime.UtcNow.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            System.IO.Directory.Move(directory, aside);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            System.IO.Directory.Delete(directory, recursive: true);
            aside = "(deleted)";
        }

        return aside;
    }

    /// <summary>Applies the records written since the checkpoint, in order; stops at the first damaged one.</summary>
    /// <summary>Why the journal's files hold less than its last commit covers (a copy or restore cut short), or null.</summary>
    private string? CutShort()
    {
        long committed = _log.CommittedUntilAddress;
        if (committed <= _log.BeginAddress)
        {
            return null;
        }

        for (long segment = _log.BeginAddress >> SegmentBits; segment <= (committed - 1) >> SegmentBits; segment++)
        {
            long needed = Math.Min(1L << SegmentBits, committed - (segment << SegmentBits));
            var file = new FileInfo(Path.Combine(_directory, $"bans.log.{segment}"));
            long length = file.Exists ? file.Length : 0;
            if (length < needed)
            {
                return $"{file.Name} holds {length} of the {needed} bytes its last commit covers (cut short?): the records after byte {length} were lost";
            }
        }

        return null;
    }

    private void Replay(long checkpointUtcTicks)
    {
        long nowMs = _engine.Clock.StampMs();
        long utcNowTicks = _engine.Clock.TimeProvider.GetUtcNow().UtcTicks;
        int applied = 0;
        int damaged = 0;
        string reason = "records with a bad checksum were skipped";
        if (CutShort() is { } cut)
        {
            // FasterLog reads a file cut short as zeros, which it takes for the end of a page: the records are lost silently.
            damaged++;
            reason = cut;
        }

        try
        {
            using FasterLogScanIterator iterator = _log.Scan(_log.BeginAddress, _log.CommittedUntilAddress);
            while (iterator.GetNext(out byte[] bytes, out int length, out _, out _))
            {
                if (!TryParse(bytes.AsSpan(0, length), out IpKey key, out long writtenAt, out bool present, out PersistedEntry entry))
                {
                    damaged++;
                    continue;
                }

                if (writtenAt < checkpointUtcTicks)
                {
                    continue;   // written before the checkpoint was taken: it has this state, or a newer one
                }

                if (present)
                {
                    var record = new PersistedKey { High = key.High, Low = key.Low, Kind = (int)PersistedKind.Client };
                    _engine.Restore(in record, in entry, nowMs, utcNowTicks);
                }
                else
                {
                    _engine.MirrorBan(in key, 0);   // nothing left to keep for the client: no ban
                }

                applied++;
            }
        }
#pragma warning disable CA1031 // A journal that cannot be scanned to its end keeps what was applied; the rest is lost, and said.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            damaged++;
            reason = ex.Message;
        }

        if (damaged > 0)
        {
            Log.JournalDamaged(_logger, _directory, damaged, reason);
        }

        Replayed = applied;
        if (applied > 0)
        {
            Log.JournalReplayed(_logger, applied, _directory);
        }
    }

    private void WriteLoop()
    {
        var buffer = new byte[RecordSize];
        var seen = new HashSet<IpKey>();
        while (true)
        {
            _signal.Wait();
            int stopping = Volatile.Read(ref _stopping);
            if (stopping == 2)
            {
                return;
            }

            if (stopping == 0)
            {
                Thread.Sleep(CommitDelay);   // gather: one commit for the bans of this moment
            }

            // A full fence, not a plain store: the queue must be read after _pending is 0 everywhere. With a release store
            // the reads of the queue could pass it, miss a ban noted just then, and its Note (which saw _pending still 1)
            // would not signal: the ban would wait for the next one to be written (found under load: one ban of 56,000).
            Interlocked.Exchange(ref _pending, 0);
            try
            {
                Writing?.Invoke();
                WriteNoted(buffer, seen);
            }
#pragma warning disable CA1031 // A background writer: log, and let the next checkpoint carry the state.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Volatile.Write(ref _lastWriteError, ex.Message);
                Log.JournalWriteFailed(_logger, _directory, ex.Message);
                _requestCheckpoint();
            }

            if (Volatile.Read(ref _stopping) != 0)
            {
                return;
            }
        }
    }

    private void WriteNoted(byte[] buffer, HashSet<IpKey> seen)
    {
        long nowMs = _engine.Clock.StampMs();
        long utcNowTicks = _engine.Clock.TimeProvider.GetUtcNow().UtcTicks;
        int records = 0;
        seen.Clear();
        lock (_logGate)
        {
            if (Volatile.Read(ref _lastWriteError) is not null)
            {
                Reopen();
            }

            while (_queue.TryDequeue(out IpKey key))
            {
                if (!seen.Add(key))
                {
                    continue;   // one record with the newest state is enough
                }

                bool present = _engine.TryExportClient(in key, nowMs, utcNowTicks, out PersistedEntry entry);
                Format(buffer, in key, utcNowTicks, present, in entry);
                _log.Enqueue(buffer);
                records++;
            }

            long truncateTo = Interlocked.Exchange(ref _truncateTo, -1);
            if (truncateTo > _log.BeginAddress)
            {
                _log.TruncateUntil(Math.Min(truncateTo, _log.TailAddress));
            }

            if (records > 0 || truncateTo >= 0)
            {
                // Blocks this thread (no spinning): FasterLog writes the commit metadata from a pool work item, which waits
                // on nothing. Bounded: a commit whose write fails never completes, and the writer (and Dispose) would wait forever.
                try
                {
                    _log.CommitAsync().AsTask().WaitAsync(_commitTimeout).GetAwaiter().GetResult();
                }
                catch (TimeoutException ex)
                {
                    throw new IOException($"its commit did not complete within {_commitTimeout.TotalSeconds:0} s: the disk may be full or failing", ex);
                }
            }
        }

        Interlocked.Add(ref _written, records);
        Volatile.Write(ref _lastWriteError, null);   // written and committed: bans are being saved again
        if (Interlocked.Exchange(ref _overflowed, 0) == 1)
        {
            // More bans than the queue holds between two writes: those are in no record, so checkpoint them now.
            Log.JournalOverflow(_logger, QueueCapacity, _directory);
            _requestCheckpoint();
        }
    }

    private static void Format(Span<byte> buffer, in IpKey key, long writtenAt, bool present, in PersistedEntry entry)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(buffer[4..], present ? 1 : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[8..], key.High);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[16..], key.Low);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[24..], writtenAt);
        PersistedEntry copy = present ? entry : default;
        MemoryMarshal.Write(buffer[32..], in copy);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[(32 + EntrySize)..], RecordChecksum(buffer[..(32 + EntrySize)]));
    }

    private static bool TryParse(ReadOnlySpan<byte> bytes, out IpKey key, out long writtenAt, out bool present, out PersistedEntry entry)
    {
        key = default;
        writtenAt = 0;
        present = false;
        entry = default;
        if (bytes.Length != RecordSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic ||
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[(32 + EntrySize)..]) != RecordChecksum(bytes[..(32 + EntrySize)]))
        {
            return false;
        }

        present = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]) == 1;
        key = new IpKey(BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]), BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]));
        writtenAt = BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]);
        entry = MemoryMarshal.Read<PersistedEntry>(bytes[32..]);
        return true;
    }

    private static ulong RecordChecksum(ReadOnlySpan<byte> bytes)
    {
        ulong h = 0x243F6A8885A308D3;
        for (int i = 0; i + 8 <= bytes.Length; i += 8)
        {
            h = Checksum.Mix(h ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]), 0xA0761D6478BD642F);
        }

        return h;
    }

    /// <summary>
    /// A bounded multi-producer queue of keys in a preallocated ring (Vyukov's): producers claim a cell with one CAS,
    /// the single consumer reads cells in order; a full queue refuses instead of waiting.
    /// </summary>
    private sealed class KeyQueue
    {
        private readonly Cell[] _cells;
        private readonly int _mask;
        private long _enqueue;
        private long _dequeue;

        public KeyQueue(int capacity)
        {
            _cells = new Cell[capacity];
            _mask = capacity - 1;
            for (int i = 0; i < capacity; i++)
            {
                _cells[i].Sequence = i;
            }
        }

        public bool TryEnqueue(in IpKey key)
        {
            while (true)
            {
                long position = Volatile.Read(ref _enqueue);
                ref Cell cell = ref _cells[position & _mask];
                long sequence = Volatile.Read(ref cell.Sequence);
                long difference = sequence - position;
                if (difference == 0)
                {
                    if (Interlocked.CompareExchange(ref _enqueue, position + 1, position) == position)
                    {
                        cell.Key = key;
                        Volatile.Write(ref cell.Sequence, position + 1);
                        return true;
                    }
                }
                else if (difference < 0)
                {
                    return false;   // full
                }
            }
        }

        public bool TryDequeue(out IpKey key)
        {
            long position = _dequeue;
            ref Cell cell = ref _cells[position & _mask];
            if (Volatile.Read(ref cell.Sequence) != position + 1)
            {
                key = default;
                return false;   // empty, or the producer of this cell has not finished writing it
            }

            key = cell.Key;
            _dequeue = position + 1;
            Volatile.Write(ref cell.Sequence, position + _cells.Length);
            return true;
        }

        private struct Cell
        {
            public long Sequence;
            public IpKey Key;
        }
    }
}
