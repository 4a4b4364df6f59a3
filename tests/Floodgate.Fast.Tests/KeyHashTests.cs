using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Floodgate.Tests;

/// <summary>
/// Keys that are not addresses (API keys, users): the keyed hash (SipHash-2-4-128 against the reference vectors), its
/// separation from every address key, and the engine counting, banning and persisting a client by its key.
/// </summary>
public sealed class KeyHashTests : IDisposable
{
    private static readonly byte[] s_secret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "floodgate-keys-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory]
    [InlineData(0, "a3817f04ba25a8e66df67214c7550293")]
    [InlineData(1, "da87c1d86b99af44347659119b22fc45")]
    [InlineData(7, "a1f1ebbed8dbc153c0b84aa61ff08239")]
    [InlineData(8, "3b62a9ba6258f5610f83e264f31497b4")]
    [InlineData(15, "5493e99933b0a8117e08ec0f97cfc3d9")]
    [InlineData(16, "6ee2a4ca67b054bbfd3315bf85230577")]
    [InlineData(63, "5150d1772f50834a503e069a973fbd7c")]
    public void SipHashMatchesTheReferenceVectors(int length, string expected)
    {
        // vectors.h of github.com/veorq/SipHash: key 00..0f, message 00..(length-1), the 16 output bytes.
        byte[] message = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        (ulong first, ulong second) = Floodgate.Internal.SipHash128.Hash(0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL, message);
        byte[] output = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(output, first);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(output.AsSpan(8), second);
        Assert.Equal(expected, Convert.ToHexStringLower(output));
    }

    [Fact]
    public void TheSameSecretGivesTheSameHashAndAnotherSecretAnother()
    {
        var hasher = new FloodgateKeyHasher(s_secret);
        IpKey key = hasher.Hash("sk_live_alice");
        Assert.True(key.IsKeyHash);
        Assert.False(key.IsIPv4);
        Assert.Null(key.ToIPAddress());
        Assert.Equal(key, new FloodgateKeyHasher(s_secret).Hash("sk_live_alice"));                // a restart, another instance
        Assert.Equal(key, hasher.Hash(Encoding.UTF8.GetBytes("sk_live_alice")));                   // text is its UTF-8 bytes
        Assert.NotEqual(key, hasher.Hash("sk_live_alicf"));
        Assert.NotEqual(key, hasher.Hash("sk_live_alice "));
        Assert.NotEqual(key, new FloodgateKeyHasher(s_secret.Reverse().ToArray()).Hash("sk_live_alice"));
        Assert.NotEqual(key, FloodgateKeyHasher.CreateRandom().Hash("sk_live_alice"));
    }

    [Fact]
    public void TextIsItsUtf8BytesAtAnyLengthAndInvalidTextCollidesWithNothing()
    {
        var hasher = new FloodgateKeyHasher(s_secret);
        foreach (string value in new[] { "\u00e9-\u043a\u043b\u044e\u0447-\u9375-\U0001F511", new string('x', 256), new string('y', 257) + "\u00fc", new string('z', 5000) })
        {
            Assert.Equal(hasher.Hash(Encoding.UTF8.GetBytes(value)), hasher.Hash(value));
        }

        // Lone surrogates would all become U+FFFD if replaced: each is its own key, and none is U+FFFD's.
        IpKey high = hasher.Hash("key\uD800");
        IpKey low = hasher.Hash("key\uDFFF");
        Assert.NotEqual(high, low);
        Assert.NotEqual(hasher.Hash("key\uFFFD"), high);
        Assert.Equal(high, hasher.Hash("key\uD800"));
        Assert.NotEqual(hasher.Hash(new string('a', 300) + "\uD800"), hasher.Hash(new string('a', 300) + "\uDBFF"));
        Assert.True(high.IsKeyHash);
    }

