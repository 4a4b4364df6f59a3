using System.Net;

namespace Floodgate.Tests;

/// <summary>
/// A running limiter takes a changed policy (configuration reload): every client keeps its state and the new numbers
/// apply from the next check; what would need another table is refused, naming the setting and its values.
/// </summary>
public sealed class ReconfigureTests
{
    private static FloodgatePolicy Policy(int permits, bool blocks = false) => new()
    {
        PermitLimit = permits,
        Window = TimeSpan.FromMinutes(1),
        BlockDuration = blocks ? TimeSpan.FromMinutes(10) : TimeSpan.Zero,
        BlockLimit = blocks ? 3 : null,
    };

    [Fact]
    public void ARaisedLimitAdmitsAClientAtOnceAndCountsWhatItSpent()
    {
        using var harness = new Harness(Policy(3));
        Assert.Equal(3, harness.Check("10.0.0.1", 3).Count(d => d.IsAllowed));
        Assert.Equal(DecisionReason.RateLimited, harness.Check("10.0.0.1").Reason);

        harness.Limiter.Reconfigure(Policy(10));

        // The 3 admitted before still count: 7 more in this window, not 10.
        List<Decision> after = harness.Check("10.0.0.1", 10);
        Assert.Equal(7, after.Count(d => d.IsAllowed));
        Assert.Equal(10, after[0].Limit);
        Assert.Equal(10, harness.Limiter.Policy.PermitLimit);
    }

    [Fact]
    public void ALoweredLimitLimitsAClientAlreadyOverItUntilItsWindowEnds()
    {
        using var harness = new Harness(Policy(10));
        Assert.All(harness.Check("10.0.0.2", 5), d => Assert.True(d.IsAllowed));

        harness.Limiter.Reconfigure(Policy(3));

        Assert.False(harness.Check("10.0.0.2").IsAllowed);
        harness.Advance(TimeSpan.FromMinutes(11));   // past the window (and the block its violation started)
        Assert.Equal(3, harness.Check("10.0.0.2", 5).Count(d => d.IsAllowed));
    }

    [Fact]
    public void ABlockKeepsItsEndAndTheNextBlockHasTheNewDuration()
    {
        using var harness = new Harness(Policy(1, blocks: true));
        harness.Check("10.0.0.3");
        Assert.Equal(DecisionReason.Blocked, harness.CheckUntilDenied("10.0.0.3").Reason);

        FloodgatePolicy longer = Policy(1, blocks: true);
        longer.BlockDuration = TimeSpan.FromHours(1);
        harness.Limiter.Reconfigure(longer);

        ClientState state = harness.Inspect("10.0.0.3");
        Assert.True(state.IsBlocked);
        Assert.Equal(1, state.BlockCount);
        harness.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));   // the running block ends as it was set
        Assert.True(harness.Check("10.0.0.3").IsAllowed);

        harness.Advance(TimeSpan.FromMinutes(1));
        harness.Check("10.0.0.3");
        harness.CheckUntilDenied("10.0.0.3");
        ClientState second = harness.Inspect("10.0.0.3");
        Assert.Equal(2, second.BlockCount);
        Assert.InRange(second.BlockExpiresAt!.Value - harness.Time.GetUtcNow(), TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
    }

    [Fact]
    public void ABlacklistingListsAndEventsSurviveAChange()
    {
        using var harness = new Harness(Policy(5));
        var events = new List<FloodgateEventKind>();
        harness.Limiter.ClientStateChanged += (sender, e) =>
        {
            Assert.Same(harness.Limiter, sender);
            events.Add(e.Kind);
        };
        Assert.True(harness.Limiter.Blacklist(IPAddress.Parse("10.0.0.4")));
        harness.Limiter.Denylist.Add(IPAddress.Parse("10.0.0.5"));

        harness.Limiter.Reconfigure(Policy(50));

        Assert.True(harness.Limiter.MayHoldBlacklisted);
        Assert.Equal(DecisionReason.Blacklisted, harness.Check("10.0.0.4").Reason);
        Assert.Equal(DecisionReason.Denylisted, harness.Check("10.0.0.5").Reason);
        harness.Limiter.Denylist.Remove(IPAddress.Parse("10.0.0.5"));
        Assert.True(harness.Check("10.0.0.5").IsAllowed);   // the lists' in-use flag follows the new engine

        Assert.True(harness.Limiter.Unblacklist(IPAddress.Parse("10.0.0.4")));
        Assert.Equal([FloodgateEventKind.Blacklisted, FloodgateEventKind.Unblacklisted], events);
    }

    [Fact]
    public void AChangeOfShapeOrKeyingIsRefusedNamingTheSettingsAndTheLimiterKeepsRunning()
    {
        using var harness = new Harness(Policy(3));
        harness.Check("10.0.0.6", 3);
        FloodgatePolicy other = Policy(10);
        other.Algorithm = FloodgateAlgorithm.TokenBucket;
        other.Ipv4PrefixLength = 24;

        var error = Assert.Throws<ArgumentException>(() => harness.Limiter.Reconfigure(other));
        Assert.Contains("Algorithm", error.Message, StringComparison.Ordinal);
        Assert.Contains("running FixedWindow, got TokenBucket", error.Message, StringComparison.Ordinal);
        Assert.Contains("Ipv4PrefixLength", error.Message, StringComparison.Ordinal);

        FloodgatePolicy invalid = Policy(3);
        invalid.PermitLimit = 0;
        Assert.Contains("PermitLimit", Assert.Throws<ArgumentException>(() => harness.Limiter.Reconfigure(invalid)).Message, StringComparison.Ordinal);

        Assert.Equal(3, harness.Limiter.Policy.PermitLimit);
        Assert.False(harness.Check("10.0.0.6").IsAllowed);
    }

    [Fact]
    public void APrecompiledLimiterCannotBeReconfigured()
    {
        using FloodgateLimiter limiter = FloodgateLimiter.Create<StaticPolicyTests.PlainPolicy>();
        Assert.Throws<InvalidOperationException>(() => limiter.Reconfigure(Policy(3)));
    }

    [Fact]
    public async Task ChangesWhileManyThreadsCheckOneClientNeverThrowAndNeverAdmitMoreThanTheLargestLimit()
    {
        using var harness = new Harness(new FloodgatePolicy { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) });
        IPAddress client = IPAddress.Parse("10.0.0.7");
        int admitted = 0;
        using var stop = new CancellationTokenSource();
        Task[] workers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                if (harness.Limiter.Check(client).IsAllowed)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        })).ToArray();
        Task changer = Task.Run(() =>
        {
            for (int i = 0; !workers.All(w => w.IsCompleted); i++)
            {
                harness.Limiter.Reconfigure(new FloodgatePolicy { PermitLimit = i % 2 == 0 ? 50 : 200, Window = TimeSpan.FromMinutes(1) });
            }
        });
        await Task.WhenAll(workers);
        await changer;

        // One window on a frozen clock: whatever the interleaving, no more than the largest limit it ever had.
        Assert.InRange(admitted, 50, 200);
    }
}
