namespace Floodgate.Tests;

public sealed class BlockTests
{
    private const string Client = "198.51.100.20";

    [Fact]
    public void ExceedingTheLimitBlocksForBlockDurationAndDeniesTheTriggeringRequest()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(30) });
        h.Check(Client, 2);

        Decision trigger = h.Check(Client);
        Assert.Equal(DecisionReason.Blocked, trigger.Reason);
        Assert.Equal(TimeSpan.FromSeconds(30), trigger.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(30), trigger.ResetAfter);

        h.AdvanceSeconds(12);   // the window is over, the block is not
        Decision stillBlocked = h.Check(Client);
        Assert.Equal(DecisionReason.Blocked, stillBlocked.Reason);
        Assert.Equal(TimeSpan.FromSeconds(18), stillBlocked.RetryAfter);

        h.AdvanceSeconds(18);
        Decision back = h.Check(Client);
        Assert.Equal(DecisionReason.Allowed, back.Reason);
        Assert.Equal(1, back.Remaining);   // a fresh window
    }

    [Fact]
    public void BlockShorterThanTheWindowReturnsTheClientToAFreshWindow()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromSeconds(5) });
        h.Check(Client, 2);
        Assert.Equal(DecisionReason.Blocked, h.Check(Client).Reason);
        h.AdvanceSeconds(5);
        Assert.Equal([DecisionReason.Allowed, DecisionReason.Allowed], h.Check(Client, 2).Select(d => d.Reason));
        Assert.Equal(DecisionReason.Blocked, h.Check(Client).Reason);
        Assert.Equal(2, h.Inspect(Client).BlockCount);
    }

    [Fact]
    public void ZeroBlockDurationDeniesUntilTheWindowEndsAndStillCountsABlock()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromSeconds(10) });
        h.Check(Client, 2);
        h.AdvanceSeconds(3);

        Decision trigger = h.Check(Client);
        Assert.Equal(DecisionReason.RateLimited, trigger.Reason);
        Assert.Equal(TimeSpan.FromSeconds(7), trigger.RetryAfter);
        ClientState state = h.Inspect(Client);
        Assert.Equal(1, state.BlockCount);
        Assert.False(state.IsBlocked);

        h.AdvanceSeconds(7);
        Assert.True(h.Check(Client).IsAllowed);
    }

    [Fact]
    public void AtMostOneBlockIsCountedPerWindow()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10) });
        h.Check(Client);
        List<Decision> denied = h.Check(Client, 100);
        Assert.All(denied, d => Assert.Equal(DecisionReason.RateLimited, d.Reason));
        Assert.Equal(1, h.Inspect(Client).BlockCount);
    }

    [Fact]
    public void BlockCountCountsEpisodesNotBlockedRequests()
    {
        // FlaskFloodgate counted every blocked request toward its block limit; Floodgate counts block episodes.
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromMinutes(1), BlockLimit = 3 });
        h.Check(Client);
        Assert.Equal(DecisionReason.Blocked, h.Check(Client).Reason);
        List<Decision> duringBlock = h.Check(Client, 50);
        Assert.All(duringBlock, d => Assert.Equal(DecisionReason.Blocked, d.Reason));
        Assert.Equal(1, h.Inspect(Client).BlockCount);
    }

    [Fact]
    public void RelativeBlockRestartsTheBlockTimerOnEveryBlockedRequest()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(30), RelativeBlock = true });
        h.Check(Client);
        Assert.Equal(TimeSpan.FromSeconds(30), h.Check(Client).RetryAfter);   // blocked until 30

        h.AdvanceSeconds(20);
        Assert.Equal(TimeSpan.FromSeconds(30), h.Check(Client).RetryAfter);   // restarted: until 50
        h.AdvanceSeconds(25);
        Decision stillBlocked = h.Check(Client);                               // t = 45 < 50, restarted: until 75
        Assert.Equal(DecisionReason.Blocked, stillBlocked.Reason);
        Assert.Equal(TimeSpan.FromSeconds(30), stillBlocked.RetryAfter);

        h.AdvanceSeconds(30);
        Assert.True(h.Check(Client).IsAllowed);
    }

    [Fact]
    public void AbsoluteBlockRunsFromTheFirstBlockedRequest()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10), BlockDuration = TimeSpan.FromSeconds(30) });
        h.Check(Client);
        h.Check(Client);
        h.AdvanceSeconds(20);
        Assert.Equal(TimeSpan.FromSeconds(10), h.Check(Client).RetryAfter);
        h.AdvanceSeconds(10);
        Assert.True(h.Check(Client).IsAllowed);
    }

    [Fact]
    public void AdaptiveBlocksGrowByTheMultiplierUpToMaxBlockDuration()
    {
        using var h = new Harness(new()
        {
            PermitLimit = 1,
            Window = TimeSpan.FromSeconds(1),
            BlockDuration = TimeSpan.FromSeconds(10),
            BlockMultiplier = 2.0,
            MaxBlockDuration = TimeSpan.FromSeconds(35),
        });

        var lengths = new List<TimeSpan>();
        for (int i = 0; i < 5; i++)
        {
            Decision block = h.CheckUntilDenied(Client);
            Assert.Equal(DecisionReason.Blocked, block.Reason);
            lengths.Add(block.RetryAfter);
            h.Advance(block.RetryAfter);
        }

        Assert.Equal([10, 20, 35, 35, 35], lengths.Select(t => t.TotalSeconds));
    }

    [Fact]
    public void MaxWindowDurationForgetsTheBlockCountAfterQuietTime()
    {
        using var h = new Harness(new()
        {
            PermitLimit = 1,
            Window = TimeSpan.FromSeconds(10),
            BlockDuration = TimeSpan.FromSeconds(10),
            BlockMultiplier = 3.0,
            MaxWindowDuration = TimeSpan.FromHours(1),
        });

        h.Check(Client);
        Assert.Equal(TimeSpan.FromSeconds(10), h.Check(Client).RetryAfter);
        h.AdvanceSeconds(10);
        h.Check(Client);
        Assert.Equal(TimeSpan.FromSeconds(30), h.Check(Client).RetryAfter);    // second block: 10 × 3
        Assert.Equal(2, h.Inspect(Client).BlockCount);

        h.AdvanceSeconds(30);                                                    // the block ends at t = 40 s
        h.Advance(TimeSpan.FromHours(1) - TimeSpan.FromMilliseconds(1));        // quiet for just under an hour
        Assert.Equal(2, h.Inspect(Client).BlockCount);
        h.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, h.Inspect(Client).BlockCount);
        h.Check(Client);
        Assert.Equal(TimeSpan.FromSeconds(10), h.Check(Client).RetryAfter);    // first block again
    }
}