    [Fact]
    public void ATooShortSecretIsRefusedNamingItsLength()
    {
        var e = Assert.Throws<ArgumentException>(() => new FloodgateKeyHasher(new byte[15]));
        Assert.Contains("at least 16 bytes long; got 15", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheTextShowsAFingerprintNeverTheValueAndTheFullFormRoundTrips()
    {
        IpKey key = new FloodgateKeyHasher(s_secret).Hash("sk_live_secret_value");
        string shown = key.ToString();
        Assert.Matches("^key:[0-9a-f]{8}$", shown);
        Assert.DoesNotContain("sk_live", shown, StringComparison.Ordinal);
        string full = FloodgateKeyHasher.Format(key);
        Assert.Matches("^k[0-9a-f]{30}$", full);
        Assert.StartsWith("k" + shown[4..], full, StringComparison.Ordinal);   // the fingerprint is the hash's start
        Assert.True(FloodgateKeyHasher.TryParse(full, out IpKey parsed));
        Assert.Equal(key, parsed);
        Assert.False(FloodgateKeyHasher.TryParse("k" + new string('z', 30), out _));
        Assert.False(FloodgateKeyHasher.TryParse("10.0.0.1", out _));
        Assert.Throws<ArgumentException>(() => FloodgateKeyHasher.Format(IpKey.FromIPv4(0x0A000001)));
    }

    [Theory]
    [InlineData("ff02::1")]
    [InlineData("ff3e:1234::5")]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    public void NoAddressCanLandInTheKeyHashRange(string multicast)
    {
        // An attacker who controls a forwarded address cannot name a key hash: multicast sources are the unknown client.
        foreach (int prefix in new[] { 48, 64, 128 })
        {
            IpKey key = IpKey.Create(IPAddress.Parse(multicast), prefix);
            Assert.True(key.IsUnknown);
            Assert.False(key.IsKeyHash);
        }

        Assert.False(IpKey.Create(IPAddress.Parse("2001:db8::1")).IsKeyHash);
        Assert.False(IpKey.FromIPv4(uint.MaxValue).IsKeyHash);
        Assert.False(IpKey.Unknown.IsKeyHash);
    }

    [Fact]
    public void AKeyIsCountedAcrossAddressesAndEachKeyOnItsOwn()
    {
        var hasher = new FloodgateKeyHasher(s_secret);
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(5) });
        IpKey alice = hasher.Hash("alice-key");
        Assert.True(h.Limiter.CheckKey(IPAddress.Parse("192.0.2.1"), alice).IsAllowed);
        Assert.True(h.Limiter.CheckKey(IPAddress.Parse("198.51.100.7"), alice).IsAllowed);     // same key, another address
        Assert.Equal(0, h.Limiter.CheckKey(IPAddress.Parse("2001:db8::9"), alice).Remaining);
        Assert.Equal(DecisionReason.Blocked, h.Limiter.CheckKey(IPAddress.Parse("192.0.2.1"), alice).Reason);
        Assert.True(h.Limiter.CheckKey(IPAddress.Parse("192.0.2.1"), hasher.Hash("bob-key")).IsAllowed);   // same address, another key
        Assert.True(h.Check("192.0.2.1").IsAllowed);                                                   // and the address itself is untouched

        ClientState state = h.Limiter.Inspect(alice);
        Assert.True(state.IsBlocked);
        Assert.Equal(alice, state.Client);
        Assert.Contains(h.Limiter.GetBlockedClients(), c => c.Client == alice);
        Assert.True(h.Limiter.Unblock(alice));
        Assert.True(h.Limiter.CheckKey(IPAddress.Parse("192.0.2.1"), alice).IsAllowed);
        Assert.True(h.Limiter.Blacklist(alice));
        Assert.Equal(DecisionReason.Blacklisted, h.Limiter.CheckKey(IPAddress.Parse("203.0.113.1"), alice).Reason);
    }

