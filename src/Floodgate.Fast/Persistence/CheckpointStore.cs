using System.Globalization;
using System.Numerics;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Floodgate.Persistence;

/// <summary>
/// Checkpoints in a data directory, each a FASTER KV store of its own under <c>checkpoints/&lt;sequence&gt;</c>:
/// every record upserted, then a FASTER fold-over checkpoint whose commit cookie carries the
/// <see cref="CheckpointManifest"/>. A checkpoint that did not complete has no FASTER commit and is never
/// loaded; one whose records do not match its manifest is skipped for the one before it.
/// </summary>
internal sealed class CheckpointStore
{
    // Records are 8 (header) + 24 (key) + 56 (value) bytes; the page size must be the same when recovering.
    private const int RecordSize = 88;
    private const int PageBits = 22;
    private const long MinMemory = 1L << 24;
    private const long MaxMemory = 1L << 30;

    private readonly string _root;
    private readonly ILogger _logger;
    private readonly TimeSpan _timeout;

    public CheckpointStore(string directory, ILogger logger, TimeSpan timeout)
    {
        Directory = directory;
        _timeout = timeout;
        _root = Path.Combine(directory, "checkpoints");
        _logger = logger;
        System.IO.Directory.CreateDirectory(_root);
    }

    public string Directory { get; }

    /// <summary>Gets when the checkpoint <see cref="Recover"/> returned was taken (UTC ticks); 0 before any.</summary>
    public long RecoveredCreatedUtcTicks { get; private set; }

    /// <summary>Lists the checkpoint sequence numbers on disk, newest first.</summary>
    public List<long> ListSequences()
    {
        var sequences = new List<long>();
        foreach (string path in System.IO.Directory.EnumerateDirectories(_root))
        {
            if (long.TryParse(Path.GetFileName(path), NumberStyles.None, CultureInfo.InvariantCulture, out long sequence))
            {
                sequences.Add(sequence);
            }
        }

        sequences.Sort((a, b) => b.CompareTo(a));
        return sequences;
    }

