using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>Checkpoints to FASTER KV in real directories, and recovery from them.</summary>
public sealed class PersistenceTests : IDisposable
{
    private static readonly IPAddress s_blocked = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress s_banned = IPAddress.Parse("2001:db8:bad::1");
    private static readonly IPAddress s_counting = IPAddress.Parse("198.51.100.3");

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "floodgate-test-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(Harness.Start);
    private readonly CollectingLogger _log = new();

    private static FloodgatePolicy Policy() => new()
    {
        PermitLimit = 3,
        Window = TimeSpan.FromMinutes(1),
        BlockDuration = TimeSpan.FromMinutes(10),
        BlockLimit = 5,
    };

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private FloodgateLimiter Open(TimeProvider? time = null, int capacity = 1024, FloodgatePolicy? policy = null, bool journal = true) =>
        new(policy ?? Policy(), new FloodgateLimiterOptions
        {
            Capacity = capacity,
            TimeProvider = time ?? _time,
            DataDirectory = _directory,
            CheckpointInterval = TimeSpan.FromHours(1),
            Logger = _log,
            JournalBans = journal,
        });

    /// <summary>Builds a state with a block (count 1), a blacklisting, a counting window and list entries.</summary>
    private void BuildState(FloodgateLimiter limiter)
    {
        while (limiter.Check(s_blocked).IsAllowed)
        {
        }

        limiter.Blacklist(s_banned);
        limiter.Check(s_counting);
        limiter.Check(s_counting);
        limiter.Allowlist.Add(IPNetwork.Parse("10.0.0.0/8"));
        limiter.Denylist.Add(IPNetwork.Parse("2001:db8:dead::/48"));
    }

    private void AssertState(FloodgateLimiter limiter, TimeSpan elapsed)
    {
        ClientState blocked = limiter.Inspect(s_blocked);
        Assert.True(blocked.IsBlocked);
        Assert.Equal(1, blocked.BlockCount);
        Assert.Equal(Harness.Start + TimeSpan.FromMinutes(10), blocked.BlockExpiresAt);
        Assert.Equal(DecisionReason.Blocked, limiter.Check(s_blocked).Reason);
        Assert.Equal(TimeSpan.FromMinutes(10) - elapsed, limiter.Check(s_blocked).RetryAfter);

        Assert.True(limiter.Inspect(s_banned).IsBlacklisted);
        Assert.Equal(DecisionReason.Blacklisted, limiter.Check(IPAddress.Parse("2001:db8:bad::99")).Reason);

        Assert.Equal(2, limiter.Inspect(s_counting).Count);
        Assert.Equal(DecisionReason.Allowlisted, limiter.Check(IPAddress.Parse("10.9.9.9")).Reason);
        Assert.Equal(DecisionReason.Denylisted, limiter.Check(IPAddress.Parse("2001:db8:dead:1::1")).Reason);
    }

    [Fact]
    public void StateSurvivesDisposeAndRecoveryBeforeTheFirstCheck()
    {
        using (FloodgateLimiter first = Open())
        {
            BuildState(first);
        }   // Dispose takes the final checkpoint

        _time.Advance(TimeSpan.FromSeconds(30));
        using FloodgateLimiter second = Open();
        AssertState(second, TimeSpan.FromSeconds(30));
        Assert.Contains(_log.Entries, e => e.Id == 103 && e.Message.Contains("3 clients and 2 list entries", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(FloodgateAlgorithm.FixedWindow)]
    [InlineData(FloodgateAlgorithm.SlidingWindow)]
    [InlineData(FloodgateAlgorithm.TokenBucket)]
    public void EveryShapeGoesOnAfterARestartExactlyAsWithout(FloodgateAlgorithm algorithm)
    {
        // The same history into a limiter that restarts from its checkpoint and one that never stops: afterwards both
        // show the same state and decide alike (the sliding window's previous count, the bucket's fraction of a ms).
        FloodgatePolicy policy = new()
        {
            Algorithm = algorithm, PermitLimit = 7, Window = TimeSpan.FromSeconds(10), Burst = algorithm == FloodgateAlgorithm.TokenBucket ? 3 : null,
            BlockDuration = TimeSpan.FromSeconds(4), MaxClientsPerPrefix = 0,
        };
        using var reference = new FloodgateLimiter(policy, new FloodgateLimiterOptions { Capacity = 1024, TimeProvider = _time });
        IPAddress[] clients = [IPAddress.Parse("198.51.100.1"), IPAddress.Parse("198.51.100.2"), IPAddress.Parse("2001:db8::7")];
        var random = new Random(7);
        void Step(FloodgateLimiter limiter, int steps, bool compare)
        {
            for (int i = 0; i < steps; i++)
            {
                _time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 900)));
                IPAddress client = clients[random.Next(clients.Length)];
                Decision expected = reference.Check(client);
                Decision actual = limiter.Check(client);
                if (compare)
                {
                    Assert.Equal(expected.ToString() + expected.ResetAfter, actual.ToString() + actual.ResetAfter);
                }
            }
        }