    [Fact]
    public void ListsMatchTheRequestsAddressNotItsKey()
    {
        var hasher = new FloodgateKeyHasher(s_secret);
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1) });
        h.Limiter.Allowlist.Add(IPNetwork.Parse("10.0.0.0/8"));
        h.Limiter.Denylist.Add(IPNetwork.Parse("192.0.2.66/32"));
        h.Limiter.Denylist.Add(IPNetwork.Parse("ff00::/8"));   // a list entry over the hash range catches no key
        IpKey key = hasher.Hash("k");
        Assert.Equal(DecisionReason.Allowlisted, h.Limiter.CheckKey(IPAddress.Parse("10.1.1.1"), key).Reason);
        Assert.Equal(DecisionReason.Denylisted, h.Limiter.CheckKey(IPAddress.Parse("192.0.2.66"), key).Reason);
        Assert.True(h.Limiter.CheckKey(IPAddress.Parse("192.0.2.1"), key).IsAllowed);
        Assert.Equal(DecisionReason.RateLimited, h.Limiter.CheckKey(IPAddress.Parse("192.0.2.1"), key).Reason);
        Assert.Equal(DecisionReason.Allowlisted, h.Limiter.CheckKey(IPAddress.Parse("10.1.1.1"), key).Reason);   // listed addresses are never counted
    }

    [Fact]
    public void APoliciesPrefixLengthsAndNetworkCapLeaveKeysAlone()
    {
        // Grouping by /24 or /32 and MaxClientsPerPrefix are about addresses: each key stays its own client.
        var hasher = new FloodgateKeyHasher(s_secret);
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), Ipv4PrefixLength = 16, Ipv6PrefixLength = 32, MaxClientsPerPrefix = 1 });
        for (int i = 0; i < 200; i++)
        {
            Assert.True(h.Limiter.CheckKey(IPAddress.Parse("192.0.2.1"), hasher.Hash("key-" + i)).IsAllowed, $"key {i}");
        }
    }

    [Fact]
    public void CheckingByKeyAllocatesNothing()
    {
        var hasher = new FloodgateKeyHasher(s_secret);
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1_000_000, Window = TimeSpan.FromMinutes(1) });
        var address = IPAddress.Parse("192.0.2.1");
        string value = "sk_live_0123456789abcdef0123456789abcdef";
        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                h.Limiter.CheckKey(address, hasher.Hash(value), 2);
            }
        });
    }

    [Fact]
    public async Task KeyBansSurviveARestartAndACrashWithoutTheValueOnDisk()
    {
        var time = new FakeTimeProvider(Harness.Start);
        var policy = new FloodgatePolicy { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), BlockDuration = TimeSpan.FromMinutes(10) };
        FloodgateLimiter Open() => new(policy, new FloodgateLimiterOptions { TimeProvider = time, DataDirectory = _directory, CheckpointInterval = TimeSpan.FromHours(1) });
        const string blockedValue = "sk_live_BLOCKED_7f3a9c";
        const string blacklistedValue = "sk_live_BLACKLISTED_51e2";
        var address = IPAddress.Parse("192.0.2.1");

        using (FloodgateLimiter first = Open())
        {
            IpKey blocked = new FloodgateKeyHasher(s_secret).Hash(blockedValue);
            first.CheckKey(address, blocked);
            Assert.Equal(DecisionReason.Blocked, first.CheckKey(address, blocked).Reason);
            await first.CheckpointAsync();
            first.Blacklist(new FloodgateKeyHasher(s_secret).Hash(blacklistedValue));   // after the checkpoint: only the journal has it
            Assert.True(SpinWait.SpinUntil(() => first.JournalRecordsWritten >= 1, TimeSpan.FromSeconds(10)));
            first.AbandonPersistence();   // kill -9: no final checkpoint
        }

        time.Advance(TimeSpan.FromMinutes(1));
        using (FloodgateLimiter recovered = Open())
        {
            var hasher = new FloodgateKeyHasher(s_secret);   // the same secret, as a restarted app has it
            Decision blocked = recovered.CheckKey(IPAddress.Parse("203.0.113.9"), hasher.Hash(blockedValue));
            Assert.Equal(DecisionReason.Blocked, blocked.Reason);
            Assert.Equal(TimeSpan.FromMinutes(9), blocked.RetryAfter);
            Assert.Equal(DecisionReason.Blacklisted, recovered.CheckKey(address, hasher.Hash(blacklistedValue)).Reason);
        }

        // The data directory holds hashes only: neither value, in UTF-8 or UTF-16, in any file.
        foreach (string file in Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories))
        {
            byte[] bytes = await File.ReadAllBytesAsync(file);
            foreach (string value in new[] { blockedValue, blacklistedValue })
            {
                Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(value)));
                Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(value)));
            }
        }
    }

    [Fact]
    public void ManyThreadsOnOneKeyFromManyAddressesGetExactlyTheLimit()
    {
        var hasher = new FloodgateKeyHasher(s_secret);
        using var h = new Harness(new FloodgatePolicy { PermitLimit = 1000, Window = TimeSpan.FromHours(1) });
        int allowed = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            var address = IPAddress.Parse($"192.0.2.{t + 1}");
            for (int i = 0; i < 500; i++)
            {
                if (h.Limiter.CheckKey(address, hasher.Hash("shared-key")).IsAllowed)
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        });
        Assert.Equal(1000, allowed);
    }
}