    /// <summary>
    /// Writes a complete checkpoint of the records <paramref name="produce"/> hands to its sink (streamed from the
    /// table, never copied whole); throws when it cannot, and the partial directory is removed.
    /// </summary>
    /// <returns>The number of records written.</returns>
    public async Task<long> WriteAsync(long sequence, Action<IRecordSink> produce, int expectedRecords, Internal.EntryTable table, DateTimeOffset now, CancellationToken cancellationToken)
    {
        string path = PathOf(sequence);
        IDevice? log = null;
        DeviceLogCommitCheckpointManager? checkpoints = null;
        FasterKVSettings<PersistedKey, PersistedEntry>? settings = null;
        FasterKV<PersistedKey, PersistedEntry>? store = null;
        bool abandon = false;
        long count;
        try
        {
            EnsureSpace(expectedRecords);
            System.IO.Directory.CreateDirectory(path);
            log = new SynchronousFileDevice(Path.Combine(path, "hlog.log"));
            checkpoints = CheckpointManager(path);
            settings = Settings(log, checkpoints, expectedRecords, table);
            store = new FasterKV<PersistedKey, PersistedEntry>(settings);
            var sink = new UpsertSink();
            using (var session = store.NewSession(new SimpleFunctions<PersistedKey, PersistedEntry>()))
            {
                // One epoch acquisition for the whole batch instead of one per upsert.
                sink.Context = session.UnsafeContext;
                sink.Context.BeginUnsafe();
                try
                {
                    produce(sink);
                    sink.Context.CompletePending(wait: true);
                }
                finally
                {
                    sink.Context.EndUnsafe();
                }
            }

            store.CommitCookie = new CheckpointManifest(sequence, sink.Count, sink.Checksum, now.UtcTicks).ToBytes();
            try
            {
                // FASTER never completes a checkpoint whose writes fail (a full disk): bound the wait.
                (bool success, _) = await store.TakeFullCheckpointAsync(CheckpointType.FoldOver, cancellationToken)
                    .AsTask().WaitAsync(_timeout, cancellationToken).ConfigureAwait(false);
                if (!success)
                {
                    throw new IOException($"FASTER did not take checkpoint {sequence} in '{path}'.");
                }

                await store.CompleteCheckpointAsync(cancellationToken).AsTask().WaitAsync(_timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                // Disposing the store would wait for the stuck writes too: leave it to the garbage collector.
                abandon = true;
                throw new IOException(
                    $"Checkpoint {sequence} in '{path}' did not finish within {_timeout.TotalSeconds:0} s: the disk may be full or failing.", ex);
            }

            count = sink.Count;
        }
        catch
        {
            TryDelete(sequence);
            throw;
        }
        finally
        {
            if (!abandon)
            {
                store?.Dispose();
                settings?.Dispose();
                checkpoints?.Dispose();
                log?.Dispose();
            }
        }

        // FASTER has committed and closed its files: record its metadata for the next recovery to check before
        // FASTER reads any of it. Without the manifest the checkpoint is not complete.
        try
        {
            MetadataManifest.Write(path, sequence);
        }
        catch
        {
            TryDelete(sequence);
            throw;
        }

        return count;
    }

    /// <summary>Fails at once, with the figures, when the volume clearly cannot take the checkpoint.</summary>
    private void EnsureSpace(int records)
    {
        long needed = ((long)records * RecordSize * 2) + (16L << 20);
        long available;
        try
        {
            // The volume that holds the directory: on Unix any path names it (statvfs), where its root ("/") would name
            // the root volume whatever is mounted under it; on Windows a drive is named by its root.
            string volume = OperatingSystem.IsWindows() ? Path.GetPathRoot(Path.GetFullPath(_root)) ?? _root : _root;
            available = new DriveInfo(volume).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return;   // unknown: let the write itself tell
        }

        if (available < needed)
        {
            throw new IOException($"Not enough disk space for a checkpoint in '{Directory}': about {needed >> 20} MiB needed, {available >> 20} MiB free.");
        }
    }

    /// <summary>
    /// Loads the newest checkpoint whose records match its manifest. Damaged ones are logged and skipped.
    /// </summary>
    /// <returns>The records, or <see langword="null"/> when no checkpoint is usable.</returns>
    public List<(PersistedKey Key, PersistedEntry Entry)>? Recover(out long sequence, out int damaged)
    {
        damaged = 0;
        foreach (long candidate in ListSequences())
        {
            try
            {
                List<(PersistedKey, PersistedEntry)> records = Read(candidate, out long createdUtcTicks);
                sequence = candidate;
                RecoveredCreatedUtcTicks = createdUtcTicks;
                return records;
            }
#pragma warning disable CA1031 // Any failure to read a checkpoint means "damaged": log it and use an older one.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                damaged++;
                Log.CheckpointUnusable(_logger, candidate, Directory, ex.Message, ex);
            }
        }

        sequence = 0;
        return null;
    }

    /// <summary>Removes every checkpoint except the ones given.</summary>
    public void Prune(long keep, long alsoKeep)
    {
        foreach (long sequence in ListSequences())
        {
            if (sequence != keep && sequence != alsoKeep)
            {
                TryDelete(sequence);
            }
        }
    }

