using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// The guarantees under attack (README, "Under attack"), each attacked as an attacker would: rotation through a
/// network, floods of one-shot keys against history, a table full of bans, lists. Engine on a fake clock.
/// </summary>
public sealed class AttackTests
{
    private const int Limit = 10;

    private static readonly FloodgatePolicy TenAMinute = new() { PermitLimit = Limit, Window = TimeSpan.FromMinutes(1) };

    private readonly FakeTimeProvider _time = new(Harness.Start);

    /// <summary>The /64 number <paramref name="subnet"/> (0..65,535) of the /48 <c>2001:db8:<paramref name="site"/>::/48</c>, host bits random.</summary>
    private static IpKey V6(ushort site, int subnet, ulong host = 0x1234_5678_9ABC_DEF0) =>
        IpKey.FromIPv6(0x2001_0DB8_0000_0000UL | ((ulong)site << 16) | (uint)subnet, host, IpKey.DefaultIpv6PrefixLength);

    /// <summary>A key in its own /24 (10.x.y.1): no two share a network, so only the table and sketch are attacked.</summary>
    private static IpKey Spread(int i) => IpKey.FromIPv4(0x0A000001u + ((uint)i << 8));

    private FloodgateLimiter Create(FloodgatePolicy policy, int capacity = FloodgateLimiterOptions.DefaultCapacity) =>
        new(policy, new FloodgateLimiterOptions { Capacity = capacity, TimeProvider = _time });

    private static int Send(FloodgateLimiter limiter, IpKey key, int times)
    {
        int allowed = 0;
        for (int i = 0; i < times; i++)
        {
            allowed += limiter.Check(key).IsAllowed ? 1 : 0;
        }

        return allowed;
    }

    /// <summary>Blacklists clients until no slot is left for anyone new (an operator's blacklisting takes any slot it can).</summary>
    private static void FillWithBlacklisted(FloodgateLimiter limiter)
    {
        for (int i = 0; i < 8 * limiter.Capacity; i++)
        {
            try
            {
                limiter.Blacklist(Spread(1 << 20 | i));
            }
            catch (InvalidOperationException)
            {
                // This client's candidate slots are all taken: the point.
            }
        }

        Assert.Equal(limiter.Capacity, limiter.GetBlockedClients().Count);
    }

    // ---- 1. Rotation does not pay ----------------------------------------------------------------------------------

    [Theory]
    [InlineData(1)]        // one /64: the policy's limit
    [InlineData(256)]      // a /56
    [InlineData(65_536)]   // a whole /48
    public void ClientRotatingThroughItsIpv6NetworkGetsAtMostMaxClientsPerPrefixTimesTheLimit(int subnets)
    {
        using FloodgateLimiter limiter = Create(TenAMinute);
        int allowed = 0;
        for (int subnet = 0; subnet < subnets; subnet++)
        {
            allowed += Send(limiter, V6(1, subnet), Limit + 1);
        }

        Assert.Equal(Math.Min(subnets, FloodgatePolicy.DefaultMaxClientsPerPrefix) * Limit, allowed);

        // A bystander in another /48 is untouched.
        Assert.Equal(Limit, Send(limiter, V6(2, 7), Limit + 1));
    }

    [Fact]
    public void RotationPaysNoMoreInLaterWindows()
    {
        using FloodgateLimiter limiter = Create(TenAMinute);
        for (int window = 0; window < 5; window++)
        {
            int allowed = 0;
            for (int subnet = 0; subnet < 4_096; subnet++)
            {
                allowed += Send(limiter, V6(1, subnet), 2);
            }

            // 2 requests from each of 4,096 /64s: only the first 64 to start a window get any.
            Assert.Equal(FloodgatePolicy.DefaultMaxClientsPerPrefix * 2, allowed);
            _time.Advance(TenAMinute.Window);
        }
    }

    [Fact]
    public void ClientRotatingThroughItsIpv4NetworkGetsAtMostMaxClientsPerPrefixTimesTheLimitAndOthersKeepTheirs()
    {
        using FloodgateLimiter limiter = Create(TenAMinute);
        int allowed = 0;
        for (uint host = 0; host < 256; host++)
        {
            allowed += Send(limiter, IpKey.FromIPv4(0xC6336400u + host), Limit + 1);   // 198.51.100.0/24
        }

        Assert.Equal(FloodgatePolicy.DefaultMaxClientsPerPrefix * Limit, allowed);
        Assert.Equal(Limit, Send(limiter, IpKey.FromIPv4(0xC6336500u), Limit + 1)); // 198.51.101.0: another /24
    }

