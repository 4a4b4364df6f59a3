using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>The ban journal: bans survive a crash between checkpoints; a damaged journal is not fatal; its disk use is bounded.</summary>
public sealed class JournalTests : IDisposable
{
    private static readonly IPAddress s_blockedBefore = IPAddress.Parse("192.0.2.20");
    private static readonly IPAddress s_blacklistedBefore = IPAddress.Parse("192.0.2.21");
    private static readonly IPAddress s_blockedAfter = IPAddress.Parse("192.0.2.22");
    private static readonly IPAddress s_blacklistedAfter = IPAddress.Parse("2001:db8:7::1");

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "floodgate-journal-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(Harness.Start);
    private readonly CollectingLogger _log = new();

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task BansAndLiftsAfterTheLastCheckpointSurviveACrash()
    {
        using (FloodgateLimiter first = Open())
        {
            Block(first, s_blockedBefore);
            first.Blacklist(s_blacklistedBefore);
            await first.CheckpointAsync();

            // After the checkpoint: two new bans, and the two old ones lifted.
            Block(first, s_blockedAfter);
            first.Blacklist(s_blacklistedAfter);
            first.Unblock(s_blockedBefore);
            first.Unblacklist(s_blacklistedBefore);
            WaitForJournal(first, 4);
            first.AbandonPersistence();   // a crash: no final checkpoint
        }

        _time.Advance(TimeSpan.FromSeconds(5));
        using FloodgateLimiter recovered = Open();
        Assert.Equal(DecisionReason.Blocked, recovered.Check(s_blockedAfter).Reason);
        Assert.InRange(recovered.Inspect(s_blockedAfter).BlockExpiresAt!.Value - _time.GetUtcNow(), TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        Assert.Equal(1, recovered.Inspect(s_blockedAfter).BlockCount);
        Assert.Equal(DecisionReason.Blacklisted, recovered.Check(s_blacklistedAfter).Reason);
        Assert.True(recovered.Check(s_blockedBefore).IsAllowed);
        Assert.True(recovered.Check(s_blacklistedBefore).IsAllowed);
        Assert.Contains(_log.Entries, e => e.Id == 106);
    }

    [Fact]
    public async Task WithoutTheJournalTheSameCrashLosesTheNewBans()
    {
        // The control: what the journal adds. Checkpoints alone forget what happened after the last one.
        using (FloodgateLimiter first = Open(journal: false))
        {
            await first.CheckpointAsync();
            Block(first, s_blockedAfter);
            first.Blacklist(s_blacklistedAfter);
            first.AbandonPersistence();
        }

        using FloodgateLimiter recovered = Open(journal: false);
        Assert.True(recovered.Check(s_blockedAfter).IsAllowed);
        Assert.True(recovered.Check(s_blacklistedAfter).IsAllowed);
    }

    [Fact]
    public async Task ADamagedRecordAtTheTailIsSkippedAndTheRestApplied()
    {
        using (FloodgateLimiter first = Open())
        {
            await first.CheckpointAsync();
            Block(first, s_blockedAfter);
            WaitForJournal(first, 1);
            first.Blacklist(s_blacklistedAfter);
            WaitForJournal(first, 2);
            first.AbandonPersistence();
        }

        // A torn write: the last record's bytes are garbage (the log file grows by whole records, the last one is ours).
        string log = Directory.GetFiles(Path.Combine(_directory, "journal"), "bans.log.*").Single();
        byte[] bytes = File.ReadAllBytes(log);
        int end = LastNonZero(bytes) + 1;
        for (int i = end - 40; i < end; i++)
        {
            bytes[i] ^= 0x5A;
        }

        File.WriteAllBytes(log, bytes);

        using FloodgateLimiter recovered = Open();
        Assert.Equal(DecisionReason.Blocked, recovered.Check(s_blockedAfter).Reason);
        Assert.True(recovered.Check(s_blacklistedAfter).IsAllowed);   // its record was the damaged one
        Assert.Contains(_log.Entries, e => e.Id == 108 && e.Level == LogLevel.Warning);
    }

    [Fact]
    public void AnUnreadableJournalIsSetAsideAndStartupGoesOn()
    {
        using (FloodgateLimiter first = Open())
        {
            Block(first, s_blockedAfter);
            WaitForJournal(first, 1);
            first.AbandonPersistence();
        }

        foreach (string file in Directory.GetFiles(Path.Combine(_directory, "journal"), "*", SearchOption.AllDirectories))
        {
            File.WriteAllBytes(file, new byte[13]);
        }

        using FloodgateLimiter recovered = Open();
        Assert.True(recovered.Check(s_blacklistedAfter).IsAllowed);   // it works; what the journal held is gone, and said
        recovered.Blacklist(s_blacklistedAfter);
        WaitForJournal(recovered, 1);
        Assert.Contains(_log.Entries, e => e.Id is 108 or 110);
    }

    [Fact]
    public async Task EachCheckpointTruncatesTheJournalSoItsDiskUseStaysBounded()
    {
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromHours(1), BlockDuration = TimeSpan.FromHours(1) };
        using FloodgateLimiter limiter = Open(policy: policy, capacity: 1 << 18);
        long written = 0;
        long largest = 0;
        for (int round = 0; round < 8; round++)
        {
            // 8,000 new bans a round (about 0.8 MB of records): over six rounds more than one 4 MiB segment.
            for (int i = 0; i < 8_000; i++)
            {
                var client = new IPAddress(BitConverter.GetBytes(0x0A000000 + (round * 10_000) + i));
                limiter.Check(client);
                limiter.Check(client);
            }

            written += 8_000;
            WaitForJournal(limiter, written);
            largest = Math.Max(largest, limiter.JournalDiskBytes);
            await limiter.CheckpointAsync();
        }

        // More than 6 MB of records went through it; it never held more than about two 4 MiB segments.
        Assert.True(largest < 9L << 20, $"the journal reached {largest} bytes");
        WaitForJournalTruncation(limiter);
        Assert.True(limiter.JournalDiskBytes < 5L << 20, $"after the last checkpoint the journal holds {limiter.JournalDiskBytes} bytes");
        Assert.False(File.Exists(Path.Combine(_directory, "journal", "bans.log.0")), "the first segment was not removed");
    }

    private FloodgateLimiter Open(bool journal = true, FloodgatePolicy? policy = null, int capacity = 1024) =>
        new(policy ?? new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) }, new FloodgateLimiterOptions
        {
            Capacity = capacity,
            TimeProvider = _time,
            DataDirectory = _directory,
            CheckpointInterval = TimeSpan.FromHours(1),
            Logger = _log,
            JournalBans = journal,
        });

    private static void Block(FloodgateLimiter limiter, IPAddress client)
    {
        limiter.Check(client);
        Assert.Equal(DecisionReason.Blocked, limiter.Check(client).Reason);
    }

    private static void WaitForJournal(FloodgateLimiter limiter, long records)
    {
        Assert.True(SpinWait.SpinUntil(() => limiter.JournalRecordsWritten >= records, TimeSpan.FromSeconds(10)), $"the journal wrote {limiter.JournalRecordsWritten} of {records} records");
    }

    private static void WaitForJournalTruncation(FloodgateLimiter limiter)
    {
        var watch = Stopwatch.StartNew();
        while (limiter.JournalDiskBytes >= 5L << 20 && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(50);
        }
    }

    private static int LastNonZero(byte[] bytes)
    {
        for (int i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] != 0)
            {
                return i;
            }
        }

        return -1;
    }
}
