using System.Net;
using Floodgate.Persistence;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// Checkpoints run on a thread of their own and complete FASTER's writes there: a checkpoint never takes, nor
/// blocks, a thread-pool thread, which the app's requests need (one per core: a one-CPU container has one).
/// </summary>
[Collection(nameof(ThreadPoolObservations))]
public sealed class CheckpointThreadTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "floodgate-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task PeriodicAndRequestedCheckpointsWriteNothingOnThePool()
    {
        var time = new FakeTimeProvider(Harness.Start);
        // Checkpoints only: the ban journal's commits run FasterLog's small metadata write on a pool thread (it waits on nothing).
        var options = new FloodgateLimiterOptions { TimeProvider = time, DataDirectory = _directory, CheckpointInterval = TimeSpan.FromSeconds(30), JournalBans = false };
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) };
        var client = IPAddress.Parse("192.0.2.77");
        long before = SynchronousFileDevice.WritesOnPoolThreads;
        var limiter = new FloodgateLimiter(policy, options);
        try
        {
            limiter.Check(client);
            limiter.Check(client);                                   // blocked
            await Task.Run(() => time.Advance(TimeSpan.FromSeconds(30)));   // the timer fires on a pool thread
            Assert.True(SpinWait.SpinUntil(() => limiter.LastCheckpointAt is not null, TimeSpan.FromSeconds(30)), "no periodic checkpoint");

            limiter.Check(IPAddress.Parse("192.0.2.78"));
            await Task.Run(() => limiter.CheckpointAsync());         // asked for from a pool thread
            Assert.Equal(before, SynchronousFileDevice.WritesOnPoolThreads);
        }
        finally
        {
            limiter.AbandonPersistence();                            // no final checkpoint on this (pool) thread
            limiter.Dispose();
        }

        using var recovered = new FloodgateLimiter(policy, options);
        Assert.Equal(DecisionReason.Blocked, recovered.Check(client).Reason);
        Assert.True(recovered.Inspect(IPAddress.Parse("192.0.2.78")).IsTracked);
    }

    [Fact]
    public void OnTheSystemClockTheSchedulerThreadTimesCheckpointsAndIdleOnesAreSkipped()
    {
        // Checkpoints only: the ban journal's commits run FasterLog's small metadata write on a pool thread (it waits on nothing).
        var options = new FloodgateLimiterOptions { DataDirectory = _directory, CheckpointInterval = TimeSpan.FromMilliseconds(100), JournalBans = false };
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) };
        var client = IPAddress.Parse("192.0.2.79");
        long before = SynchronousFileDevice.WritesOnPoolThreads;
        using (var limiter = new FloodgateLimiter(policy, options))
        {
            limiter.Check(client);
            limiter.Check(client);
            Assert.True(SpinWait.SpinUntil(() => limiter.LastCheckpointAt is not null, TimeSpan.FromSeconds(30)), "no periodic checkpoint");

            // On a loaded machine the first checkpoint may land between the two checks, and a tick may find it still
            // running (busy, not idle: it starts nothing). The first idle tick says every change has been written.
            // From then on, nothing changes and nothing is written.
            Assert.True(SpinWait.SpinUntil(() => limiter.SkippedCheckpoints > 0, TimeSpan.FromSeconds(30)), "no idle tick was skipped");
            DateTimeOffset? written = limiter.LastCheckpointAt;
            long skipped = limiter.SkippedCheckpoints;
            Assert.True(SpinWait.SpinUntil(() => limiter.SkippedCheckpoints >= skipped + 3, TimeSpan.FromSeconds(30)), "idle ticks were not skipped");
            Assert.Equal(written, limiter.LastCheckpointAt);
            Assert.Equal(before, SynchronousFileDevice.WritesOnPoolThreads);   // before the final checkpoint, on this thread
        }

        using var recovered = new FloodgateLimiter(policy, options);
        Assert.Equal(DecisionReason.Blocked, recovered.Check(client).Reason);
    }
}

/// <summary>Tests that count what runs on the thread pool run alone: other tests' limiters dispose on pool threads.</summary>
[CollectionDefinition(nameof(ThreadPoolObservations), DisableParallelization = true)]
public sealed class ThreadPoolObservations;
