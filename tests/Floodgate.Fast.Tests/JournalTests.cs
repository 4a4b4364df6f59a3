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
        Assert.Equal(Harness.Start + TimeSpan.FromMinutes(10), recovered.Inspect(s_blockedAfter).BlockExpiresAt);   // exact: the block's absolute end
        Assert.Equal(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(5), recovered.Check(s_blockedAfter).RetryAfter);
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
        // A torn write: the last record's bytes are garbage (the log file grows by whole records, the last one is ours).
        string log = await TwoBansAfterACheckpointThenACrashAsync();
        byte[] bytes = File.ReadAllBytes(log);
        int end = LastNonZero(bytes) + 1;
        for (int i = end - 40; i < end; i++)
        {
            bytes[i] ^= 0x5A;
        }

        File.WriteAllBytes(log, bytes);

        AssertTheLastBanLostAndSaid();
    }

    [Fact]
    public async Task ATruncatedJournalAppliesWhatItHoldsAndSaysWhatWasCutOff()
    {
        // The segment loses its last record, cut at the record's start (a copy or restore cut short): FasterLog reads the
        // missing bytes as zeros, which it takes for the end of a page.
        string log = await TwoBansAfterACheckpointThenACrashAsync();
        byte[] bytes = File.ReadAllBytes(log);
        int lastRecord = bytes.AsSpan().LastIndexOf("FGBJ"u8) - 4;   // the record's magic, after FasterLog's 4-byte length
        using (var file = new FileStream(log, FileMode.Open))
        {
            file.SetLength(lastRecord);
        }

        AssertTheLastBanLostAndSaid();
    }

    [Fact]
    public async Task WhenTheNewestCheckpointIsDamagedTheBansJournaledSinceThePreviousOneAreReplayed()
    {
        IPAddress between = IPAddress.Parse("192.0.2.30");
        using (FloodgateLimiter first = Open())
        {
            Block(first, s_blockedBefore);
            await first.CheckpointAsync();                   // checkpoint 1: holds s_blockedBefore
            Block(first, between);
            WaitForJournal(first, 2);
            await first.CheckpointAsync();                   // checkpoint 2: holds both
            Block(first, s_blockedAfter);
            WaitForJournal(first, 3);
            first.AbandonPersistence();
        }

        // Checkpoint 2 is found damaged: recovery falls back to checkpoint 1, and the journal must still hold the ban
        // made between the two (it is truncated only back to the older checkpoint kept).
        string newest = Directory.GetDirectories(Path.Combine(_directory, "checkpoints")).Max()!;
        foreach (string file in Directory.GetFiles(newest, "info.dat*", SearchOption.AllDirectories))
        {
            File.WriteAllBytes(file, new byte[new FileInfo(file).Length]);
        }

        using FloodgateLimiter recovered = Open();
        Assert.Contains(_log.Entries, e => e.Id == 101);   // the damaged checkpoint, said
        Assert.Equal(DecisionReason.Blocked, recovered.Check(s_blockedBefore).Reason);
        Assert.Equal(DecisionReason.Blocked, recovered.Check(between).Reason);
        Assert.Equal(DecisionReason.Blocked, recovered.Check(s_blockedAfter).Reason);
    }

    [Theory]
    [InlineData("zeroed")]          // every file of it: no commit record can be read
    [InlineData("segment")]         // its segment is not a file: the log cannot be read
    public void AnUnreadableJournalIsSetAsideAndANewOneStarted(string damage)
    {
        using (FloodgateLimiter first = Open())
        {
            Block(first, s_blockedAfter);
            WaitForJournal(first, 1);
            first.AbandonPersistence();
        }

        string journal = Path.Combine(_directory, "journal");
        if (damage == "zeroed")
        {
            foreach (string file in Directory.GetFiles(journal, "*", SearchOption.AllDirectories))
            {
                File.WriteAllBytes(file, new byte[13]);
            }
        }
        else
        {
            File.Move(Path.Combine(journal, "bans.log.0"), Path.Combine(journal, "bans.log.1"));
            Directory.CreateDirectory(Path.Combine(journal, "bans.log.0"));
        }

        using FloodgateLimiter recovered = Open();
        Assert.True(recovered.Check(s_blockedAfter).IsAllowed);   // its block was in the journal alone: gone, and said
        Assert.Contains(_log.Entries, e => e.Id == 110 && e.Message.Contains("no readable commit record", StringComparison.Ordinal));

        // Moved aside whole, with what it held, for an operator to look at; a new journal took its place and works.
        string aside = Assert.Single(Directory.GetDirectories(_directory, "journal.damaged-*"));
        Assert.True(File.Exists(Path.Combine(aside, damage == "zeroed" ? "bans.log.0" : "bans.log.1")));
        Assert.Empty(Directory.GetFiles(journal, "bans.log.1"));
        recovered.Blacklist(s_blacklistedAfter);
        WaitForJournal(recovered, 1);
        recovered.AbandonPersistence();

        _log.Clear();
        using FloodgateLimiter again = Open();
        Assert.Equal(DecisionReason.Blacklisted, again.Check(s_blacklistedAfter).Reason);
        Assert.DoesNotContain(_log.Entries, e => e.Id is 108 or 110);
    }

    [Fact]
    public void AJournalThatCannotCommitFallsBackToACheckpointAndNeverHoldsShutdown()
    {
        FloodgateLimiter limiter = Open(commitTimeout: TimeSpan.FromSeconds(2));
        try
        {
            // FasterLog's commit directory becomes a file: every commit write fails, and FasterLog never completes it.
            string commits = Path.Combine(_directory, "journal", "log-commits");
            if (Directory.Exists(commits))
            {
                Directory.Delete(commits, recursive: true);   // made by the first commit
            }

            File.WriteAllBytes(commits, new byte[13]);

            limiter.Blacklist(s_blacklistedAfter);
            Assert.True(SpinWait.SpinUntil(() => _log.Entries.Any(e => e.Id == 107), TimeSpan.FromSeconds(30)), "the failed commit was not reported");
            Assert.Contains(_log.Entries, e => e.Id == 107 && e.Message.Contains("did not complete within 2 s", StringComparison.Ordinal));
            Assert.Contains("did not complete within 2 s", limiter.JournalError, StringComparison.Ordinal);   // what health reports

            // The ban goes to disk by the checkpoint the writer asked for instead.
            Assert.True(SpinWait.SpinUntil(() => _log.Entries.Any(e => e.Id == 104), TimeSpan.FromSeconds(30)), "no checkpoint was taken instead");

            // Shutdown: the journal's last commit fails too, within its bound; Dispose returns.
            limiter.Blacklist(s_blockedAfter);
            var watch = Stopwatch.StartNew();
            limiter.Dispose();
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"Dispose took {watch.Elapsed}");
        }
        finally
        {
            limiter.Dispose();
        }

        using FloodgateLimiter recovered = Open();
        Assert.Equal(DecisionReason.Blacklisted, recovered.Check(s_blacklistedAfter).Reason);
        Assert.Equal(DecisionReason.Blacklisted, recovered.Check(s_blockedAfter).Reason);   // in the final checkpoint
        Assert.Null(recovered.JournalError);
        recovered.Blacklist(IPAddress.Parse("192.0.2.123"));
        WaitForJournal(recovered, 1);
        Assert.Null(recovered.JournalError);   // a journal that writes reports nothing
    }

    [Fact]
    public void MoreBansBetweenTwoWritesThanTheQueueHoldsTakeACheckpointAtOnceAndNoneIsLost()
    {
        const int Bans = 20_000;   // the queue holds 16,384
        // A table 4x the bans (about 8% full): at 30% a linear-probe run of 16 full slots, all protected by bans, is
        // likely somewhere in 65,536 slots (the longest run grows with ln(capacity)), and a client with no slot is
        // limited by the overflow entry, never banned: with some hash seeds one of 20,000 bans was never made.
        const int Capacity = 1 << 18;
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromHours(1), BlockDuration = TimeSpan.FromHours(1) };
        using var writing = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        using (FloodgateLimiter limiter = Open(policy: policy, capacity: Capacity))
        {
            limiter.JournalWriting = () =>
            {
                writing.Release();
                release.Wait(TimeSpan.FromSeconds(30));   // bounded: a failed assertion must not leave the writer held
            };
            Block(limiter, Client(0));
            Assert.True(writing.Wait(TimeSpan.FromSeconds(30)), "the writer did not start a write");

            // The writer is held: every ban from here waits in the queue, and the last 3,616 find it full.
            for (int i = 1; i < Bans; i++)
            {
                IPAddress client = Client(i);
                Decision first = limiter.Check(client);
                Decision second = limiter.Check(client);
                if (second.Reason != DecisionReason.Blocked)
                {
                    // A client left without a slot (see Capacity above) is refused without a ban: say everything if it happens.
                    ClientState state = limiter.Inspect(client);
                    Assert.Fail($"client {i}: first {first.Reason} (remaining {first.Remaining}), second {second.Reason} (retry {second.RetryAfter}, reset {second.ResetAfter}); " +
                        $"tracked {state.IsTracked}, count {state.Count}, blocks {state.BlockCount}, window active {state.IsWindowActive}; clock {limiter.Clock}; overflow {limiter.OverflowCount}");
                }
            }

            limiter.JournalWriting = null;
            release.Set();
            Assert.True(SpinWait.SpinUntil(() => _log.Entries.Any(e => e.Id == 109), TimeSpan.FromSeconds(30)), "the overflow was not reported");
            Assert.True(SpinWait.SpinUntil(() => _log.Entries.Any(e => e.Id == 104), TimeSpan.FromSeconds(60)), "no checkpoint was taken for the overflow");
            Assert.True(limiter.JournalRecordsWritten < Bans, "more records than the queue could hold: nothing overflowed");
            limiter.AbandonPersistence();   // a crash right after: the checkpoint has what the journal could not hold
        }

        using FloodgateLimiter recovered = Open(policy: policy, capacity: Capacity);
        Assert.DoesNotContain(_log.Entries, e => e.Id == 105);   // every recovered client found a slot
        for (int i = 0; i < Bans; i++)
        {
            Assert.True(recovered.Check(Client(i)).Reason == DecisionReason.Blocked, $"client {i} of {Bans} lost its ban; log: {string.Join(" | ", _log.Entries.Select(e => e.Id))}");
        }

        static IPAddress Client(int i) => new(BitConverter.GetBytes(0x0B000000 + i));
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

    private FloodgateLimiter Open(bool journal = true, FloodgatePolicy? policy = null, int capacity = 1024, TimeSpan? commitTimeout = null) =>
        new(policy ?? new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) }, new FloodgateLimiterOptions
        {
            Capacity = capacity,
            TimeProvider = _time,
            DataDirectory = _directory,
            CheckpointInterval = TimeSpan.FromHours(1),
            Logger = _log,
            JournalBans = journal,
            CheckpointTimeout = commitTimeout ?? TimeSpan.FromMinutes(2),
        });

    /// <summary>A checkpoint, then a block and a blacklisting journaled after it, then a crash; returns the journal's segment.</summary>
    private async Task<string> TwoBansAfterACheckpointThenACrashAsync()
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

        return Directory.GetFiles(Path.Combine(_directory, "journal"), "bans.log.*").Single();
    }

    /// <summary>After recovery: the block's record applied, the blacklisting's (the last record) lost, and event 108 logged.</summary>
    private void AssertTheLastBanLostAndSaid()
    {
        using FloodgateLimiter recovered = Open();
        Assert.Equal(DecisionReason.Blocked, recovered.Check(s_blockedAfter).Reason);
        Assert.True(recovered.Check(s_blacklistedAfter).IsAllowed);
        Assert.Contains(_log.Entries, e => e.Id == 108 && e.Level == LogLevel.Warning);
    }

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