    [Fact]
    public void ManyLegitimateUsersOfOneNetworkAreNotPunishedForEachOther()
    {
        using FloodgateLimiter limiter = Create(TenAMinute);

        // 64 users of one /24 and 64 of one /48, each using its whole limit in the same window: all served in full.
        for (uint host = 1; host <= 64; host++)
        {
            Assert.Equal(Limit, Send(limiter, IpKey.FromIPv4(0xCB007100u + host), Limit));
            Assert.Equal(Limit, Send(limiter, V6(3, (int)host), Limit));
        }

        // And in the next window again, each of them (a returning client starts a window too).
        _time.Advance(TenAMinute.Window);
        for (uint host = 1; host <= 64; host++)
        {
            Assert.Equal(Limit, Send(limiter, IpKey.FromIPv4(0xCB007100u + host), Limit));
        }
    }

    [Fact]
    public void MaxClientsPerPrefixZeroTurnsTheNetworkLimitOff()
    {
        FloodgatePolicy policy = TenAMinute.Clone();
        policy.MaxClientsPerPrefix = 0;
        using FloodgateLimiter limiter = Create(policy);
        int allowed = 0;
        for (int subnet = 0; subnet < 256; subnet++)
        {
            allowed += Send(limiter, V6(1, subnet), 1);
        }

        Assert.Equal(256, allowed);
    }

    // ---- 1b. Keys (API keys, users): made-up keys do not pay either -------------------------------------------------

