using System.Net;
using Floodgate.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// The production coarse clock's arithmetic (the kernel's tick count plus a bias that puts it on the stamps' scale),
/// driven deterministically: a fake provider with nanosecond timestamps, as the stopwatch's are on Linux, and a tick
/// count the test moves as the kernel would, at each tick.
/// </summary>
public sealed class KernelClockTests
{
    private static readonly IPAddress s_client = IPAddress.Parse("192.0.2.210");

    [Theory]
    [InlineData(0)]
    [InlineData(400_000)]      // a clock created 0.4 ms past a millisecond: the origin's rounding matters
    [InlineData(999_999)]
    public void TheReadingIsNeverAheadOfTheStampsAndLagsAtMostATickPlusThreeMilliseconds(long originOffsetNs)
    {
        const long TickNs = 4_000_000;   // CONFIG_HZ=250
        var time = new NanosecondTime(Harness.Start);
        time.AdvanceNs(originOffsetNs);
        var kernel = new KernelTicks(time);
        var clock = new MonotonicClock(time, kernelTicks: kernel.Read);
        Assert.Equal(ClockSource.KernelTicksForTests, clock.Reading);

        long worst = 0;
        long nextTick = 0;
        for (long ns = 0; ns < 200_000_000; ns += 100_000)   // 200 ms in steps of 0.1 ms, the kernel ticking every 4 ms
        {
            if (time.Ns >= nextTick)
            {
                kernel.Tick();
                nextTick += TickNs;
            }

            long before = clock.StampMs();
            long now = clock.NowMs();
            Assert.True(now <= before, $"at {time.Ns} ns the reading {now} is ahead of the stamp {before}");
            worst = Math.Max(worst, before - now);
            time.AdvanceNs(100_000);
        }

        Assert.InRange(worst, TickNs / 1_000_000, (TickNs / 1_000_000) + 3);   // the README's bound: a tick plus 3 ms
    }

    [Fact]
    public void ALaggingKernelClockNeverEndsAWindowEarly()
    {
        var time = new NanosecondTime(Harness.Start);
        var kernel = new KernelTicks(time);
        using var limiter = new FloodgateLimiter(
            new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10) },
            new FloodgateLimiterOptions { TimeProvider = time, KernelTicks = kernel.Read });
        Assert.Equal(ClockSource.KernelTicksForTests, limiter.ClockReading);

        kernel.Tick();
        time.Advance(TimeSpan.FromSeconds(3));                 // the kernel's tick count falls 3 s behind
        Assert.True(limiter.Check(s_client).IsAllowed);       // the window starts at t = 3 s (stamped), not t = 0

        // t = 13 s: the window is over by the provider, not by the tick count. A full window would make this
        // request a violation; it is not one: the provider is asked before one is recorded, and a new window starts.
        time.Advance(TimeSpan.FromSeconds(10));
        Decision next = limiter.Check(s_client);
        Assert.True(next.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(10), next.ResetAfter);
        Assert.Equal(0, limiter.Inspect(s_client).BlockCount);

        // A violation inside that window (t = 13 s by both clocks' lights) denies until its end, 10 s...
        Decision violation = limiter.Check(s_client);
        Assert.Equal(DecisionReason.RateLimited, violation.Reason);
        Assert.Equal(TimeSpan.FromSeconds(10), violation.RetryAfter);
        Assert.Equal(1, limiter.Inspect(s_client).BlockCount);

        // ...and past its end by the provider (t = 23 s), the lagging tick count (0 s) keeps denying: late, never early.
        time.Advance(TimeSpan.FromSeconds(10));
        Decision lagging = limiter.Check(s_client);
        Assert.Equal(DecisionReason.RateLimited, lagging.Reason);
        Assert.Equal(TimeSpan.FromSeconds(23) + TimeSpan.FromMilliseconds(1), lagging.RetryAfter);   // 23 s behind, and the 1 ms margin

        kernel.Tick();                                        // t = 23 s on both: the margin keeps it one millisecond short
        Assert.Equal(TimeSpan.FromMilliseconds(1), limiter.Check(s_client).RetryAfter);
        time.Advance(TimeSpan.FromMilliseconds(1));
        kernel.Tick();
        Assert.True(limiter.Check(s_client).IsAllowed);       // the next window
        Assert.Equal(1, limiter.Inspect(s_client).BlockCount);
    }

    [Fact]
    public void ALaggingKernelClockNeverEndsABlockEarly()
    {
        var time = new NanosecondTime(Harness.Start);
        var kernel = new KernelTicks(time);
        using var limiter = new FloodgateLimiter(
            new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromSeconds(30) },
            new FloodgateLimiterOptions { TimeProvider = time, KernelTicks = kernel.Read });
        kernel.Tick();
        Assert.True(limiter.Check(s_client).IsAllowed);
        time.Advance(TimeSpan.FromSeconds(2));                 // the violation happens at t = 2 s; the tick count says 0
        Assert.Equal(DecisionReason.Blocked, limiter.Check(s_client).Reason);
        Assert.Equal(Harness.Start + TimeSpan.FromSeconds(32), limiter.Inspect(s_client).BlockExpiresAt);   // stamped 2 s + 30 s

        time.Advance(TimeSpan.FromSeconds(30));                // t = 32 s: the block is over by the provider...
        Decision lagging = limiter.Check(s_client);
        Assert.Equal(DecisionReason.Blocked, lagging.Reason);  // ...not by the tick count (0 s)
        Assert.Equal(TimeSpan.FromSeconds(32) + TimeSpan.FromMilliseconds(1), lagging.RetryAfter);
        time.Advance(TimeSpan.FromMilliseconds(1));
        kernel.Tick();
        Assert.True(limiter.Check(s_client).IsAllowed);       // a fresh window after the block
    }

    /// <summary>A fake clock whose timestamps are nanoseconds since its start, as the stopwatch's are on Linux.</summary>
    private sealed class NanosecondTime : FakeTimeProvider
    {
        private readonly long _origin;
        private long _extraNs;

        public NanosecondTime(DateTimeOffset start)
            : base(start)
        {
            _origin = base.GetTimestamp();
        }

        public long Ns => GetTimestamp();

        public override long TimestampFrequency => 1_000_000_000;

        public override long GetTimestamp() => ((base.GetTimestamp() - _origin) * (1_000_000_000 / base.TimestampFrequency)) + Volatile.Read(ref _extraNs);

        /// <summary>Moves the timestamps by less than the fake clock's own resolution (100 ns ticks).</summary>
        public void AdvanceNs(long ns)
        {
            long whole = ns / 100 * 100;
            Advance(TimeSpan.FromTicks(whole / 100));
            Interlocked.Add(ref _extraNs, ns - whole);
        }
    }

    /// <summary>The kernel's coarse tick count: the fine clock in whole milliseconds, as it stood at the last tick.</summary>
    private sealed class KernelTicks(NanosecondTime time)
    {
        private long _atLastTickNs;

        public void Tick() => Volatile.Write(ref _atLastTickNs, time.Ns);

        public long Read() => Volatile.Read(ref _atLastTickNs) / 1_000_000;
    }
}