        using (FloodgateLimiter first = Open(policy: policy))
        {
            Step(first, 60, compare: true);
        }

        using FloodgateLimiter second = Open(policy: policy);
        foreach (IPAddress client in clients)
        {
            Assert.Equal(reference.Inspect(client), second.Inspect(client));
        }

        Step(second, 200, compare: true);
    }

    [Fact]
    public void ASlidingWindowsPreviousCountSurvivesARestart()
    {
        var policy = new FloodgatePolicy { Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 10, Window = TimeSpan.FromSeconds(10), MaxClientsPerPrefix = 0 };
        ClientState before;
        using (FloodgateLimiter first = Open(policy: policy))
        {
            for (int i = 0; i < 8; i++)
            {
                first.Check(s_counting);
            }

            _time.Advance(TimeSpan.FromSeconds(12));   // 2 s into the next window: the 8 still weigh 6.4
            Assert.Equal(3, first.Check(s_counting).Remaining);   // 10 - 1 - 6.4, rounded up
            before = first.Inspect(s_counting);
        }

        using FloodgateLimiter second = Open(policy: policy);
        Assert.Equal(before, second.Inspect(s_counting));
        Assert.Equal(2, second.Check(s_counting).Remaining);  // the previous window still weighs: 10 - 2 - 6.4
    }

    [Fact]
    public async Task OnDemandCheckpointIsRecoveredAfterACrash()
    {
        FloodgateLimiter first = Open();
        BuildState(first);
        await first.CheckpointAsync();
        first.Check(IPAddress.Parse("203.0.113.200"));   // after the checkpoint: lost in the "crash"

        // No Dispose: the process "dies". The lock goes with the process; here, with the file handle.
        ReleaseWithoutCheckpoint(first);
        using FloodgateLimiter second = Open();
        AssertState(second, TimeSpan.Zero);
        Assert.False(second.Inspect(IPAddress.Parse("203.0.113.200")).IsTracked);
    }

    [Fact]
    public async Task PeriodicCheckpointsFollowTheInterval()
    {
        FloodgateLimiter first = new(Policy(), new FloodgateLimiterOptions
        {
            TimeProvider = _time,
            DataDirectory = _directory,
            CheckpointInterval = TimeSpan.FromSeconds(30),
            Logger = _log,
        });
        BuildState(first);
        _time.Advance(TimeSpan.FromSeconds(30));   // the timer fires a checkpoint
        await WaitForCheckpointsAsync(1);

        ReleaseWithoutCheckpoint(first);
        using FloodgateLimiter second = Open();
        AssertState(second, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AnIdleLimiterWritesNoPeriodicCheckpoint()
    {
        using FloodgateLimiter limiter = new(Policy(), new FloodgateLimiterOptions
        {
            TimeProvider = _time,
            DataDirectory = _directory,
            CheckpointInterval = TimeSpan.FromSeconds(30),
            Logger = _log,
        });
        _time.Advance(TimeSpan.FromSeconds(30));   // nothing happened yet: nothing to write
        Assert.Equal(1, limiter.SkippedCheckpoints);

        BuildState(limiter);
        _time.Advance(TimeSpan.FromSeconds(30));
        await WaitForCheckpointsAsync(1);

        for (int i = 0; i < 3; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));   // idle: the state on disk is the state in memory
        }

        Assert.Equal(4, limiter.SkippedCheckpoints);
        Assert.Equal(1, _log.Count(104));

        limiter.Unblock(s_blocked);                    // an operator change is a change too
        _time.Advance(TimeSpan.FromSeconds(30));
        await WaitForCheckpointsAsync(2);
        limiter.Check(s_counting);                     // and so is any decision
        _time.Advance(TimeSpan.FromSeconds(30));
        await WaitForCheckpointsAsync(3);
        Assert.Equal(4, limiter.SkippedCheckpoints);
    }

    [Fact]
    public void TicksWhileAPeriodicCheckpointRunsStartNoOtherAndAreNotCountedIdle()
    {
        using var writing = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        using FloodgateLimiter limiter = OpenWithCheckpointsHeld(writing, release);
        BuildState(limiter);
        _time.Advance(TimeSpan.FromSeconds(30));      // a periodic checkpoint starts, and is held before it writes
        Assert.True(writing.Wait(TimeSpan.FromSeconds(30)), "no periodic checkpoint started");

        _time.Advance(TimeSpan.FromSeconds(30));      // a slow disk: the next two ticks find it still running
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(2, limiter.BusyCheckpointTicks);
        Assert.Equal(0, limiter.SkippedCheckpoints);   // busy is not idle: the state on disk is not the state in memory yet

        release.Set();
        Assert.True(SpinWait.SpinUntil(() => _log.Count(104) >= 1, TimeSpan.FromSeconds(30)), "the held checkpoint was not written");
        _time.Advance(TimeSpan.FromSeconds(30));      // the first tick after it: nothing new, nothing written
        Assert.Equal(1, limiter.SkippedCheckpoints);
        Assert.False(writing.Wait(TimeSpan.FromMilliseconds(200)), "a busy tick queued a second checkpoint of the same state");
        Assert.Equal(1, _log.Count(104));
    }

    [Fact]
    public async Task APeriodicTickDuringARequestedCheckpointWritesNothingItHasWritten()
    {
        using var writing = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        using FloodgateLimiter limiter = OpenWithCheckpointsHeld(writing, release);
        BuildState(limiter);
        Task requested = limiter.CheckpointAsync();
        Assert.True(writing.Wait(TimeSpan.FromSeconds(30)), "the requested checkpoint did not start");

        _time.Advance(TimeSpan.FromSeconds(30));      // the state on disk is older than the table: a periodic one waits
        release.Set();
        await requested.WaitAsync(TimeSpan.FromSeconds(30));

        // Once it holds the gate, the periodic checkpoint finds that the requested one wrote everything.
        Assert.True(SpinWait.SpinUntil(() => limiter.SkippedCheckpoints == 1, TimeSpan.FromSeconds(30)), "the periodic checkpoint did not skip");
        Assert.Equal(1, _log.Count(104));
        Assert.Equal(0, limiter.BusyCheckpointTicks);
    }

    [Fact]
    public async Task ChecksGoOnExactlyWhileACheckpointCopiesTheTableAndItHoldsNoTornEntry()
    {
        // A table at a tenth of its capacity: every client has a slot, and no check evicts another (the table's
        // placement under pressure is not what this is about).
        const int Clients = 50_000;
        const int Capacity = 1 << 19;
        var policy = new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromHours(1), BlockDuration = TimeSpan.FromHours(1) };
        FloodgateLimiter limiter = Open(capacity: Capacity, policy: policy, journal: false);
        for (int i = 0; i < Clients; i++)
        {
            limiter.Check(Client(i));
        }

        IPAddress hot = IPAddress.Parse("203.0.113.250");
        Assert.True(limiter.Check(hot).IsAllowed);   // in the table before the checkpoint: 50,001 clients to write
        Assert.All(Enumerable.Range(0, Clients), i => Assert.True(limiter.Inspect(Client(i)).IsTracked));

        // Threads check while the checkpoint runs: the same clients again, and one hot client from all threads.
        int exporting = 0;
        limiter.CheckpointWriting = () => Volatile.Write(ref exporting, 1);
        Task checkpoint = limiter.CheckpointAsync();
        long duringExport = 0;
        int hotAllowed = 1;
        Task[] checkers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            var random = new Random(t);
            while (!checkpoint.IsCompleted)
            {
                limiter.Check(Client(random.Next(Clients)));
                if (limiter.Check(hot).IsAllowed)
                {
                    Interlocked.Increment(ref hotAllowed);
                }

                if (Volatile.Read(ref exporting) == 1)
                {
                    Interlocked.Increment(ref duringExport);
                }
            }
        })).ToArray();
        await checkpoint;
        await Task.WhenAll(checkers);

        Assert.True(duringExport > 0, "no check ran while the checkpoint was being written");
        Assert.InRange(hotAllowed, 1, policy.PermitLimit);   // never more than the limit, copy or not
        int[] final = Enumerable.Range(0, Clients).Select(i => limiter.Inspect(Client(i)).Count).ToArray();
        ReleaseWithoutCheckpoint(limiter);

        // Every client is in the checkpoint, with a count its entry really had: at least the count before the
        // checkpoint, at most the count after it. A torn copy (half an update) would show outside that range.
        Assert.Contains(_log.Entries, e => e.Id == 104 && e.Message.Contains($"of {Clients + 1} records", StringComparison.Ordinal));
        using FloodgateLimiter recovered = Open(capacity: Capacity, policy: policy, journal: false);
        Assert.DoesNotContain(_log.Entries, e => e.Id == 105);
        for (int i = 0; i < Clients; i++)
        {
            Assert.InRange(recovered.Inspect(Client(i)).Count, 1, final[i]);
        }

        Assert.Equal(hotAllowed == policy.PermitLimit ? DecisionReason.Blocked : DecisionReason.Allowed, recovered.Check(hot).Reason);

        static IPAddress Client(int i) => new(BitConverter.GetBytes(0x0C000000 + i));
    }

    [Fact]
    public async Task WithoutADataDirectoryCheckpointCompletesAtOnce()
    {
        using var limiter = new FloodgateLimiter(Policy());
        Task checkpoint = limiter.CheckpointAsync();
        Assert.True(checkpoint.IsCompletedSuccessfully);
        await checkpoint;
    }

    [Fact]
    public void ASecondLimiterOnTheSameDirectoryIsRefusedNamingIt()
    {
        using FloodgateLimiter first = Open();
        var error = Assert.Throws<InvalidOperationException>(() => Open());
        Assert.Contains(Path.GetFullPath(_directory), error.Message);
        Assert.Contains("in use", error.Message);
    }

    [Fact]
    public void AnUnusableDirectoryIsAClearErrorAtStartup()
    {
        Directory.CreateDirectory(_directory);
        string file = Path.Combine(_directory, "not-a-directory");
        File.WriteAllText(file, "x");
        var error = Assert.Throws<InvalidOperationException>(() => new FloodgateLimiter(Policy(), new FloodgateLimiterOptions { DataDirectory = Path.Combine(file, "data") }));
        Assert.Contains(Path.Combine(file, "data"), error.Message);
    }

    [Fact]
    public async Task AFailedCheckpointIsLoggedCountedAndChecksGoOn()
    {
        using FloodgateLimiter limiter = Open();
        BuildState(limiter);
        string checkpoints = Path.Combine(_directory, "checkpoints");
        Directory.Delete(checkpoints, recursive: true);
        File.WriteAllText(checkpoints, "a file where the checkpoints should go");

        Assert.Null(limiter.LastCheckpointError);
        await Assert.ThrowsAnyAsync<IOException>(() => limiter.CheckpointAsync());
        Assert.Contains(_log.Entries, e => e.Id == 100 && e.Level == LogLevel.Error);
        Assert.NotNull(limiter.LastCheckpointError);
        Assert.Equal(DecisionReason.Blocked, limiter.Check(s_blocked).Reason);
        Assert.True(limiter.Check(IPAddress.Parse("203.0.113.1")).IsAllowed);
        File.Delete(checkpoints);
        Directory.CreateDirectory(checkpoints);
    }

    [Fact]
    public async Task ADiskFullCheckpointIsLoggedCountedAndTheLastGoodOneStays()
    {
        string name = "disk-full-" + Guid.NewGuid().ToString("N");
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        long failures = 0;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Floodgate" && instrument.Name == "floodgate.checkpoints")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var t = tags.ToArray();
            if (t.Any(x => x.Key == "floodgate.limiter" && (string?)x.Value == name) && t.Any(x => x.Key == "floodgate.checkpoint.outcome" && (string?)x.Value == "failure"))
            {
                failures = value;
            }
        });
        listener.Start();

        var limiter = new FloodgateLimiter(Policy(), new FloodgateLimiterOptions
        {
            TimeProvider = _time,
            DataDirectory = _directory,
            CheckpointInterval = TimeSpan.FromHours(1),
            Logger = _log,
            Name = name,
            CheckpointTimeout = TimeSpan.FromSeconds(3),
        });
        BuildState(limiter);
        await limiter.CheckpointAsync();   // checkpoint 1: good

        // Checkpoint 2 writes its log to /dev/full: every write fails with ENOSPC, as on a full disk.
        string next = Directory.GetDirectories(Path.Combine(_directory, "checkpoints")).Max()![..^1] + "2";
        Directory.CreateDirectory(next);
        File.CreateSymbolicLink(Path.Combine(next, "hlog.log.0"), "/dev/full");

        IOException error = await Assert.ThrowsAsync<IOException>(() => limiter.CheckpointAsync());
        Assert.Contains(next, error.Message, StringComparison.Ordinal);   // names the checkpoint it could not write
        Assert.Contains(_log.Entries, e => e.Id == 100 && e.Level == LogLevel.Error);
        listener.RecordObservableInstruments();
        Assert.Equal(1, failures);
        Assert.False(Directory.Exists(next));                              // the partial checkpoint is gone
        Assert.Equal(DecisionReason.Blocked, limiter.Check(s_blocked).Reason);   // checks go on

        ReleaseWithoutCheckpoint(limiter);
        using FloodgateLimiter recovered = Open();                         // checkpoint 1 is still there
        AssertState(recovered, TimeSpan.Zero);
    }

    [Theory]
    [InlineData(3_650)]
    [InlineData(-3_650)]
    public void WallClockMovedTenYearsKeepsBlocksWithinThePolicy(int days)
    {
        using (FloodgateLimiter first = Open())
        {
            BuildState(first);
        }

        // A new process whose wall clock is ten years off: remaining block times stay within [0, the policy's longest block].
        var moved = new FakeTimeProvider(Harness.Start + TimeSpan.FromDays(days));
        using FloodgateLimiter second = Open(moved);
        Decision d = second.Check(s_blocked);
        if (days > 0)
        {
            Assert.True(d.IsAllowed);   // the block ended years ago
        }
        else
        {
            Assert.Equal(DecisionReason.Blocked, d.Reason);
            Assert.Equal(TimeSpan.FromMinutes(10), d.RetryAfter);   // ten years and ten minutes, cut to the policy's longest block
        }

        Assert.Equal(DecisionReason.Blacklisted, second.Check(s_banned).Reason);
        Assert.True(second.Check(s_counting).IsAllowed);
    }

    [Fact]
    public async Task DamagedFilesOfTheNewestCheckpointFallBackToThePreviousOne()
    {
        // Checkpoints alone: a journal would replay the later ban over the previous checkpoint and hide a fallback.
        using (FloodgateLimiter first = Open(journal: false))
        {
            BuildState(first);
            await first.CheckpointAsync();                     // checkpoint 1: the full state
            first.Blacklist(IPAddress.Parse("192.0.2.99"));
        }   // checkpoint 2: one more ban

        string newest = Directory.GetDirectories(Path.Combine(_directory, "checkpoints")).Max()!;
        string[] files = Directory.GetFiles(newest, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        byte[][] originals = files.Select(File.ReadAllBytes).ToArray();
        int fallbacks = 0;
        foreach ((string file, int index) in files.Select((f, i) => (f, i)))
        {
            foreach (string damage in new[] { "flip", "truncate" })
            {
                byte[] bytes = (byte[])originals[index].Clone();
                if (damage == "flip" && bytes.Length > 0)
                {
                    for (int i = 0; i < bytes.Length; i += 97)
                    {
                        bytes[i] ^= 0x5A;
                    }
                }
                else
                {
                    bytes = bytes[..(bytes.Length / 2)];
                }

                File.WriteAllBytes(file, bytes);
                _log.Clear();
                using (FloodgateLimiter recovered = Open(journal: false))
                {
                    // Never a mix, and never the damaged checkpoint: the records carry a checksum, the metadata files are
                    // checked against Floodgate's manifest before FASTER reads them, and the manifest carries its own.
                    AssertState(recovered, TimeSpan.Zero);
                    string what = $"{damage} {Path.GetRelativePath(newest, file)}";
                    Assert.False(recovered.Inspect(IPAddress.Parse("192.0.2.99")).IsBlacklisted, $"{what}: the damaged checkpoint was loaded");
                    Assert.True(_log.Entries.Any(e => e.Id == 101), $"{what}: fell back without logging why");
                    fallbacks++;

                    ReleaseWithoutCheckpoint(recovered);
                }

                // Put the checkpoints back as they were for the next round.
                RestoreCheckpoints(newest, files, originals);
            }
        }

        Assert.Equal(files.Length * 2, fallbacks);
        Assert.Contains(files, f => Path.GetFileName(f) == "floodgate.manifest");
    }

    [Fact]
    public async Task GarbageInFastersMetadataIsCaughtByFloodgatesManifestBeforeFasterReadsIt()
    {
        using (FloodgateLimiter first = Open(journal: false))
        {
            BuildState(first);
            await first.CheckpointAsync();                     // checkpoint 1
            first.Blacklist(IPAddress.Parse("192.0.2.99"));
        }   // checkpoint 2

        string newest = Directory.GetDirectories(Path.Combine(_directory, "checkpoints")).Max()!;
        string[] metadata = Directory.GetFiles(newest, "info.dat*", SearchOption.AllDirectories);
        Assert.Equal(2, metadata.Length);   // the index's and the commit's
        var random = new Random(7);
        foreach (string file in metadata)
        {
            byte[] garbage = new byte[new FileInfo(file).Length];
            random.NextBytes(garbage);
            File.WriteAllBytes(file, garbage);
        }

        using (FloodgateLimiter recovered = Open(journal: false))
        {
            AssertState(recovered, TimeSpan.Zero);
            Assert.False(recovered.Inspect(IPAddress.Parse("192.0.2.99")).IsBlacklisted);   // checkpoint 1
            Assert.Contains(_log.Entries, e => e.Id == 101 && e.Message.Contains("does not match the metadata manifest", StringComparison.Ordinal));
            ReleaseWithoutCheckpoint(recovered);
        }

        // A checkpoint from before manifests existed (none on disk) is read as it always was.
        string previous = Directory.GetDirectories(Path.Combine(_directory, "checkpoints")).Min()!;
        Directory.Delete(newest, recursive: true);
        File.Delete(Path.Combine(previous, "floodgate.manifest"));
        _log.Clear();
        using FloodgateLimiter legacy = Open(journal: false);
        AssertState(legacy, TimeSpan.Zero);
        Assert.DoesNotContain(_log.Entries, e => e.Id == 101);
    }

    [Fact]
    public void WithEveryCheckpointDamagedStartupLogsAnErrorAndStartsEmpty()
    {
        // Checkpoints alone (the ban journal would bring the bans back: JournalTests).
        using (FloodgateLimiter first = Open(journal: false))
        {
            BuildState(first);
        }

        foreach (string file in Directory.GetFiles(Path.Combine(_directory, "checkpoints"), "*", SearchOption.AllDirectories))
        {
            File.WriteAllBytes(file, new byte[7]);
        }

        using FloodgateLimiter recovered = Open(journal: false);
        Assert.False(recovered.Inspect(s_blocked).IsTracked);
        Assert.Contains(_log.Entries, e => e.Id == 102 && e.Level == LogLevel.Error);
        Assert.True(recovered.Check(s_blocked).IsAllowed);
    }

    [Fact]
    public async Task OldCheckpointsAreRemoved()
    {
        using FloodgateLimiter limiter = Open();
        for (int i = 0; i < 6; i++)
        {
            limiter.Blacklist(IPAddress.Parse($"192.0.2.{i}"));
            await limiter.CheckpointAsync();
        }

        Assert.Equal(2, Directory.GetDirectories(Path.Combine(_directory, "checkpoints")).Length);
    }

    [Fact]
    public void RecoveredClientsThatDoNotFitAreLoggedBlockedOnesFirst()
    {
        using (FloodgateLimiter first = Open(capacity: 4096))
        {
            for (uint i = 0; i < 600; i++)
            {
                first.Check(IpKey.FromIPv4(0x0A000000u + i));
            }

            first.Blacklist(s_banned);
        }

        using FloodgateLimiter small = Open(capacity: 16);
        Assert.True(small.Inspect(s_banned).IsBlacklisted);
        Assert.Contains(_log.Entries, e => e.Id == 105 && e.Level == LogLevel.Warning);
        Assert.Contains(_log.Entries, e => e.Id == 103 && e.Message.Contains("recovered 16 clients", StringComparison.Ordinal));
    }

    /// <summary>Simulates a process that died: the directory is released without a final checkpoint.</summary>
    /// <summary>
    /// A limiter checkpointing every 30 s whose checkpoints, once they hold the gate, signal <paramref name="writing"/>
    /// and wait for <paramref name="release"/> (bounded: a failed assertion must not leave Dispose waiting).
    /// </summary>
    private FloodgateLimiter OpenWithCheckpointsHeld(SemaphoreSlim writing, ManualResetEventSlim release)
    {
        var limiter = new FloodgateLimiter(Policy(), new FloodgateLimiterOptions
        {
            TimeProvider = _time,
            DataDirectory = _directory,
            CheckpointInterval = TimeSpan.FromSeconds(30),
            Logger = _log,
        });
        limiter.CheckpointWriting = () =>
        {
            writing.Release();
            release.Wait(TimeSpan.FromSeconds(30));
        };
        return limiter;
    }

    private static void ReleaseWithoutCheckpoint(FloodgateLimiter limiter) => limiter.AbandonPersistence();

    private static void RestoreCheckpoints(string newest, string[] files, byte[][] originals)
    {
        string root = Path.GetDirectoryName(newest)!;
        if (!Directory.Exists(newest))
        {
            Directory.CreateDirectory(newest);
        }

        for (int i = 0; i < files.Length; i++)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(files[i])!);
            File.WriteAllBytes(files[i], originals[i]);
        }

        // Recovery from the previous checkpoint may have pruned nothing; remove checkpoints it did not start from.
        foreach (string dir in Directory.GetDirectories(root).Where(d => string.CompareOrdinal(d, newest) > 0))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private Task WaitForCheckpointsAsync(int count)
    {
        // The fake clock fired the timer synchronously; the checkpoint itself runs on the thread pool.
        Assert.True(SpinWait.SpinUntil(() => _log.Count(104) >= count, TimeSpan.FromSeconds(30)), "no periodic checkpoint was written");
        return Task.CompletedTask;
    }
}
