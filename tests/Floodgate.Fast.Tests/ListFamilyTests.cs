using System.Net;

namespace Floodgate.Tests;

/// <summary>
/// Lists mean what they say: an entry of one address family never covers a client of the other, however it is
/// widened, and an entry that covers a whole family is refused in any spelling.
/// </summary>
public sealed class ListFamilyTests
{
    private static readonly IPAddress[] s_ipv4Clients = [IPAddress.Parse("127.0.0.1"), IPAddress.Parse("192.0.2.1"), IPAddress.Parse("0.0.0.1"), IPAddress.Parse("255.255.255.255")];

    public static TheoryData<string> WholeFamilies => new()
    {
        "0.0.0.0/0", "::/0", "::/1", "::/8", "::/64", "::/80", "::ffff:0.0.0.0/95", "::ffff:0.0.0.0/96", "64:ff9b::/96", "64:ff9b::/64", "0:0:0:0:0:ffff::/96",
    };

    [Fact]
    public void OnTheAllowlistIPv6LoopbackCoversIPv6LoopbackOnly()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
        h.Limiter.Allowlist.Add(IPAddress.IPv6Loopback);   // what operators add for local probes

        Assert.Equal(DecisionReason.Allowlisted, h.Limiter.Check(IPAddress.IPv6Loopback).Reason);
        Assert.Equal(DecisionReason.Allowlisted, h.Check("::2").Reason);   // the same /64: one key, as documented
        foreach (IPAddress client in s_ipv4Clients)
        {
            Assert.True(h.Limiter.Check(client).IsAllowed);
            Assert.Equal(DecisionReason.RateLimited, h.Limiter.Check(client).Reason);   // limited as before: not allowlisted
            Assert.False(h.Limiter.Allowlist.Contains(client));
        }

        Assert.False(h.Limiter.Allowlist.Contains(IPAddress.Parse("::ffff:127.0.0.1")));   // the mapped form is IPv4 too
        Assert.False(h.Limiter.Allowlist.Contains(IPAddress.Parse("64:ff9b::127.0.0.1")));
    }

    [Fact]
    public void OnTheDenylistIPv6LoopbackRefusesNoIPv4Client()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) });
        h.Limiter.Denylist.Add(IPAddress.IPv6Loopback);
        Assert.Equal(DecisionReason.Denylisted, h.Limiter.Check(IPAddress.IPv6Loopback).Reason);
        foreach (IPAddress client in s_ipv4Clients)
        {
            Assert.True(h.Limiter.Check(client).IsAllowed);
        }
    }

    [Fact]
    public void AnIPv4EntryNeverCoversAnIPv6Client()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) });
        h.Limiter.Denylist.Add(IPNetwork.Parse("0.0.0.0/1"));   // half of IPv4, from 0.0.0.0
        Assert.Equal(DecisionReason.Denylisted, h.Check("0.0.0.1").Reason);
        Assert.Equal(DecisionReason.Denylisted, h.Check("::ffff:0.0.0.1").Reason);   // the same IPv4 client, mapped
        Assert.True(h.Limiter.Check(IPAddress.Parse("::")).IsAllowed);        // IPv6 ::/64: zero bits, another family
        Assert.True(h.Limiter.Check(IPAddress.Parse("::1")).IsAllowed);
    }

    [Theory]
    [MemberData(nameof(WholeFamilies))]
    public void AnEntryForAWholeFamilyIsRefusedOnBothListsInAnySpelling(string spelling)
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) });
        IPNetwork network = IPNetwork.Parse(spelling);
        Assert.True(AccessList.CoversAnAddressFamily(network));
        foreach (AccessList list in new[] { h.Limiter.Allowlist, h.Limiter.Denylist })
        {
            ArgumentException error = Assert.Throws<ArgumentException>(() => list.Add(network));
            Assert.Contains($"'{network}' covers every", error.Message, StringComparison.Ordinal);
            Assert.Equal(0, list.Count);
        }
    }

    [Theory]
    [InlineData("0.0.0.0/1")]
    [InlineData("::ffff:0.0.0.0/97")]
    [InlineData("64:ff9b::/97")]
    [InlineData("::1/128")]
    [InlineData("2000::/3")]
    [InlineData("::/97")]
    public void NarrowerNetworksAreAccepted(string spelling)
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) });
        Assert.False(AccessList.CoversAnAddressFamily(IPNetwork.Parse(spelling)));
        Assert.True(h.Limiter.Denylist.Add(IPNetwork.Parse(spelling)));
    }

    [Fact]
    public void AWholeFamilyIsNeverTakenBackFromACheckpointOrASharedList()
    {
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 5, Window = TimeSpan.FromMinutes(1) });
        Assert.False(h.Limiter.Denylist.AddCanonical(IpKey.FromIPv4(0), 96));             // 0.0.0.0/0 as stored
        Assert.False(h.Limiter.Denylist.AddCanonical(IPNetwork.Parse("::/0")));
        Assert.True(h.Limiter.Denylist.AddCanonical(IPNetwork.Parse("::/64")));             // ::1 as stored: IPv6 only
        Assert.True(h.Limiter.Check(IPAddress.Parse("192.0.2.1")).IsAllowed);
        Assert.Equal(DecisionReason.Denylisted, h.Check("::1").Reason);
    }
}
