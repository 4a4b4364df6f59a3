using System.Net;

namespace Floodgate.Tests;

public sealed class IpKeyTests
{
    [Fact]
    public void IPv4MappedAndNat64FormsAreOneKey()
    {
        IpKey v4 = IpKey.Create(IPAddress.Parse("192.0.2.33"));
        Assert.Equal(v4, IpKey.Create(IPAddress.Parse("::ffff:192.0.2.33")));
        Assert.Equal(v4, IpKey.Create(IPAddress.Parse("64:ff9b::192.0.2.33")));
        Assert.Equal(v4, IpKey.Create([192, 0, 2, 33]));
        Assert.Equal(v4, IpKey.FromIPv4(0xC0000221));
        Assert.True(v4.IsIPv4);
        Assert.Equal("192.0.2.33", v4.ToString());
        Assert.Equal(IPAddress.Parse("192.0.2.33"), v4.ToIPAddress());
    }

    [Fact]
    public void SpanOfSixteenBytesCanonicalisesLikeTheAddress()
    {
        byte[] mapped = IPAddress.Parse("::ffff:10.1.2.3").GetAddressBytes();
        Assert.Equal(IpKey.FromIPv4(0x0A010203), IpKey.Create(mapped));

        byte[] v6 = IPAddress.Parse("2001:db8:1:2:3:4:5:6").GetAddressBytes();
        Assert.Equal(IpKey.Create(IPAddress.Parse("2001:db8:1:2::")), IpKey.Create(v6));
    }

    [Fact]
    public void AThousandAddressesInOneSlash64ShareAKey()
    {
        var random = new Random(42);
        IpKey first = IpKey.Create(IPAddress.Parse("2001:db8:aaaa:bbbb::1"));
        byte[] bytes = IPAddress.Parse("2001:db8:aaaa:bbbb::").GetAddressBytes();
        for (int i = 0; i < 1000; i++)
        {
            random.NextBytes(bytes.AsSpan(8));
            Assert.Equal(first, IpKey.Create(new IPAddress(bytes)));
        }
    }

    [Fact]
    public void DifferentSlash64sHaveDifferentKeys()
    {
        var keys = new HashSet<IpKey>();
        for (int i = 0; i < 1000; i++)
        {
            keys.Add(IpKey.Create(IPAddress.Parse($"2001:db8:{i:x}:1::1")));
        }

        Assert.Equal(1000, keys.Count);
        Assert.NotEqual(IpKey.Create(IPAddress.Parse("2001:db8::1")), IpKey.Create(IPAddress.Parse("2001:db8:0:1::1")));
    }

    [Fact]
    public void PrefixLengthIsConfigurable()
    {
        var a = IPAddress.Parse("2001:db8:1:2::1");
        var b = IPAddress.Parse("2001:db8:1:3::1");
        Assert.NotEqual(IpKey.Create(a, 64), IpKey.Create(b, 64));
        Assert.Equal(IpKey.Create(a, 48), IpKey.Create(b, 48));
        Assert.NotEqual(IpKey.Create(a, 128), IpKey.Create(IPAddress.Parse("2001:db8:1:2::2"), 128));
        Assert.Equal(IpKey.Create(IPAddress.Parse("2001:db8::ff01"), 120), IpKey.Create(IPAddress.Parse("2001:db8::ff99"), 120));
    }

    [Fact]
    public void ScopeIdIsDropped()
    {
        var scoped = IPAddress.Parse("fe80::1%3");
        Assert.Equal(IpKey.Create(IPAddress.Parse("fe80::1"), 128), IpKey.Create(scoped, 128));
    }

    [Fact]
    public void NullIsTheUnknownKeyAndNoAddressCollidesWithIt()
    {
        Assert.True(IpKey.Create((IPAddress?)null).IsUnknown);
        Assert.Equal("unknown", IpKey.Unknown.ToString());
        Assert.Null(IpKey.Unknown.ToIPAddress());

        // The sentinel lies in NAT64 space, which canonicalises to IPv4.
        Assert.False(IpKey.Create(IPAddress.Parse("64:ff9b::ffff:ffff"), 128).IsUnknown);
        Assert.False(IpKey.Create(IPAddress.Parse("64:ff9b::1:ffff:ffff"), 128).IsUnknown);
        Assert.False(IpKey.Create(IPAddress.IPv6Any).IsUnknown);
        Assert.False(IpKey.Create(IPAddress.Any).IsUnknown);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(15)]
    [InlineData(17)]
    public void SpanOfWrongLengthIsRejected(int length)
    {
        var error = Assert.Throws<ArgumentException>(() => IpKey.Create(new byte[length]));
        Assert.Contains(length.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Theory]
    [InlineData(47)]
    [InlineData(129)]
    [InlineData(0)]
    public void PrefixOutsideRangeIsRejected(int prefix)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => IpKey.Create(IPAddress.IPv6Loopback, prefix));
        Assert.Contains("48", error.Message);
        Assert.Contains(prefix.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Fact]
    public void TryWriteBytesRoundTrips()
    {
        IpKey key = IpKey.Create(IPAddress.Parse("2001:db8:1:2::"));
        Span<byte> bytes = stackalloc byte[16];
        Assert.False(key.TryWriteBytes(bytes[..15]));
        Assert.True(key.TryWriteBytes(bytes));
        Assert.Equal(key, IpKey.Create(bytes));
    }
}