    [Fact]
    public void AKeyedOffenderIsEscalatedOnScheduleWhateverTheFloodOfMadeUpKeys()
    {
        // Key hashes share the table's defences with addresses: a flood of one-shot keys cannot evict a key's history.
        const int Capacity = 4_096;
        var hasher = new FloodgateKeyHasher(new byte[32]);
        using FloodgateLimiter limiter = Create(
            new() { PermitLimit = Limit, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(1), BlockLimit = 2 },
            Capacity);
        IpKey offender = hasher.Hash("sk_live_offender");
        var address = System.Net.IPAddress.Parse("203.0.113.5");
        int next = 0;
        for (int block = 1; block <= 3; block++)
        {
            for (int i = 0; i < Limit; i++)
            {
                Assert.True(limiter.CheckKey(address, offender).IsAllowed);
            }

            Assert.Equal(block <= 2 ? DecisionReason.Blocked : DecisionReason.Blacklisted, limiter.CheckKey(address, offender).Reason);
            for (int i = 0; i < 20 * Capacity; i++)
            {
                limiter.CheckKey(address, hasher.Hash("made-up-" + next++));
            }

            _time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(DecisionReason.Blacklisted, limiter.CheckKey(System.Net.IPAddress.Parse("198.51.100.1"), offender).Reason);
    }

    [Fact]
    public void AnAddressInventingAKeyPerRequestGetsNoMoreThanThePairedAddressPolicysLimit()
    {
        // The documented pairing (docs/keys.md): a keyed policy and a per-address one on the same endpoint.
        var hasher = new FloodgateKeyHasher(new byte[32]);
        using FloodgateLimiter perKey = Create(new() { PermitLimit = 100, Window = TimeSpan.FromMinutes(1) });
        using FloodgateLimiter perAddress = Create(TenAMinute);
        var attacker = System.Net.IPAddress.Parse("203.0.113.9");
        int served = 0;
        for (int i = 0; i < 10_000; i++)
        {
            // In order, the first that refuses answers (as the middleware does).
            if (perKey.CheckKey(attacker, hasher.Hash("invented-" + i)).IsAllowed && perAddress.Check(attacker).IsAllowed)
            {
                served++;
            }
        }

        Assert.Equal(Limit, served);
    }

    // ---- 2. Floods cannot evict history ----------------------------------------------------------------------------

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    public void AnOffenderIsEscalatedOnScheduleWhateverTheFloodOfOneShotKeysBetweenItsBlocks(int timesCapacity)
    {
        const int Capacity = 4_096;
        using FloodgateLimiter limiter = Create(
            new() { PermitLimit = Limit, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(1), BlockLimit = 2 },
            Capacity);
        IpKey offender = IpKey.FromIPv4(0xCB000071u);
        int next = 0;
        for (int block = 1; block <= 3; block++)
        {
            Assert.Equal(Limit, Send(limiter, offender, Limit));
            Decision violation = limiter.Check(offender);
            Assert.Equal(block <= 2 ? DecisionReason.Blocked : DecisionReason.Blacklisted, violation.Reason);
            Assert.Equal(block, limiter.Inspect(offender).BlockCount);

            // The flood: one-shot keys, each in a network of its own, over the block and after it.
            for (int i = 0; i < timesCapacity * Capacity; i++)
            {
                limiter.Check(Spread(next++));
            }

            _time.Advance(TimeSpan.FromMinutes(1));
            for (int i = 0; i < timesCapacity * Capacity; i++)
            {
                limiter.Check(Spread(next++));
            }
        }

        Assert.True(limiter.Inspect(offender).IsBlacklisted);
        Assert.Equal(DecisionReason.Blacklisted, limiter.Check(offender).Reason);
    }

    [Fact]
    public void WithBlockDurationZeroAnOffenderGetsNoMoreThanTheLimitInAWindowWhateverTheFlood()
    {
        const int Capacity = 4_096;
        using FloodgateLimiter limiter = Create(TenAMinute, Capacity);
        IpKey offender = IpKey.FromIPv4(0xCB000071u);
        int allowed = 0;
        for (int round = 0; round < 5; round++)
        {
            allowed += Send(limiter, offender, 10);
            for (int i = 0; i < 100 * Capacity / 5; i++)
            {
                limiter.Check(Spread((round * 100_000) + i));
            }
        }

        Assert.Equal(Limit, allowed);
    }

    [Theory]
    [InlineData(8_192)]
    [InlineData(65_536)]
    public void KeysCycledThroughATableTooSmallForThemEachGetNoMoreThanTheLimit(int keys)
    {
        using FloodgateLimiter limiter = Create(TenAMinute, 4_096);
        var allowed = new int[keys];
        for (int pass = 0; pass < 2 * Limit; pass++)
        {
            for (int i = 0; i < keys; i++)
            {
                allowed[i] += limiter.Check(Spread(i)).IsAllowed ? 1 : 0;
            }
        }

        Assert.True(allowed.Max() <= Limit, $"a key got {allowed.Max()} in a window limited to {Limit}");
        Assert.True(allowed.Sum() <= keys * Limit);
    }

    // ---- 3. A full table does not lump the innocent with the guilty -----------------------------------------------

    [Fact]
    public void ATableFullOfBansLeavesEveryoneElseServedAtTheirOwnLimits()
    {
        const int Capacity = 4_096;
        var login = new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(15) };
        using FloodgateLimiter limiter = Create(login, Capacity);

        // The lock-out attack: 6,350 addresses, 4 logins each.
        int blocked = 0;
        for (int i = 0; i < 6_350; i++)
        {
            Send(limiter, Spread(i), 4);
            blocked += limiter.Inspect(Spread(i)).IsBlocked ? 1 : 0;
        }

        Assert.True(blocked > Capacity * 9 / 10, $"{blocked} blocked");
        Assert.True(limiter.GetBlockedClients().Count == blocked);

        // 1,000 legitimate clients arrive during the blocks, each logging in 3 times: none is blocked, none gets more
        // than 3, and those refused at all because of someone else are the sketch's documented few.
        int refused = 0;
        for (int i = 0; i < 1_000; i++)
        {
            IpKey legit = IpKey.FromIPv4(0xAC100001u + ((uint)i << 8));   // 172.16.x.y
            int allowed = Send(limiter, legit, 3);
            refused += allowed < 3 ? 1 : 0;
            Assert.False(limiter.Inspect(legit).IsBlocked);
        }

        Assert.True(refused <= 60, $"{refused} of 1,000 legitimate clients refused");

        // Every attacker that was blocked still is, and none of those without a slot got more than 3.
        for (int i = 0; i < 6_350; i++)
        {
            ClientState state = limiter.Inspect(Spread(i));
            Assert.True(!state.IsTracked || state.IsBlocked || state.Count <= 3);
        }
    }

    [Fact]
    public void AClientWithNoSlotIsLimitedByItsOwnCountAndNeverBlocked()
    {
        using FloodgateLimiter limiter = Create(new() { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromHours(1) }, 256);
        FillWithBlacklisted(limiter);

        IpKey[] homeless = Enumerable.Range(1_000, 20).Select(Spread).ToArray();
        foreach (IpKey key in homeless)
        {
            Assert.Equal(3, Send(limiter, key, 10));
            Assert.Equal(DecisionReason.RateLimited, limiter.Check(key).Reason);
            Assert.False(limiter.Inspect(key).IsTracked);
        }

        // The next window: each has its own 3 again.
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.All(homeless, key => Assert.Equal(3, Send(limiter, key, 5)));
    }

