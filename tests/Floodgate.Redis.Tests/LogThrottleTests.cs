using Floodgate.Redis.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Redis.Tests;

/// <summary>A warning that repeats while Redis is down is logged at most once a minute, saying how many were left out, on one line.</summary>
public sealed class LogThrottleTests
{
    [Fact]
    public void TheFirstIsLoggedThenOneAMinuteWithTheCountLeftOut()
    {
        var time = new FakeTimeProvider();
        var throttle = new LogThrottle(time, TimeSpan.FromMinutes(1));
        Assert.True(throttle.ShouldLog(out int omitted));
        Assert.Equal(0, omitted);
        int lines = 0;
        for (int i = 0; i < 600; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));   // a check or a ban sync every 100 ms, for a minute
            if (throttle.ShouldLog(out omitted))
            {
                lines++;
                Assert.Equal(599, omitted);                  // the line at the minute: the 599 before it were left out
            }
        }

        Assert.Equal(1, lines);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(throttle.ShouldLog(out omitted));
        Assert.Equal(0, omitted);   // none since the last line
        Assert.Equal("first line", LogThrottle.FirstLine("first line\r\n   at StackExchange.Redis..."));
        Assert.Equal("one line", LogThrottle.FirstLine("one line"));
    }

    [Fact]
    public void ManyThreadsGetOneLineAnInterval()
    {
        var time = new FakeTimeProvider();
        var throttle = new LogThrottle(time, TimeSpan.FromMinutes(1));
        int logged = 0;
        Parallel.For(0, 10_000, _ =>
        {
            if (throttle.ShouldLog(out _))
            {
                Interlocked.Increment(ref logged);
            }
        });
        Assert.Equal(1, logged);
    }
}
