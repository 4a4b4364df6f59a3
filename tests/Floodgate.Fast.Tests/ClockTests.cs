using System.Net;
using Floodgate.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// Checks read a coarse clock that may lag the provider; stored times are stamped from the provider. A lag can
/// only make a denial last longer, never let a request through early.
/// </summary>
public sealed class ClockTests
{
    private static readonly IPAddress s_client = IPAddress.Parse("192.0.2.200");

    private static (FloodgateLimiter Limiter, FakeTimeProvider Time, CoarseTimestamp Coarse) Create(FloodgatePolicy policy)
    {
        var time = new FakeTimeProvider(Harness.Start);
        var coarse = new CoarseTimestamp(time);
        var limiter = new FloodgateLimiter(policy, new FloodgateLimiterOptions { TimeProvider = time, CoarseClock = coarse });
        return (limiter, time, coarse);
    }

    [Fact]
    public void ALaggingClockNeverEndsAWindowEarly()
    {
        var (limiter, time, coarse) = Create(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10) });
        using (limiter)
        {
            coarse.Publish();
            time.Advance(TimeSpan.FromSeconds(3));                 // the coarse clock falls 3 s behind
            Assert.True(limiter.Check(s_client).IsAllowed);       // the window starts at t = 3 s (stamped), not t = 0

            time.Advance(TimeSpan.FromSeconds(7));
            coarse.Publish();                                     // t = 10 s: 3 s short of the window's end
            Assert.Equal(DecisionReason.RateLimited, limiter.Check(s_client).Reason);

            time.Advance(TimeSpan.FromSeconds(3));                 // t = 13 s, but the coarse clock still says 10 s
            Decision lagging = limiter.Check(s_client);
            Assert.Equal(DecisionReason.RateLimited, lagging.Reason);
            Assert.Equal(TimeSpan.FromSeconds(3), lagging.RetryAfter);

            coarse.Publish();
            Assert.True(limiter.Check(s_client).IsAllowed);
        }
    }

    [Fact]
    public void ALaggingClockNeverEndsABlockOrCooldownEarly()
    {
        var (limiter, time, coarse) = Create(new()
        {
            PermitLimit = 2,
            Window = TimeSpan.FromMinutes(1),
            BlockDuration = TimeSpan.FromSeconds(30),
            Cooldown = TimeSpan.FromSeconds(1),
        });
        using (limiter)
        {
            coarse.Publish();
            Assert.True(limiter.Check(s_client).IsAllowed);
            time.Advance(TimeSpan.FromSeconds(1));                 // cooldown over by the provider, not by the coarse clock
            Assert.Equal(DecisionReason.Cooldown, limiter.Check(s_client).Reason);
            coarse.Publish();
            Assert.True(limiter.Check(s_client).IsAllowed);

            time.Advance(TimeSpan.FromSeconds(5));
            coarse.Publish();                                     // the coarse clock says 6 s
            time.Advance(TimeSpan.FromSeconds(2));                 // the violation happens at t = 8 s
            Assert.Equal(DecisionReason.Blocked, limiter.Check(s_client).Reason);
            Assert.Equal(Harness.Start + TimeSpan.FromSeconds(38), limiter.Inspect(s_client).BlockExpiresAt);   // stamped 8 s + 30 s

            time.Advance(TimeSpan.FromSeconds(30));                // t = 38 s: the block is over...
            Assert.Equal(DecisionReason.Blocked, limiter.Check(s_client).Reason);   // ...but the coarse clock says 6 s
            coarse.Publish();
            Assert.True(limiter.Check(s_client).IsAllowed);
        }
    }

    [Fact]
    public void AParkedSourceIsReadFromTheProviderAndWakesItsTickerOnce()
    {
        var time = new FakeTimeProvider(Harness.Start);
        int wakes = 0;
        var coarse = new CoarseTimestamp(time) { Unparked = () => Interlocked.Increment(ref wakes) };
        time.Advance(TimeSpan.FromSeconds(1));
        coarse.Publish();
        Assert.True(coarse.TrySetFlags(coarse.Word, CoarseTimestamp.ParkedFlag));

        time.Advance(TimeSpan.FromMinutes(10));                    // the published time is now 10 minutes old
        Assert.Equal(601_000, coarse.Read());                      // the provider's time, not the stale one
        Assert.Equal(1, wakes);
        Assert.Equal(0, coarse.Word & CoarseTimestamp.ParkedFlag);
        Assert.Equal(601_000, coarse.Milliseconds);                // published for the checks that follow
        Assert.Equal(601_000, coarse.Read());
        Assert.Equal(1, wakes);                                    // only the check that unparked it wakes the ticker
    }

    [Fact]
    public void TheFirstCheckOfALeaseAnswersTheTickersProbe()
    {
        var time = new FakeTimeProvider(Harness.Start);
        var coarse = new CoarseTimestamp(time);
        time.Advance(TimeSpan.FromSeconds(2));
        coarse.Publish();
        Assert.True(coarse.TrySetFlags(coarse.Word, CoarseTimestamp.ProbeFlag));
        time.Advance(TimeSpan.FromSeconds(1));
        coarse.Publish();                                          // publishing keeps the probe
        Assert.Equal(CoarseTimestamp.ProbeFlag, coarse.Word & CoarseTimestamp.ProbeFlag);

        Assert.Equal(3_000, coarse.Read());                        // the published time...
        Assert.Equal(0, coarse.Word & CoarseTimestamp.ProbeFlag);  // ...and the probe is answered
    }
}
