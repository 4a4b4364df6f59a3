using System.Net;

namespace Floodgate.Tests;

public sealed class OperatorTests
{
    private static FloodgatePolicy Policy() => new()
    {
        PermitLimit = 3,
        Window = TimeSpan.FromMinutes(1),
        BlockDuration = TimeSpan.FromMinutes(5),
    };

    [Fact]
    public void InspectDescribesWindowAndBlockState()
    {
        using var h = new Harness(Policy());
        ClientState unknown = h.Inspect("192.0.2.1");
        Assert.False(unknown.IsTracked);
        Assert.Equal(3, unknown.Remaining);

        h.Check("192.0.2.1", 2);
        h.AdvanceSeconds(20);
        ClientState counting = h.Inspect("192.0.2.1");
        Assert.True(counting.IsTracked);
        Assert.True(counting.IsWindowActive);
        Assert.Equal(2, counting.Count);
        Assert.Equal(1, counting.Remaining);
        Assert.Equal(TimeSpan.FromSeconds(40), counting.ResetAfter);
        Assert.False(counting.IsBlocked);
        Assert.Equal(0, counting.BlockCount);

        h.Check("192.0.2.1", 2);
        ClientState blocked = h.Inspect("192.0.2.1");
        Assert.True(blocked.IsBlocked);
        Assert.False(blocked.IsBlacklisted);
        Assert.Equal(1, blocked.BlockCount);
        Assert.Equal(0, blocked.Remaining);
        Assert.Equal(Harness.Start + TimeSpan.FromSeconds(20) + TimeSpan.FromMinutes(5), blocked.BlockExpiresAt);

        h.AdvanceSeconds(40);
        ClientState ended = h.Inspect("192.0.2.1");
        Assert.False(ended.IsWindowActive);
        Assert.Equal(0, ended.Count);
        Assert.True(ended.IsBlocked);
    }

    [Fact]
    public void InspectDoesNotCountARequest()
    {
        using var h = new Harness(Policy());
        h.Check("192.0.2.2");
        for (int i = 0; i < 10; i++)
        {
            h.Inspect("192.0.2.2");
        }

        Assert.Equal(1, h.Inspect("192.0.2.2").Count);
    }

    [Fact]
    public void BlockedAndBlacklistedClientsAreListed()
    {
        using var h = new Harness(Policy());
        h.CheckUntilDenied("192.0.2.10");
        h.CheckUntilDenied("2001:db8:1:1::5");
        h.Limiter.Blacklist(IPAddress.Parse("192.0.2.30"));
        h.Check("192.0.2.40");                                // allowed, not listed

        IReadOnlyList<ClientState> listed = h.Limiter.GetBlockedClients();
        Assert.Equal(
            ["192.0.2.10", "192.0.2.30", "2001:db8:1:1::"],
            listed.Select(c => c.Client.ToString()).Order(StringComparer.Ordinal));
        Assert.True(listed.Single(c => c.Client.ToString() == "192.0.2.30").IsBlacklisted);

        h.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(["192.0.2.30"], h.Limiter.GetBlockedClients().Select(c => c.Client.ToString()));
    }

    [Fact]
    public void UnblockLiftsTheBlockAndTheNextRequestStartsAFreshWindow()
    {
        using var h = new Harness(Policy());
        h.CheckUntilDenied("192.0.2.3");
        Assert.True(h.Limiter.Unblock(IPAddress.Parse("192.0.2.3")));
        Assert.False(h.Limiter.Unblock(IPAddress.Parse("192.0.2.3")));
        Assert.False(h.Limiter.Unblock(IPAddress.Parse("192.0.2.200")));

        Decision d = h.Check("192.0.2.3");
        Assert.Equal(DecisionReason.Allowed, d.Reason);
        Assert.Equal(2, d.Remaining);
        Assert.Equal(1, h.Inspect("192.0.2.3").BlockCount);   // unblocking lifts the block, not the record
    }

    [Fact]
    public void UnblockDoesNotLiftABlacklisting()
    {
        using var h = new Harness(Policy());
        h.Limiter.Blacklist(IPAddress.Parse("192.0.2.4"));
        Assert.False(h.Limiter.Unblock(IPAddress.Parse("192.0.2.4")));
        Assert.Equal(DecisionReason.Blacklisted, h.Check("192.0.2.4").Reason);
    }

