using System.Buffers.Binary;
using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Floodgate;

/// <summary>
/// A canonical 16-byte client key derived from an IP address, built without allocation.
/// </summary>
/// <remarks>
/// <para>
/// IPv4 addresses, IPv4-mapped IPv6 addresses (<c>::ffff:a.b.c.d</c>) and NAT64 addresses
/// (<c>64:ff9b::/96</c>) all produce the same key: the IPv4-mapped form. Other IPv6 addresses are masked
/// to a prefix (by default <c>/64</c>, the usual allocation to one subscriber) so that a client cannot
/// escape its limit by rotating through the addresses of its own subnet. Scope ids are dropped. A multicast address
/// (<c>ff00::/8</c>), which is never a source address, is <see cref="Unknown"/>: that range holds the hashes of keys
/// that are not addresses (<see cref="FloodgateKeyHasher"/>).
/// </para>
/// <para>
/// <see cref="Unknown"/> stands for requests with no remote address. Its value lies in the NAT64 range,
/// which no canonical key can hold (NAT64 addresses are always converted to IPv4 keys), so it never
/// collides with a real client.
/// </para>
/// </remarks>
public readonly struct IpKey : IEquatable<IpKey>
{
    /// <summary>The default IPv6 prefix length that clients are grouped by.</summary>
    public const int DefaultIpv6PrefixLength = 64;

    /// <summary>The smallest accepted IPv6 prefix length.</summary>
    public const int MinIpv6PrefixLength = 48;

    /// <summary>The largest accepted IPv6 prefix length.</summary>
    public const int MaxIpv6PrefixLength = 128;

    // ::ffff:0:0/96 — IPv4-mapped IPv6: high word 0, low word 0x0000FFFF_xxxxxxxx.
    private const ulong MappedLowTag = 0x0000_FFFFUL;

    // 64:ff9b::/96 — the well-known NAT64 prefix: high word below, low word 0x00000000_xxxxxxxx.
    private const ulong Nat64High = 0x0064_FF9B_0000_0000UL;

    // 64:ff9b::ffff:ffff: a NAT64 address, which canonicalisation always turns into an IPv4 key, so no
    // canonical client key can ever equal it.
    private const ulong UnknownHigh = Nat64High;
    private const ulong UnknownLow = 0x0000_0000_FFFF_FFFFUL;

    /// <summary>The shared key of requests that have no remote address (a Unix socket, an in-memory host).</summary>
    public static IpKey Unknown { get; } = new(UnknownHigh, UnknownLow);

    /// <summary>
    /// Creates a key from its two halves: for packages built on the engine that key other things than addresses
    /// (Floodgate.Http keys destination hosts by a hash) or read keys back from a shared store.
    /// </summary>
    /// <param name="high">The first 8 bytes of the 16-byte key, big-endian.</param>
    /// <param name="low">The last 8 bytes of the 16-byte key, big-endian.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public IpKey(ulong high, ulong low)
    {
        High = high;
        Low = low;
    }

    /// <summary>Gets the first 8 bytes of the 16-byte key, big-endian.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ulong High { get; }

    /// <summary>Gets the last 8 bytes of the 16-byte key, big-endian.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public ulong Low { get; }

    /// <summary>Gets a value indicating whether this key identifies an IPv4 client.</summary>
    public bool IsIPv4 => High == 0 && (Low >> 32) == MappedLowTag;

    /// <summary>Gets a value indicating whether this is the shared <see cref="Unknown"/> key.</summary>
    public bool IsUnknown => High == UnknownHigh && Low == UnknownLow;

    /// <summary>
    /// Gets a value indicating whether this key is the hash of a key that is not an address (an API key, a user):
    /// made by <see cref="FloodgateKeyHasher"/>, in <c>ff00::/8</c>, where no address key can lie.
    /// </summary>
    public bool IsKeyHash => (High >> 56) == 0xFF;

    /// <summary>Creates the key of an IPv4 address given as a host-order number (127.0.0.1 is <c>0x7F000001</c>).</summary>
    /// <param name="ipv4">The IPv4 address in host byte order.</param>
    public static IpKey FromIPv4(uint ipv4) => new(0, (MappedLowTag << 32) | ipv4);

    /// <summary>Creates the canonical key of an address.</summary>
    /// <param name="address">The client address, or <see langword="null"/> for the <see cref="Unknown"/> key.</param>
    /// <param name="ipv6PrefixLength">The prefix length IPv6 clients are grouped by (48 to 128).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ipv6PrefixLength"/> is outside 48..128.</exception>
    public static IpKey Create(IPAddress? address, int ipv6PrefixLength = DefaultIpv6PrefixLength)
    {
        ValidatePrefixLength(ipv6PrefixLength);
        return CreateUnchecked(address, ipv6PrefixLength);
    }

    /// <summary>Creates the canonical key of an address given as its 4 (IPv4) or 16 (IPv6) network-order bytes.</summary>
    /// <param name="address">The address bytes in network order.</param>
    /// <param name="ipv6PrefixLength">The prefix length IPv6 clients are grouped by (48 to 128).</param>
    /// <exception cref="ArgumentException"><paramref name="address"/> is neither 4 nor 16 bytes long.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ipv6PrefixLength"/> is outside 48..128.</exception>
    public static IpKey Create(ReadOnlySpan<byte> address, int ipv6PrefixLength = DefaultIpv6PrefixLength)
    {
        ValidatePrefixLength(ipv6PrefixLength);
        return address.Length switch
        {
            4 => FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(address)),
            16 => FromIPv6(BinaryPrimitives.ReadUInt64BigEndian(address), BinaryPrimitives.ReadUInt64BigEndian(address[8..]), ipv6PrefixLength),
            _ => throw new ArgumentException($"An IP address is 4 or 16 bytes long; got {address.Length} bytes.", nameof(address)),
        };
    }

    /// <summary>Same as <see cref="Create(IPAddress?, int)"/> without validating the prefix length (the caller did).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static IpKey CreateUnchecked(IPAddress? address, int ipv6PrefixLength)
    {
        if (address is not null && address.AddressFamily == AddressFamily.InterNetwork)
        {
            // The common case, inlined into the check: four bytes into a local, no stack buffer.
            // TryWriteBytes never fails for a 4-byte buffer; the check keeps the path exception-free.
            uint ipv4 = 0;
            Span<byte> bytes = MemoryMarshal.AsBytes(new Span<uint>(ref ipv4));
            return address.TryWriteBytes(bytes, out _) ? FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes)) : Unknown;
        }

        return CreateUncommon(address, ipv6PrefixLength);
    }

    /// <summary>The unknown client, IPv6 and anything else, kept out of line so the IPv4 path stays small.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IpKey CreateUncommon(IPAddress? address, int ipv6PrefixLength)
    {
        if (address is null)
        {
            return Unknown;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.TryWriteBytes(bytes, out int written) && written == 16)
        {
            // TryWriteBytes writes the address without its scope id, which is what we want.
            return FromIPv6(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]), ipv6PrefixLength);
        }

        return Unknown;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static IpKey FromIPv6(ulong high, ulong low, int prefixLength)
    {
        if (high == 0 && (low >> 32) == MappedLowTag)
        {
            return new IpKey(0, low);
        }

        if (high == Nat64High && (low >> 32) == 0)
        {
            return FromIPv4((uint)low);
        }

        if ((high >> 56) == 0xFF)
        {
            // Multicast (ff00::/8) is never a source address (RFC 4291, 2.7): such a "client" is unknown. This keeps the
            // range free for key hashes (FloodgateKeyHasher), so no address can ever be counted as someone's API key.
            return Unknown;
        }

        return new IpKey(high, low).Mask(prefixLength);
    }

    /// <summary>Keeps the first <paramref name="bits"/> bits of the key (0 to 128) and clears the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal IpKey Mask(int bits)
    {
        // Shifting a ulong by 64 is a no-op in C#, so the boundary cases are spelled out.
        if (bits >= 128)
        {
            return this;
        }

        if (bits > 64)
        {
            return new IpKey(High, Low & ~(ulong.MaxValue >> (bits - 64)));
        }

        if (bits == 64)
        {
            return new IpKey(High, 0);
        }

        return bits <= 0 ? default : new IpKey(High & ~(ulong.MaxValue >> bits), 0);
    }

    internal static void ValidatePrefixLength(int ipv6PrefixLength, string name = "ipv6PrefixLength")
    {
        if (ipv6PrefixLength is < MinIpv6PrefixLength or > MaxIpv6PrefixLength)
        {
            throw new ArgumentOutOfRangeException(name, ipv6PrefixLength,
                $"{name} must be between {MinIpv6PrefixLength} and {MaxIpv6PrefixLength}; got {ipv6PrefixLength}.");
        }
    }

    /// <summary>Writes the 16 key bytes in network order.</summary>
    /// <param name="destination">A buffer of at least 16 bytes.</param>
    /// <returns><see langword="true"/> when the buffer was large enough.</returns>
    public bool TryWriteBytes(Span<byte> destination)
    {
        if (destination.Length < 16)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
        return true;
    }

    /// <summary>Returns the address this key stands for: the IPv4 address, or the (masked) IPv6 prefix address.</summary>
    /// <returns>The address, or <see langword="null"/> for <see cref="Unknown"/> and for a key hash (<see cref="IsKeyHash"/>).</returns>
    public IPAddress? ToIPAddress()
    {
        if (IsUnknown || IsKeyHash)
        {
            return null;
        }

        if (IsIPv4)
        {
            Span<byte> v4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)Low);
            return new IPAddress(v4);
        }

        Span<byte> v6 = stackalloc byte[16];
        TryWriteBytes(v6);
        return new IPAddress(v6);
    }

    /// <inheritdoc />
    public bool Equals(IpKey other) => High == other.High && Low == other.Low;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is IpKey other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(High, Low);

    /// <summary>
    /// Returns the IPv4 address, the IPv6 prefix address, <c>unknown</c>, or for a key hash <c>key:</c> and a fingerprint
    /// (8 hex digits of the hash: enough to tell clients apart in a log, nothing of the key's value).
    /// </summary>
    public override string ToString() =>
        IsKeyHash ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"key:{(uint)(High >> 24):x8}")
            : ToIPAddress()?.ToString() ?? "unknown";

    /// <summary>Compares two keys for equality.</summary>
    public static bool operator ==(IpKey left, IpKey right) => left.Equals(right);

    /// <summary>Compares two keys for inequality.</summary>
    public static bool operator !=(IpKey left, IpKey right) => !left.Equals(right);
}
