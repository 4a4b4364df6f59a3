using System.Net;

namespace Floodgate.Tests;

/// <summary>exemption → allowlist → denylist or blacklist → active block → cooldown → window roll → count.</summary>
public sealed class EvaluationOrderTests
{
    private const string Client = "198.51.100.99";

    private static FloodgatePolicy Strict() => new()
    {
        PermitLimit = 1,
        Window = TimeSpan.FromMinutes(1),
        BlockDuration = TimeSpan.FromMinutes(10),
        Cooldown = TimeSpan.FromSeconds(30),
    };

    [Fact]
    public void AllowlistComesFirstAndIsNotCounted()
    {
        using var h = new Harness(Strict());
        h.Limiter.Allowlist.Add(IPNetwork.Parse("198.51.100.0/24"));
        h.Limiter.Denylist.Add(IPAddress.Parse(Client));
        h.Limiter.Blacklist(IPAddress.Parse(Client));

        List<Decision> decisions = h.Check(Client, 20);
        Assert.All(decisions, d => Assert.Equal(DecisionReason.Allowlisted, d.Reason));
        Assert.All(decisions, d => Assert.True(d.IsAllowed));
        ClientState state = h.Inspect(Client);
        Assert.Equal(0, state.Count);
        Assert.True(state.IsAllowlisted);
    }

    [Fact]
    public void DenylistComesBeforeBlacklistAndBlock()
    {
        using var h = new Harness(Strict());
        h.Check(Client, 2);                                   // now blocked
        h.Limiter.Denylist.Add(IPNetwork.Parse("198.51.100.96/28"));
        Decision d = h.Check(Client);
        Assert.Equal(DecisionReason.Denylisted, d.Reason);
        Assert.Equal(TimeSpan.MaxValue, d.RetryAfter);
        Assert.False(h.Limiter.Allowlist.Contains(IPAddress.Parse(Client)));
    }

    [Fact]
    public void BlacklistComesBeforeAnActiveBlock()
    {
        FloodgatePolicy policy = Strict();
        policy.Cooldown = TimeSpan.Zero;
        using var h = new Harness(policy);
        h.Check(Client, 2);
        Assert.Equal(DecisionReason.Blocked, h.Check(Client).Reason);
        Assert.True(h.Limiter.Blacklist(IPAddress.Parse(Client)));
        Assert.Equal(DecisionReason.Blacklisted, h.Check(Client).Reason);
    }

    [Fact]
    public void ActiveBlockComesBeforeCooldown()
    {
        using var h = new Harness(Strict());
        h.Check(Client);
        h.AdvanceSeconds(30);
        h.Check(Client);                                      // the violation: blocked for 10 minutes
        h.AdvanceSeconds(1);                                  // inside both the block and a cooldown
        Decision d = h.Check(Client);
        Assert.Equal(DecisionReason.Blocked, d.Reason);
        Assert.Equal(TimeSpan.FromSeconds(599), d.RetryAfter);
    }

    [Fact]
    public void CooldownComesBeforeCountingAndNeverBlocks()
    {
        using var h = new Harness(Strict());
        h.Check(Client);
        List<Decision> decisions = h.Check(Client, 10);       // over the limit, but inside the cooldown
        Assert.All(decisions, d => Assert.Equal(DecisionReason.Cooldown, d.Reason));
        Assert.Equal(0, h.Inspect(Client).BlockCount);
        Assert.False(h.Inspect(Client).IsBlocked);
    }

    [Fact]
    public void WindowRollComesBeforeCounting()
    {
        using var h = new Harness(Strict());
        h.Check(Client);
        h.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(DecisionReason.Allowed, h.Check(Client).Reason);
    }
}