    [Fact]
    public void BlacklistAndUnblacklist()
    {
        using var h = new Harness(Policy());
        var client = IPAddress.Parse("2001:db8:7:7::1");
        Assert.True(h.Limiter.Blacklist(client));
        Assert.False(h.Limiter.Blacklist(client));
        Assert.Equal(DecisionReason.Blacklisted, h.Check("2001:db8:7:7::abc").Reason);   // same /64

        Assert.True(h.Limiter.Unblacklist(client));
        Assert.False(h.Limiter.Unblacklist(client));
        Assert.True(h.Limiter.Check(client).IsAllowed);
    }

    [Fact]
    public void UnblacklistingServesThePunishmentSoTheBlockCountResets()
    {
        using var h = new Harness(new()
        {
            PermitLimit = 1,
            Window = TimeSpan.FromSeconds(10),
            BlockDuration = TimeSpan.FromSeconds(10),
            BlockLimit = 1,
        });
        const string client = "192.0.2.5";
        h.Advance(h.CheckUntilDenied(client).RetryAfter);
        Assert.Equal(DecisionReason.Blacklisted, h.CheckUntilDenied(client).Reason);
        Assert.Equal(2, h.Inspect(client).BlockCount);

        h.Limiter.Unblacklist(IPAddress.Parse(client));
        Assert.Equal(0, h.Inspect(client).BlockCount);
        Assert.Equal(DecisionReason.Blocked, h.CheckUntilDenied(client).Reason);
    }

    [Fact]
    public void AllowAndDenyListsTakeAddressesAndCidrsAtRunTime()
    {
        using var h = new Harness(Policy());
        h.Limiter.Denylist.Add(IPNetwork.Parse("10.0.0.0/8"));
        h.Limiter.Denylist.Add(IPAddress.Parse("192.0.2.66"));
        h.Limiter.Denylist.Add(IPNetwork.Parse("2001:db8:bad::/48"));

        Assert.Equal(DecisionReason.Denylisted, h.Check("10.200.3.4").Reason);
        Assert.Equal(DecisionReason.Denylisted, h.Check("::ffff:10.1.1.1").Reason);
        Assert.Equal(DecisionReason.Denylisted, h.Check("192.0.2.66").Reason);
        Assert.Equal(DecisionReason.Denylisted, h.Check("2001:db8:bad:1234::1").Reason);
        Assert.Equal(DecisionReason.Allowed, h.Check("2001:db8:bae::1").Reason);
        Assert.Equal(DecisionReason.Allowed, h.Check("11.0.0.1").Reason);
        Assert.Equal(3, h.Limiter.Denylist.Count);

        Assert.True(h.Limiter.Denylist.Remove(IPNetwork.Parse("::ffff:10.0.0.0/104")));   // the same network, mapped form
        Assert.False(h.Limiter.Denylist.Remove(IPNetwork.Parse("10.0.0.0/8")));
        Assert.Equal(DecisionReason.Allowed, h.Check("10.200.3.4").Reason);
    }

    [Fact]
    public void ListEntriesAreCanonicalAndDeduplicated()
    {
        using var h = new Harness(Policy());
        AccessList list = h.Limiter.Allowlist;
        Assert.True(list.Add(IPNetwork.Parse("192.0.2.0/24")));
        Assert.False(list.Add(IPNetwork.Parse("::ffff:192.0.2.0/120")));
        Assert.False(list.Add(IPNetwork.Parse("64:ff9b::192.0.2.0/120")));
        Assert.True(list.Add(IPAddress.Parse("2001:db8:1:2::99")));       // widened to its /64

        Assert.Equal(["192.0.2.0/24", "2001:db8:1:2::/64"], list.Entries.Select(n => n.ToString()));
        Assert.True(list.Contains(IPAddress.Parse("2001:db8:1:2:ffff::1")));
        list.Clear();
        Assert.Equal(0, list.Count);
        Assert.False(list.Contains(IPAddress.Parse("192.0.2.1")));
    }
}