    [Fact]
    public void ANewcomerTakesTheSlotOfALessActiveClientOnlyOnceCountedMoreOftenAndKeepsItsCount()
    {
        using FloodgateLimiter limiter = Create(TenAMinute, 16);
        IpKey[] residents = Enumerable.Range(0, 16).Select(Spread).ToArray();
        foreach (IpKey key in residents)
        {
            Send(limiter, key, 1);
        }

        // The first request of each newcomer finds every slot held by a client in its window.
        int admittedOnFirst = 0;
        IpKey[] newcomers = Enumerable.Range(100, 5).Select(Spread).ToArray();
        foreach (IpKey key in newcomers)
        {
            Assert.True(limiter.Check(key).IsAllowed);
            admittedOnFirst += limiter.Inspect(key).IsTracked ? 1 : 0;
        }

        Assert.Equal(0, admittedOnFirst);

        // A second request: counted twice, more than a resident seen once, so it may take that resident's slot, its
        // window starting with both requests counted.
        IpKey eager = newcomers[0];
        Assert.True(limiter.Check(eager).IsAllowed);
        ClientState state = limiter.Inspect(eager);
        Assert.True(state.IsTracked);
        Assert.Equal(2, state.Count);
        Assert.Equal(8, Send(limiter, eager, 20));

        // The resident it displaced goes on from its own count (1), not from a fresh window.
        IpKey displaced = residents.Single(k => !limiter.Inspect(k).IsTracked);
        Assert.Equal(Limit - 1, Send(limiter, displaced, 20));
    }

    [Fact]
    public void AClientEvictedMidWindowComesBackWhereItWasEvenToAFreeSlot()
    {
        using FloodgateLimiter limiter = Create(new() { PermitLimit = Limit, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromHours(1) }, 16);
        IpKey[] blacklisted = Enumerable.Range(1, 15).Select(Spread).ToArray();
        foreach (IpKey key in blacklisted)
        {
            limiter.Blacklist(key);                      // 15 of the 16 slots
        }

        IpKey cycler = Spread(0);
        Assert.Equal(4, Send(limiter, cycler, 4));       // the 16th

        // A newcomer counted 5 times (more than the cycler's 4) takes the cycler's slot; the cycler's 4 go to the sketch.
        Assert.Equal(5, Send(limiter, Spread(100), 5));
        Assert.False(limiter.Inspect(cycler).IsTracked);

        // A slot can be forgotten again (an operator lifts a blacklisting: nothing left to keep). The cycler takes it
        // and goes on from 4, not from a fresh window; going over the limit there is rate-limited, never a block (the
        // count it brought back is the sketch's, which may be someone else's too).
        Assert.True(limiter.Unblacklist(blacklisted[0]));
        Assert.True(limiter.Check(cycler).IsAllowed);
        Assert.True(limiter.Inspect(cycler).IsTracked);
        Assert.Equal(Limit - 5, Send(limiter, cycler, 20));
        Assert.Equal(DecisionReason.RateLimited, limiter.Check(cycler).Reason);
        Assert.False(limiter.Inspect(cycler).IsBlocked);
    }

    [Fact]
    public void ManyThreadsHammeringOneClientWithNoSlotGetAtMostTheLimit()
    {
        using FloodgateLimiter limiter = Create(new() { PermitLimit = 100, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromHours(1) }, 16);
        for (int i = 0; i < 64; i++)
        {
            Send(limiter, Spread(i), 101);   // every slot blocked: the hammered client can never get one
        }

        for (int round = 0; round < 20; round++)
        {
            _time.Advance(TimeSpan.FromMinutes(1));   // a window of its own: the cells count this client alone
            IpKey key = Spread(10_000 + round);
            int granted = 0;
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
            {
                int mine = Send(limiter, key, 500);
                Interlocked.Add(ref granted, mine);
            });

            Assert.False(limiter.Inspect(key).IsTracked);
            Assert.Equal(100, granted);
        }
    }

    // ---- 4. Bounded cost --------------------------------------------------------------------------------------------

    [Fact]
    public void MemoryIsFixedAtConstruction112BytesPerSlot()
    {
        using FloodgateLimiter limiter = Create(TenAMinute);
        Assert.Equal(FloodgateLimiterOptions.DefaultCapacity * 112L, limiter.MemoryBytes);   // 28 MiB for the defaults
    }
}
