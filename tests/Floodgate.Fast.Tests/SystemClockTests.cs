using System.Net;
using Floodgate.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// The clocks checks read on <see cref="TimeProvider.System"/>: the kernel's coarse clock (Linux), the parking
/// ticker elsewhere, the provider itself for short policies. Whatever they read, it is never ahead of the stamps.
/// </summary>
[Collection(nameof(SystemClock))]
public sealed class SystemClockTests
{
    private static readonly IPAddress s_client = IPAddress.Parse("192.0.2.201");

    [Fact]
    public void OnLinuxChecksReadTheKernelCoarseClock()
    {
        Assert.Equal(OperatingSystem.IsLinux(), KernelCoarseClock.IsUsable);
        using var limiter = new FloodgateLimiter(new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
        Assert.Equal(OperatingSystem.IsLinux() ? ClockSource.Kernel : ClockSource.Ticker, limiter.ClockReading);
    }

    [Fact]
    public void PoliciesWithShortDurationsReadTheProvider()
    {
        Assert.Equal(ClockSource.Provider, Reading(new() { PermitLimit = 1, Window = TimeSpan.FromMilliseconds(100) }));
        Assert.Equal(ClockSource.Provider, Reading(new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), Cooldown = TimeSpan.FromMilliseconds(50) }));
        Assert.Equal(ClockSource.Provider, Reading(new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMilliseconds(200) }));
        Assert.NotEqual(ClockSource.Provider, Reading(new() { PermitLimit = 1, Window = TimeSpan.FromMilliseconds(250), BlockDuration = TimeSpan.FromSeconds(1) }));

        // A fake provider is always read directly: tests move it by hand.
        using var fake = new FloodgateLimiter(new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) }, new() { TimeProvider = new FakeTimeProvider() });
        Assert.Equal(ClockSource.Provider, fake.ClockReading);

        static ClockSource Reading(FloodgatePolicy policy)
        {
            using var limiter = new FloodgateLimiter(policy);
            return limiter.ClockReading;
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheCoarseClockIsNeverAheadOfTheStampsAndNeverFarBehind(bool kernel)
    {
        ClockSource source = kernel ? ClockSource.Kernel : ClockSource.Ticker;
        var clock = new MonotonicClock(TimeProvider.System, source: source, shortestDuration: TimeSpan.FromMinutes(1));
        Assert.Equal(source == ClockSource.Kernel && !KernelCoarseClock.IsUsable ? ClockSource.Ticker : source, clock.Reading);

        // Two threads read a stamp, "now" and a stamp again, two million times each. "Now" is never after the stamp
        // read after it; its lag is measured against the stamp read before it, so that a thread preempted between
        // the reads (a loaded machine) makes the measured lag smaller, never larger.
        long worstLag = 0;
        Parallel.For(0, 2, _ =>
        {
            long lag = 0;
            for (int i = 0; i < 2_000_000; i++)
            {
                long before = clock.StampMs();
                long now = clock.NowMs();
                long after = clock.StampMs();
                Assert.True(now <= after, $"{source}: a check read {now} ms, ahead of the stamp {after} ms taken after it");
                lag = Math.Max(lag, before - now);
            }

            InterlockedMax(ref worstLag, lag);
        });

        // It moves: the coarse clock follows the provider (a kernel tick is at most 10 ms; the ticker ~1 ms, or wakes).
        long start = clock.NowMs();
        Assert.True(SpinWait.SpinUntil(() => clock.NowMs() >= start + 20, TimeSpan.FromSeconds(10)), $"{source} did not advance");
        if (clock.Reading == ClockSource.Kernel)
        {
            // The arithmetic's bound is one kernel tick (the coarse clock's resolution) plus 3 ms: 1 ms each for the
            // tick count's rounding down, the origin's rounding up, and the safety margin (KernelClockTests proves it
            // deterministically). On a real machine a tick's interrupt can come late under load and add its delay
            // (8 ms seen here at worst beside a busy process): allowed up to one more tick.
            Assert.True(worstLag <= (2 * KernelTickMs()) + 3, $"the kernel clock lagged the provider by {worstLag} ms; a tick is {KernelTickMs()} ms");
        }
        else
        {
            // About 1 ms while the ticker's thread has a core; beside a CPU-bound process it waits for one (14 ms measured).
            Assert.True(worstLag < 100, $"{source} lagged the provider by {worstLag} ms");
        }
    }

    /// <summary>The kernel tick: the resolution of <c>CLOCK_MONOTONIC_COARSE</c>, rounded up to whole milliseconds.</summary>
    private static long KernelTickMs()
    {
        Assert.Equal(0, ClockGetRes(6, out TimeSpec resolution));   // CLOCK_MONOTONIC_COARSE
        return ((resolution.Seconds * 1_000_000_000) + resolution.Nanoseconds + 999_999) / 1_000_000;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_getres")]
    private static extern int ClockGetRes(int clock, out TimeSpec resolution);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [Fact]
    public void TheTickerParksWithoutChecksAndTheNextCheckReadsTheProvider()
    {
        CoarseTimestamp ticker = ParkingTicker.System;
        ticker.Read();
        long parks = ParkingTicker.Parks;

        // No check reads it (other tests' limiters read the kernel clock): within a lease or two, it parks.
        Assert.True(SpinWait.SpinUntil(() => ParkingTicker.Parks > parks, TimeSpan.FromSeconds(10)), "the ticker never parked");
        Assert.True(SpinWait.SpinUntil(() => (ticker.Word & CoarseTimestamp.ParkedFlag) != 0, TimeSpan.FromSeconds(1)));
        long published = ticker.Milliseconds;
        SpinWait.SpinUntil(() => ticker.ToMilliseconds(TimeProvider.System.GetTimestamp()) > published + 30, TimeSpan.FromSeconds(1));

        // Parked, the published time is stale: the check reads the provider instead, and the ticker runs again.
        long before = ticker.ToMilliseconds(TimeProvider.System.GetTimestamp());
        long read = ticker.Read();
        long after = ticker.ToMilliseconds(TimeProvider.System.GetTimestamp());
        Assert.InRange(read, before, after);
        Assert.True(read > published + 30);
        Assert.Equal(0, ticker.Word & CoarseTimestamp.ParkedFlag);
        Assert.True(SpinWait.SpinUntil(() => ticker.Milliseconds > read, TimeSpan.FromSeconds(5)), "the ticker did not resume publishing");
    }

    [Fact]
    public void ALimiterOnTheTickerKeepsCountingAcrossParks()
    {
        using var limiter = new FloodgateLimiter(
            new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) },
            new() { ClockSource = ClockSource.Ticker });
        Assert.Equal(ClockSource.Ticker, limiter.ClockReading);
        Assert.True(limiter.Check(s_client).IsAllowed);
        long parks = ParkingTicker.Parks;
        Assert.True(SpinWait.SpinUntil(() => ParkingTicker.Parks > parks, TimeSpan.FromSeconds(10)), "the ticker never parked");
        Decision denied = limiter.Check(s_client);
        Assert.Equal(DecisionReason.RateLimited, denied.Reason);
        Assert.InRange(denied.RetryAfter, TimeSpan.FromSeconds(50), TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void AnUnknownClockSwitchStopsTheLimiterWithItsNameAndValue()
    {
        AppContext.SetData(MonotonicClock.SwitchName, "sundial");
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => new FloodgateLimiter(new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) }));
            Assert.Contains("Floodgate.Clock", error.Message, StringComparison.Ordinal);
            Assert.Contains("'sundial'", error.Message, StringComparison.Ordinal);

            AppContext.SetData(MonotonicClock.SwitchName, "Ticker");
            using var ticker = new FloodgateLimiter(new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
            Assert.Equal(ClockSource.Ticker, ticker.ClockReading);

            AppContext.SetData(MonotonicClock.SwitchName, "precise");
            using var precise = new FloodgateLimiter(new() { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
            Assert.Equal(ClockSource.Provider, precise.ClockReading);
        }
        finally
        {
            AppContext.SetData(MonotonicClock.SwitchName, null);
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long current = Volatile.Read(ref target);
        while (value > current)
        {
            long seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}

/// <summary>
/// Tests that read the shared parking ticker or set the process-wide clock switch run alone: another test's
/// limiter would otherwise keep the ticker awake, or pick up the switch.
/// </summary>
[CollectionDefinition(nameof(SystemClock), DisableParallelization = true)]
public sealed class SystemClock;
