using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>Stress tests: real threads hammering shared keys on a frozen fake clock, so every count is exact.</summary>
public sealed class ConcurrencyTests
{
    private const int Rounds = 40;

    private static FloodgateLimiter Create(FloodgatePolicy policy, FakeTimeProvider time, int capacity = 4096) =>
        new(policy, new FloodgateLimiterOptions { Capacity = capacity, TimeProvider = time });

    /// <summary>Runs <paramref name="work"/> on <paramref name="threads"/> threads released together.</summary>
    private static void RunTogether(int threads, Action<int> work)
    {
        using var barrier = new Barrier(threads);
        var workers = Enumerable.Range(0, threads)
            .Select(t => new Thread(() => { barrier.SignalAndWait(); work(t); }) { IsBackground = true })
            .ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => Assert.True(w.Join(TimeSpan.FromMinutes(1)), "a worker did not finish"));
    }

    [Fact]
    public void TwoThreadsHammeringOneKeyGrantExactlyThePermitLimitPerWindow()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using FloodgateLimiter limiter = Create(new() { PermitLimit = 1000, Window = TimeSpan.FromMinutes(1) }, time);
        IpKey key = IpKey.FromIPv4(0xC0000201);

        for (int round = 0; round < Rounds; round++)
        {
            var granted = new int[2];
            RunTogether(2, t =>
            {
                for (int i = 0; i < 5_000; i++)
                {
                    if (limiter.Check(key).IsAllowed)
                    {
                        granted[t]++;
                    }
                }
            });

            Assert.Equal(1000, granted[0] + granted[1]);
            Assert.Equal(round + 1, limiter.Inspect(key).BlockCount);   // exactly one block counted per window
            time.Advance(TimeSpan.FromMinutes(1));
        }
    }

    [Fact]
    public void ThreadsHammeringOneKeyOfATokenBucketGrantExactlyItsBurstAndItsRefill()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using FloodgateLimiter limiter = Create(new() { Algorithm = FloodgateAlgorithm.TokenBucket, PermitLimit = 1000, Burst = 500, Window = TimeSpan.FromMinutes(1) }, time);
        IpKey key = IpKey.FromIPv4(0xC0000202);

        for (int round = 0; round < Rounds; round++)
        {
            var granted = new int[4];
            RunTogether(4, t =>
            {
                for (int i = 0; i < 2_000; i++)
                {
                    if (limiter.Check(key).IsAllowed)
                    {
                        granted[t]++;
                    }
                }
            });

            Assert.Equal(500, granted.Sum());                          // the burst, then nothing at the same instant
            Assert.Equal(round + 1, limiter.Inspect(key).BlockCount);  // one violation per episode, however many threads refused
            time.Advance(TimeSpan.FromSeconds(30));                    // 30 s at 1000 a minute refills exactly 500
        }
    }

    [Fact]
    public void ThreadsHammeringOneKeyOfASlidingWindowGrantExactlyWhatTheEstimateAllows()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using FloodgateLimiter limiter = Create(new() { Algorithm = FloodgateAlgorithm.SlidingWindow, PermitLimit = 1000, Window = TimeSpan.FromMinutes(1) }, time);
        IpKey key = IpKey.FromIPv4(0xC0000203);

        int Hammer()
        {
            var granted = new int[4];
            RunTogether(4, t =>
            {
                for (int i = 0; i < 2_000; i++)
                {
                    if (limiter.Check(key).IsAllowed)
                    {
                        granted[t]++;
                    }
                }
            });
            return granted.Sum();
        }

        int previous = 1000;
        Assert.Equal(previous, Hammer());
        for (int round = 0; round < Rounds; round++)
        {
            // Half-way into each next window, the previous window's count weighs half: 1000 - previous / 2 more
            // (500, 750, 625, ...), exactly, the estimate admitting while c + previous × 0.5 < 1000.
            time.Advance(TimeSpan.FromSeconds(round == 0 ? 90 : 60));
            int expected = 1000 - (previous / 2);
            Assert.Equal(expected, Hammer());
            previous = expected;
        }
    }

    [Fact]
    public void TwoThreadsRacingOnANewKeyShareOneSlotAndOneLimit()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using FloodgateLimiter limiter = Create(new() { PermitLimit = 100, Window = TimeSpan.FromMinutes(1), MaxWindowDuration = TimeSpan.FromMinutes(1) }, time, capacity: 64);

        // 2,000 new keys through 64 slots: most inserts evict, which is where two inserters of one key can meet. Each
        // round's key ends with a violation on record (its history), forgotten after a minute of quiet: the clock moves
        // on two minutes per round so that the slots can be taken (a slot with history never is).
        for (int round = 0; round < 2_000; round++)
        {
            IpKey key = IpKey.FromIPv4(0x0A000000u + (uint)round);   // a key nobody has seen: both threads insert it
            var granted = new int[2];
            RunTogether(2, t =>
            {
                for (int i = 0; i < 300; i++)
                {
                    if (limiter.Check(key).IsAllowed)
                    {
                        granted[t]++;
                    }
                }
            });

            Assert.True(granted[0] + granted[1] == 100, $"round {round}: granted {granted[0]}+{granted[1]}");
            Assert.Equal(100, limiter.Inspect(key).Count);
            time.Advance(TimeSpan.FromMinutes(2));
        }
    }

    [Fact]
    public void HammeringWithBlocksGrantsThePermitLimitAndStartsOneBlock()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using FloodgateLimiter limiter = Create(new()
        {
            PermitLimit = 500,
            Window = TimeSpan.FromSeconds(10),
            BlockDuration = TimeSpan.FromSeconds(30),
            BlockLimit = 1_000,
        }, time);
        int blockEvents = 0;
        limiter.ClientStateChanged += (_, e) => Interlocked.Increment(ref blockEvents);
        IpKey key = IpKey.FromIPv4(0xC6336401);

        for (int round = 0; round < Rounds; round++)
        {
            var granted = new int[2];
            var denied = new int[2];
            RunTogether(2, t =>
            {
                for (int i = 0; i < 2_000; i++)
                {
                    Decision d = limiter.Check(key);
                    granted[t] += d.IsAllowed ? 1 : 0;

                    // Blocked, or RateLimited for a request that raced the block being written: denied either way.
                    denied[t] += d.Reason is DecisionReason.Blocked or DecisionReason.RateLimited ? 1 : 0;
                }
            });

            Assert.True(500 == granted[0] + granted[1], $"round {round}: granted {granted[0]}+{granted[1]}, state {limiter.Inspect(key)}");
            Assert.Equal(4_000 - 500, denied[0] + denied[1]);
            Assert.Equal(DecisionReason.Blocked, limiter.Check(key).Reason);
            Assert.Equal(round + 1, Volatile.Read(ref blockEvents));
            time.Advance(TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public void ManyKeysInParallelAgreeWithASequentialModel()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        const int PermitLimit = 20;
        using FloodgateLimiter limiter = Create(new() { PermitLimit = PermitLimit, Window = TimeSpan.FromMinutes(1), Cooldown = TimeSpan.Zero }, time, capacity: 8192);
        var random = new Random(7);

        // 2,000 keys (each in its own /24, so no network's MaxClientsPerPrefix is reached), each requested a random
        // number of times, interleaved at random over 4 threads.
        int[] requests = Enumerable.Range(0, 2_000).Select(_ => random.Next(1, 45)).ToArray();
        int[] work = requests.SelectMany((count, key) => Enumerable.Repeat(key, count)).OrderBy(_ => random.Next()).ToArray();
        var granted = new ConcurrentDictionary<int, int>();
        RunTogether(4, t =>
        {
            for (int i = t; i < work.Length; i += 4)
            {
                if (limiter.Check(IpKey.FromIPv4(0x64000000u + ((uint)work[i] << 8))).IsAllowed)
                {
                    granted.AddOrUpdate(work[i], 1, (_, n) => n + 1);
                }
            }
        });

        for (int key = 0; key < requests.Length; key++)
        {
            int expected = Math.Min(requests[key], PermitLimit);     // the sequential model: first come, first served
            Assert.Equal(expected, granted.GetValueOrDefault(key));
            Assert.Equal(expected, limiter.Inspect(IpKey.FromIPv4(0x64000000u + ((uint)key << 8))).Count);
        }
    }

    [Fact]
    public void CooldownAdmitsExactlyOneRequestPerPeriodUnderContention()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using FloodgateLimiter limiter = Create(new() { PermitLimit = 1_000, Window = TimeSpan.FromHours(1), Cooldown = TimeSpan.FromSeconds(1) }, time);
        IpKey key = IpKey.FromIPv4(0xCB007101);

        for (int round = 0; round < Rounds; round++)
        {
            var granted = new int[2];
            RunTogether(2, t =>
            {
                for (int i = 0; i < 1_000; i++)
                {
                    granted[t] += limiter.Check(key).IsAllowed ? 1 : 0;
                }
            });

            Assert.True(granted[0] + granted[1] == 1, $"round {round}: granted {granted[0]}+{granted[1]} {limiter.Inspect(key)}");
            time.Advance(TimeSpan.FromSeconds(1));
        }
    }
}
