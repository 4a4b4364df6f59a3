using System.Net;

namespace Floodgate.Tests;

/// <summary>FloodgatePolicy.Ipv4PrefixLength and Ipv6PrefixLength: clients counted by their network, lists still by their address.</summary>
public sealed class PrefixLengthTests
{
    [Fact]
    public void AnIpv4PrefixCountsTheNetworkAsOneClient()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), Ipv4PrefixLength = 24, BlockDuration = TimeSpan.FromMinutes(5) });
        Assert.True(h.Check("10.1.2.3").IsAllowed);
        Assert.True(h.Check("10.1.2.200").IsAllowed);
        Assert.Equal(0, h.Check("10.1.2.9").Remaining);                   // the third of the /24's three
        Assert.Equal(DecisionReason.Blocked, h.Check("10.1.2.77").Reason);  // the /24 is blocked...
        Assert.True(h.Check("10.1.3.1").IsAllowed);                        // ...another /24 is not

        ClientState state = h.Limiter.Inspect(IPAddress.Parse("10.1.2.3"));
        Assert.Equal(IpKey.Create(IPAddress.Parse("10.1.2.0")), state.Client);
        Assert.True(state.IsBlocked);
        Assert.True(h.Limiter.Unblock(IPAddress.Parse("10.1.2.250")));    // any address of it names the group
        Assert.True(h.Check("10.1.2.3").IsAllowed);
    }

    [Fact]
    public void ListsStillMatchEachAddressNotItsNetwork()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), Ipv4PrefixLength = 24 });
        h.Limiter.Allowlist.Add(IPNetwork.Parse("10.1.2.5/32"));
        h.Limiter.Denylist.Add(IPNetwork.Parse("10.1.2.0/32"));
        Assert.Equal(DecisionReason.Allowlisted, h.Check("10.1.2.5").Reason);
        Assert.Equal(DecisionReason.Denylisted, h.Check("10.1.2.0").Reason);
        Assert.Equal(DecisionReason.Allowed, h.Check("10.1.2.6").Reason);        // not covered by .5's entry, nor by .0's
        Assert.Equal(DecisionReason.RateLimited, h.Check("10.1.2.7").Reason);    // the /24's one permit is spent
        Assert.True(h.Limiter.Inspect(IPAddress.Parse("10.1.2.5")).IsAllowlisted);
        Assert.False(h.Limiter.Inspect(IPAddress.Parse("10.1.2.6")).IsAllowlisted);
    }

    [Fact]
    public void AnIpv6PrefixCanBeShorterOrLongerThanTheLimiters()
    {
        // The limiter groups IPv6 by /64 (Harness default): a /48 policy counts the /48, a /128 policy each address.
        using var wide = new Harness(new FloodgatePolicy { PermitLimit = 2, Window = TimeSpan.FromMinutes(1), Ipv6PrefixLength = 48 });
        Assert.True(wide.Check("2001:db8:1:1::1").IsAllowed);
        Assert.True(wide.Check("2001:db8:1:2::1").IsAllowed);
        Assert.False(wide.Check("2001:db8:1:3::1").IsAllowed);
        Assert.True(wide.Check("2001:db8:2::1").IsAllowed);

        using var narrow = new Harness(new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), Ipv6PrefixLength = 128 });
        Assert.True(narrow.Check("2001:db8:1:1::1").IsAllowed);
        Assert.True(narrow.Check("2001:db8:1:1::2").IsAllowed);                 // the same /64, another address
        Assert.False(narrow.Check("2001:db8:1:1::1").IsAllowed);
        Assert.Equal(IpKey.Create(IPAddress.Parse("2001:db8:1:1::2"), 128), narrow.Limiter.GetKey(IPAddress.Parse("2001:db8:1:1::2")));
    }

    [Theory]
    [InlineData(7, null, "Policies:api.Ipv4PrefixLength must be between 8 and 32, or null for 32; got 7.")]
    [InlineData(null, 31, "Policies:api.Ipv6PrefixLength must be between 32 and 128, or null for the limiter's Ipv6PrefixLength; got 31.")]
    public void APrefixOutOfRangeIsRefusedNamingIt(int? ipv4, int? ipv6, string expected)
    {
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), Ipv4PrefixLength = ipv4, Ipv6PrefixLength = ipv6 };
        Assert.Equal(expected, Assert.Single(policy.Validate("Policies:api")));
    }
}
