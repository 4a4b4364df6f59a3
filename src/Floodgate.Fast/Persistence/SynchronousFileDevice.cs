using System.Collections.Concurrent;
using FASTER.core;
using Microsoft.Win32.SafeHandles;

namespace Floodgate.Persistence;

/// <summary>
/// A FASTER storage device whose reads and writes complete on the calling thread, before the call returns.
/// </summary>
/// <remarks>
/// FASTER's own file device hands every write to the thread pool (<c>Task.Run</c>), and its checkpoint state machine
/// then blocks a pool thread until that write completes (<c>DeviceLogCommitCheckpointManager.WriteInto</c> waits on a
/// semaphore). With few pool threads (one per core: a one-CPU container has one) the write waits for a thread that
/// only the pool's starvation detection adds, about every half second, and every request waits with it: measured as
/// stalls of 0.5 to 1.5 s in each checkpoint under load. Here a write is a <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>
/// on the checkpoint's own thread, so a checkpoint never needs, nor blocks, a pool thread. Files are opened with
/// <see cref="FileOptions.WriteThrough"/>, as FASTER's device opens them, and named as it names them
/// (<c>name.segment</c>), so checkpoints written by either device read with the other.
/// </remarks>
internal sealed class SynchronousFileDevice : StorageDeviceBase
{
    private const uint SectorBytes = 512;
    private const uint Failed = uint.MaxValue;

    private static long s_writesOnPoolThreads;

    private readonly ConcurrentDictionary<int, SafeFileHandle> _segments = new();

    public SynchronousFileDevice(string fileName)
        : base(fileName, SectorBytes, -1)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(fileName));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
    }

    /// <summary>Gets how many writes ran on thread-pool threads (tests: periodic and requested checkpoints make none).</summary>
    internal static long WritesOnPoolThreads => Interlocked.Read(ref s_writesOnPoolThreads);   // written by checkpoint threads

    public override unsafe void WriteAsync(nint sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context)
    {
        if (Thread.CurrentThread.IsThreadPoolThread)
        {
            Interlocked.Increment(ref s_writesOnPoolThreads);   // tests read it from other threads
        }

        uint error = 0;
        try
        {
            RandomAccess.Write(Segment(segmentId), new ReadOnlySpan<byte>((void*)sourceAddress, checked((int)numBytesToWrite)), (long)destinationAddress);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // FASTER's device reports a failed write this way too: an error code and no bytes, never an exception.
            error = ex is IOException io && (io.HResult & 0xFFFF) != 0 ? (uint)(io.HResult & 0xFFFF) : Failed;
            numBytesToWrite = 0;
        }

        callback(error, numBytesToWrite, context);
    }

    public override unsafe void ReadAsync(int segmentId, ulong sourceAddress, nint destinationAddress, uint readLength, DeviceIOCompletionCallback callback, object context)
    {
        uint error = 0;
        uint read = 0;
        try
        {
            var destination = new Span<byte>((void*)destinationAddress, checked((int)readLength));
            SafeFileHandle handle = Segment(segmentId);
            while (read < readLength)
            {
                int n = RandomAccess.Read(handle, destination[(int)read..], (long)sourceAddress + read);
                if (n == 0)
                {
                    break;   // the end of the file: FASTER reads whole sectors past the last record
                }

                read += (uint)n;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            error = Failed;
        }

        callback(error, read, context);
    }

    public override long GetFileSize(int segment) =>
        segmentSize > 0 ? segmentSize : RandomAccess.GetLength(Segment(segment));

    public override void RemoveSegment(int segment)
    {
        if (_segments.TryRemove(segment, out SafeFileHandle? handle))
        {
            handle.Dispose();
        }

        try
        {
            File.Delete(GetSegmentFilename(FileName, segment));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A segment that cannot be removed is only disk space; the checkpoint directory is pruned whole later.
        }
    }

    public override void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result)
    {
        RemoveSegment(segment);
        callback(result);
    }

    public override void Dispose()
    {
        foreach (SafeFileHandle handle in _segments.Values)
        {
            handle.Dispose();
        }

        _segments.Clear();
    }

    private SafeFileHandle Segment(int segmentId) =>
        _segments.TryGetValue(segmentId, out SafeFileHandle? handle) ? handle : _segments.GetOrAdd(segmentId, Open);

    private SafeFileHandle Open(int segmentId) =>
        File.OpenHandle(GetSegmentFilename(FileName, segmentId), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.WriteThrough);
}
