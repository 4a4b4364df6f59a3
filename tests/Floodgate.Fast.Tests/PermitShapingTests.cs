namespace Floodgate.Tests;

/// <summary>The knobs that shape the permits of a window: carry-over, cooldown and grace.</summary>
public sealed class PermitShapingTests
{
    private const string Client = "203.0.113.77";

    [Fact]
    public void UnusedPermitsCarryOverCappedAtAccumulateLimit()
    {
        using var h = new Harness(new() { PermitLimit = 5, Window = TimeSpan.FromSeconds(10), AccumulateRequests = true, AccumulateLimit = 3 });
        h.Check(Client);                                  // window 1 uses 1 of 5: 4 unused, 3 carried
        h.AdvanceSeconds(10);

        List<Decision> second = h.Check(Client, 9);
        Assert.Equal(8, second.Count(d => d.IsAllowed));
        Assert.Equal(7, second[0].Remaining);
        ClientState state = h.Inspect(Client);
        Assert.Equal(8, state.Count);
        Assert.Equal(0, state.Remaining);
    }

    [Fact]
    public void CarryOverIsCappedWhateverTheGap()
    {
        // FlaskFloodgate let carried-over permits grow without bound.
        using var h = new Harness(new() { PermitLimit = 5, Window = TimeSpan.FromSeconds(10), AccumulateRequests = true, AccumulateLimit = 3 });
        h.Check(Client);
        h.Advance(TimeSpan.FromHours(3));                // many windows' worth of idle time
        Assert.Equal(8, h.Check(Client, 20).Count(d => d.IsAllowed));
        h.AdvanceSeconds(10);
        Assert.Equal(5, h.Check(Client, 20).Count(d => d.IsAllowed));   // nothing unused last window
    }

    [Fact]
    public void AccumulateLimitDefaultsToPermitLimit()
    {
        using var h = new Harness(new() { PermitLimit = 4, Window = TimeSpan.FromSeconds(10), AccumulateRequests = true });
        h.Check(Client);
        h.AdvanceSeconds(10);
        h.AdvanceSeconds(10);
        Assert.Equal(7, h.Check(Client, 20).Count(d => d.IsAllowed));   // 4 + min(3 unused, 4)
    }

    [Fact]
    public void CarryOverIsForgottenAfterMaxWindowDuration()
    {
        using var h = new Harness(new() { PermitLimit = 5, Window = TimeSpan.FromSeconds(10), AccumulateRequests = true, MaxWindowDuration = TimeSpan.FromMinutes(1) });
        h.Check(Client);
        h.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(5, h.Check(Client, 20).Count(d => d.IsAllowed));
    }

    [Fact]
    public void CooldownDeniesRequestsTooSoonAfterAnAllowedOneWithoutCountingABlock()
    {
        using var h = new Harness(new() { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), Cooldown = TimeSpan.FromSeconds(2) });
        Assert.True(h.Check(Client).IsAllowed);
        h.AdvanceSeconds(0.5);

        Decision tooSoon = h.Check(Client);
        Assert.Equal(DecisionReason.Cooldown, tooSoon.Reason);
        Assert.Equal(TimeSpan.FromSeconds(1.5), tooSoon.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(59.5), tooSoon.ResetAfter);
        Assert.Equal(DecisionReason.Cooldown, h.Check(Client).Reason);

        h.AdvanceSeconds(1.5);
        Decision next = h.Check(Client);
        Assert.True(next.IsAllowed);
        Assert.Equal(8, next.Remaining);                 // cooldown denials were not counted
        ClientState state = h.Inspect(Client);
        Assert.Equal(2, state.Count);
        Assert.Equal(0, state.BlockCount);
    }

    [Fact]
    public void CooldownPeriodIsNotUsedUpByARequestTheWindowDenies()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10), Cooldown = TimeSpan.FromSeconds(3) });
        Assert.True(h.Check(Client).IsAllowed);
        h.AdvanceSeconds(9);
        Assert.Equal(DecisionReason.RateLimited, h.Check(Client).Reason);
        h.AdvanceSeconds(1);
        Assert.True(h.Check(Client).IsAllowed);          // the denied request at t=9 did not start a cooldown
    }

    [Fact]
    public void GracePermitsLetANewClientSlightlyOverTheLimit()
    {
        using var h = new Harness(new() { PermitLimit = 3, Window = TimeSpan.FromSeconds(10), GracePermits = 2, BlockDuration = TimeSpan.FromSeconds(10) });
        List<Decision> first = h.Check(Client, 6);
        Assert.Equal(5, first.Count(d => d.IsAllowed));
        Assert.Equal(0, first[3].Remaining);             // grace is not advertised as remaining
        Assert.Equal(DecisionReason.Blocked, first[5].Reason);
    }

    [Fact]
    public void GraceEndsOnceABlockIsOnRecordAndReturnsWhenItIsForgotten()
    {
        using var h = new Harness(new()
        {
            PermitLimit = 3,
            Window = TimeSpan.FromSeconds(10),
            GracePermits = 2,
            BlockDuration = TimeSpan.FromSeconds(10),
            MaxWindowDuration = TimeSpan.FromMinutes(10),
        });
        h.CheckUntilDenied(Client);
        h.AdvanceSeconds(10);
        Assert.Equal(3, h.Check(Client, 10).Count(d => d.IsAllowed));   // block on record: no grace

        h.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(5, h.Check(Client, 10).Count(d => d.IsAllowed));   // forgotten: grace again
    }
}
