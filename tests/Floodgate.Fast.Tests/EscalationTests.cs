namespace Floodgate.Tests;

public sealed class EscalationTests
{
    private const string Client = "192.0.2.50";

    private static FloodgatePolicy Policy(int blockLimit, TimeSpan exceed, bool reset = true) => new()
    {
        PermitLimit = 1,
        Window = TimeSpan.FromSeconds(10),
        BlockDuration = TimeSpan.FromSeconds(10),
        BlockLimit = blockLimit,
        BlockExceedDuration = exceed,
        BlockExceedReset = reset,
    };

    /// <summary>Uses the permit, then violates; returns the violating request's decision and waits for its block to end.</summary>
    private static Decision Violate(Harness h)
    {
        Decision d = h.CheckUntilDenied(Client);
        if (d.RetryAfter != TimeSpan.MaxValue)
        {
            h.Advance(d.RetryAfter);
        }

        return d;
    }

    [Fact]
    public void PassingTheBlockLimitBlacklistsAndDeniesTheTriggeringRequest()
    {
        using var h = new Harness(Policy(blockLimit: 2, FloodgatePolicy.Forever));
        Assert.Equal(DecisionReason.Blocked, Violate(h).Reason);
        Assert.Equal(DecisionReason.Blocked, Violate(h).Reason);

        // FlaskFloodgate served the request that triggered the blacklisting; Floodgate denies it.
        Decision trigger = Violate(h);
        Assert.Equal(DecisionReason.Blacklisted, trigger.Reason);
        Assert.Equal(TimeSpan.MaxValue, trigger.RetryAfter);

        h.Advance(TimeSpan.FromDays(365));
        Assert.Equal(DecisionReason.Blacklisted, h.Check(Client).Reason);
        ClientState state = h.Inspect(Client);
        Assert.True(state.IsBlacklisted);
        Assert.Null(state.BlockExpiresAt);
        Assert.Equal(3, state.BlockCount);
    }

    [Fact]
    public void BlockLimitZeroBlacklistsOnTheFirstViolation()
    {
        using var h = new Harness(Policy(blockLimit: 0, FloodgatePolicy.Forever));
        Assert.Equal(DecisionReason.Blacklisted, Violate(h).Reason);
    }

    [Fact]
    public void FinitePunishmentIsALongerBlock()
    {
        using var h = new Harness(Policy(blockLimit: 1, TimeSpan.FromHours(1)));
        Assert.Equal(TimeSpan.FromSeconds(10), Violate(h).RetryAfter);

        Decision d = h.CheckUntilDenied(Client);
        Assert.Equal(DecisionReason.Blocked, d.Reason);
        Assert.Equal(TimeSpan.FromHours(1), d.RetryAfter);
        ClientState state = h.Inspect(Client);
        Assert.True(state.IsBlocked);
        Assert.True(state.IsPunished);
        Assert.Equal(Harness.Start + TimeSpan.FromSeconds(10) + TimeSpan.FromHours(1), state.BlockExpiresAt);
    }

    [Fact]
    public void ServedPunishmentResetsTheBlockCountWithBlockExceedReset()
    {
        using var h = new Harness(Policy(blockLimit: 1, TimeSpan.FromHours(1), reset: true));
        Violate(h);
        Assert.Equal(TimeSpan.FromHours(1), Violate(h).RetryAfter);
        Assert.Equal(0, h.Inspect(Client).BlockCount);

        Assert.Equal(TimeSpan.FromSeconds(10), Violate(h).RetryAfter);   // an ordinary block again
        Assert.Equal(TimeSpan.FromHours(1), Violate(h).RetryAfter);      // then punished again
    }

    [Fact]
    public void WithoutBlockExceedResetEveryFurtherViolationIsPunished()
    {
        using var h = new Harness(Policy(blockLimit: 1, TimeSpan.FromHours(1), reset: false));
        Violate(h);
        Assert.Equal(TimeSpan.FromHours(1), Violate(h).RetryAfter);
        Assert.Equal(TimeSpan.FromHours(1), Violate(h).RetryAfter);
        Assert.Equal(TimeSpan.FromHours(1), Violate(h).RetryAfter);
        Assert.Equal(4, h.Inspect(Client).BlockCount);
    }

    [Fact]
    public void RelativeBlockAlsoExtendsAPunishment()
    {
        var policy = Policy(blockLimit: 0, TimeSpan.FromMinutes(5));
        policy.RelativeBlock = true;
        using var h = new Harness(policy);
        Assert.Equal(TimeSpan.FromMinutes(5), h.CheckUntilDenied(Client).RetryAfter);
        h.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(TimeSpan.FromMinutes(5), h.Check(Client).RetryAfter);
    }
}
