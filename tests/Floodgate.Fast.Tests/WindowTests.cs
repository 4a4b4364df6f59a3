namespace Floodgate.Tests;

public sealed class WindowTests
{
    private const string Client = "198.51.100.7";

    [Fact]
    public void PermitLimitRequestsAreAllowedPerWindowThenDenied()
    {
        using var h = new Harness(new() { PermitLimit = 3, Window = TimeSpan.FromSeconds(10) });

        List<Decision> decisions = h.Check(Client, 3);
        Assert.All(decisions, d => Assert.Equal(DecisionReason.Allowed, d.Reason));
        Assert.Equal([2, 1, 0], decisions.Select(d => d.Remaining));
        Assert.All(decisions, d => Assert.Equal(3, d.Limit));
        Assert.Equal(TimeSpan.FromSeconds(10), decisions[0].ResetAfter);
        Assert.Equal(TimeSpan.Zero, decisions[0].RetryAfter);

        h.AdvanceSeconds(4);
        Decision denied = h.Check(Client);
        Assert.Equal(DecisionReason.RateLimited, denied.Reason);
        Assert.False(denied.IsAllowed);
        Assert.Equal(0, denied.Remaining);
        Assert.Equal(TimeSpan.FromSeconds(6), denied.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(6), denied.ResetAfter);
    }

    [Fact]
    public void NextWindowStartsWithTheFirstRequestAfterThePreviousEnded()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromSeconds(10) });

        Assert.True(h.Check(Client).IsAllowed);      // window [0, 10)
        h.AdvanceSeconds(15);
        Assert.True(h.Check(Client).IsAllowed);      // window [15, 25), not aligned to multiples of 10
        h.AdvanceSeconds(5);
        Decision denied = h.Check(Client);           // t = 20: still inside [15, 25)
        Assert.Equal(DecisionReason.RateLimited, denied.Reason);
        Assert.Equal(TimeSpan.FromSeconds(5), denied.RetryAfter);
        h.AdvanceSeconds(5);
        Assert.True(h.Check(Client).IsAllowed);      // t = 25
    }

    [Fact]
    public void WindowEndsExactlyAfterItsLength()
    {
        using var h = new Harness(new() { PermitLimit = 1, Window = TimeSpan.FromMilliseconds(500) });
        Assert.True(h.Check(Client).IsAllowed);
        h.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(h.Check(Client).IsAllowed);
        h.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(h.Check(Client).IsAllowed);
    }

    [Fact]
    public void ClientsAreLimitedIndependently()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) });
        h.Check("203.0.113.1", 2);
        Assert.False(h.Check("203.0.113.1").IsAllowed);
        Assert.True(h.Check("203.0.113.2").IsAllowed);
        Assert.True(h.Check("2001:db8::1").IsAllowed);
    }

    [Fact]
    public void AddressesWithNoRemoteAddressShareOneLimitedKey()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) });
        Assert.True(h.Limiter.Check((System.Net.IPAddress?)null).IsAllowed);
        Assert.True(h.Limiter.Check(IpKey.Unknown).IsAllowed);
        Assert.Equal(DecisionReason.RateLimited, h.Limiter.Check((System.Net.IPAddress?)null).Reason);
        Assert.True(h.Limiter.Inspect((System.Net.IPAddress?)null).IsTracked);
    }

    [Fact]
    public void EquivalentAddressFormsShareALimit()
    {
        using var h = new Harness(new() { PermitLimit = 2, Window = TimeSpan.FromMinutes(1) });
        Assert.True(h.Check("192.0.2.1").IsAllowed);
        Assert.True(h.Check("::ffff:192.0.2.1").IsAllowed);
        Assert.Equal(DecisionReason.RateLimited, h.Check("64:ff9b::192.0.2.1").Reason);

        Assert.True(h.Check("2001:db8:5:6::1").IsAllowed);
        Assert.True(h.Check("2001:db8:5:6:ffff::99").IsAllowed);
        Assert.Equal(DecisionReason.RateLimited, h.Check("2001:db8:5:6::abcd").Reason);
    }
}