    private List<(PersistedKey, PersistedEntry)> Read(long sequence, out long createdUtcTicks)
    {
        string path = PathOf(sequence);

        // Before FASTER reads anything: garbage in its metadata can make it allocate and scan for seconds.
        if (!MetadataManifest.Verify(path, sequence, out _, out string damage))
        {
            throw new InvalidDataException(damage);
        }

        string logFile = Path.Combine(path, "hlog.log");
        long logBytes = System.IO.Directory.EnumerateFiles(path, "hlog.log*").Sum(f => new FileInfo(f).Length);
        using IDevice log = new SynchronousFileDevice(logFile);
        using DeviceLogCommitCheckpointManager checkpoints = CheckpointManager(path);
        using FasterKVSettings<PersistedKey, PersistedEntry> settings = Settings(log, checkpoints, (int)Math.Min(int.MaxValue, logBytes / RecordSize));
        using var store = new FasterKV<PersistedKey, PersistedEntry>(settings);
        store.Recover();
        if (!CheckpointManifest.TryParse(store.RecoveredCommitCookie, out CheckpointManifest manifest, out string problem))
        {
            throw new InvalidDataException(problem);
        }

        if (manifest.Sequence != sequence)
        {
            throw new InvalidDataException($"the manifest is for checkpoint {manifest.Sequence}");
        }

        createdUtcTicks = manifest.CreatedUtcTicks;

        var records = new List<(PersistedKey, PersistedEntry)>((int)Math.Min(manifest.Count, 1 << 24));
        ulong checksum = 0;
        // Every key is written once per checkpoint store, so a raw scan of the log returns exactly the records,
        // without the index lookup per record that an iteration of live keys makes.
        using (IFasterScanIterator<PersistedKey, PersistedEntry> iterator = store.Log.Scan(store.Log.BeginAddress, store.Log.TailAddress))
        {
            while (iterator.GetNext(out RecordInfo info))
            {
                if (info.Tombstone || info.Invalid)
                {
                    continue;   // never written by a checkpoint; the manifest's count and checksum catch anything else
                }

                PersistedKey key = iterator.GetKey();
                PersistedEntry entry = iterator.GetValue();
                checksum += Checksum.Of(in key, in entry);
                records.Add((key, entry));
            }
        }

        if (records.Count != manifest.Count || checksum != manifest.RecordChecksum)
        {
            throw new InvalidDataException(
                $"read {records.Count} records (checksum {checksum:x16}), the manifest says {manifest.Count} ({manifest.RecordChecksum:x16})");
        }

        return records;
    }

    /// <summary>FASTER's checkpoint metadata in <paramref name="path"/>, as its default manager keeps it, on synchronous devices.</summary>
    private static DeviceLogCommitCheckpointManager CheckpointManager(string path) =>
        new(new SynchronousDeviceFactory(), new DefaultCheckpointNamingScheme(Path.GetFullPath(path)), removeOutdated: true);

    private static FasterKVSettings<PersistedKey, PersistedEntry> Settings(IDevice log, ICheckpointManager checkpoints, int records, Internal.EntryTable? table = null)
    {
        // Sized for the records: FASTER's defaults are a 64 MiB index and a 16 GiB in-memory log.
        long memory = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(MinMemory, ((long)records * RecordSize * 5) / 4));
        long buckets = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1024, records / 4));
        var comparer = table is null ? PersistedKeyComparer.Instance : new PersistedKeyComparer(table, BitOperations.Log2((ulong)buckets));
        return new FasterKVSettings<PersistedKey, PersistedEntry>
        {
            LogDevice = log,
            CheckpointManager = checkpoints,
            PageSize = 1L << PageBits,
            MemorySize = Math.Min(memory, MaxMemory),
            IndexSize = buckets * 64,
            EqualityComparer = comparer,
        };
    }

    /// <summary>Upserts each record as it arrives and keeps the manifest's count and checksum.</summary>
    private sealed class UpsertSink : IRecordSink
    {
        // A struct that refers to the session: copies of it act on the same session.
        public UnsafeContext<PersistedKey, PersistedEntry, PersistedEntry, PersistedEntry, Empty, IFunctions<PersistedKey, PersistedEntry, PersistedEntry, PersistedEntry, Empty>> Context;

        public long Count { get; private set; }

        public ulong Checksum { get; private set; }

        public void Add(in PersistedKey key, in PersistedEntry entry)
        {
            PersistedKey k = key;
            PersistedEntry v = entry;
            Checksum += Persistence.Checksum.Of(in k, in v);
            Count++;
            Context.Upsert(ref k, ref v);
        }
    }

    private string PathOf(long sequence) => Path.Combine(_root, sequence.ToString("D19", CultureInfo.InvariantCulture));

    private void TryDelete(long sequence)
    {
        try
        {
            System.IO.Directory.Delete(PathOf(sequence), recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
