using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>A checkpoint first checks that the volume has room for it: on a small real volume (tmpfs) it fails at once, naming the figures.</summary>
public sealed class DiskSpaceTests : IDisposable
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "floodgate-small-" + Guid.NewGuid().ToString("N"));

    public DiskSpaceTests()
    {
        Directory.CreateDirectory(_mount);
        Run("mount", $"-t tmpfs -o size=8m tmpfs {_mount}");   // the tests run as root (CI does)
    }

    public void Dispose()
    {
        Run("umount", $"-l {_mount}");
        Directory.Delete(_mount, recursive: true);
    }

    [Fact]
    public async Task AVolumeTooSmallForACheckpointFailsItAtOnceNamingTheFigures()
    {
        var time = new FakeTimeProvider(Harness.Start);
        var log = new CollectingLogger();
        string directory = Path.Combine(_mount, "data");
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) };
        using var limiter = new FloodgateLimiter(policy, new FloodgateLimiterOptions
        {
            TimeProvider = time,
            DataDirectory = directory,
            CheckpointInterval = TimeSpan.FromHours(1),
            JournalBans = false,
            Logger = log,
        });
        limiter.Check(IPAddress.Parse("192.0.2.1"));

        var watch = Stopwatch.StartNew();
        IOException error = await Assert.ThrowsAsync<IOException>(() => limiter.CheckpointAsync());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}: the pre-check did not stop it, the 2-minute timeout would");
        Assert.Matches(@"^Not enough disk space for a checkpoint in '.+': about 16 MiB needed, [0-8] MiB free\.$", error.Message);
        Assert.Contains(directory, error.Message, StringComparison.Ordinal);
        Assert.Equal(error.Message, limiter.LastCheckpointError);
        Assert.Contains(log.Entries, e => e.Id == 100);
        Assert.Empty(Directory.GetDirectories(Path.Combine(directory, "checkpoints")));   // nothing half-written
        Assert.True(limiter.Check(IPAddress.Parse("192.0.2.1")).Reason == DecisionReason.Blocked);   // checks go on
    }

    [Fact]
    public void AfterADiskFullTheBanJournalWritesAgainOnceThereIsRoom()
    {
        var time = new FakeTimeProvider(Harness.Start);
        var log = new CollectingLogger();
        string directory = Path.Combine(_mount, "data");
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) };
        FloodgateLimiterOptions Options() => new()
        {
            TimeProvider = time,
            DataDirectory = directory,
            CheckpointInterval = TimeSpan.FromHours(1),
            CheckpointTimeout = TimeSpan.FromSeconds(2),
            Logger = log,
        };
        IPAddress after = IPAddress.Parse("192.0.2.3");
        using (var limiter = new FloodgateLimiter(policy, Options()))
        {
            limiter.Check(IPAddress.Parse("192.0.2.1"));
            limiter.Check(IPAddress.Parse("192.0.2.1"));   // a first ban: the journal's files exist
            Assert.True(SpinWait.SpinUntil(() => limiter.JournalRecordsWritten >= 1, TimeSpan.FromSeconds(10)), "the first ban was not journaled");

            // The volume fills up: the next ban cannot be written.
            string filler = Path.Combine(_mount, "filler");
            Fill(filler);
            for (int i = 0; i < 3_000; i++)
            {
                var client = new IPAddress(BitConverter.GetBytes(0x0D000000 + i));   // bans enough to need new pages
                limiter.Check(client);
                limiter.Check(client);
            }

            Assert.True(SpinWait.SpinUntil(() => limiter.JournalError is not null, TimeSpan.FromSeconds(30)), "the failed write was not reported");

            // Room again: a ban made now is journaled, and the error clears.
            File.Delete(filler);
            limiter.Check(after);
            limiter.Check(after);
            Assert.True(SpinWait.SpinUntil(() => limiter.JournalError is null, TimeSpan.FromSeconds(30)), $"the journal did not recover: {limiter.JournalError}");
            limiter.AbandonPersistence();   // a crash: the journal alone has the ban made after the room came back
        }

        using var recovered = new FloodgateLimiter(policy, Options());
        Assert.Equal(DecisionReason.Blocked, recovered.Check(after).Reason);
    }

    /// <summary>Writes <paramref name="path"/> until the volume is full.</summary>
    private static void Fill(string path)
    {
        // Smaller and smaller writes, to the last byte: a write that fails leaves what it could not take.
        for (int size = 64 * 1024; size >= 1; size /= 4)
        {
            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
            byte[] block = new byte[size];
            try
            {
                while (true)
                {
                    stream.Write(block);
                }
            }
            catch (IOException)
            {
                // ENOSPC at this size: on to a smaller one
            }
        }
    }

    private static void Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true })!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {arguments}: {error} (this test mounts a small tmpfs: it needs root)");
    }
}
