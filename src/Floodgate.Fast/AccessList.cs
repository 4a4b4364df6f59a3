using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Floodgate;

/// <summary>
/// A runtime allowlist or denylist of addresses and CIDR networks, changed while the limiter runs.
/// </summary>
/// <remarks>
/// Entries are canonicalised like client keys: IPv4, IPv4-mapped and NAT64 forms are the same, and an IPv6
/// network narrower than the limiter's IPv6 prefix is widened to it (clients in one prefix share a key, so
/// they cannot be told apart). An entry of one address family never covers a client of the other, however it is
/// widened (<c>::1</c> is IPv6 loopback's prefix, never an IPv4 client), and an entry that covers a whole family,
/// in any spelling, is refused. Lookups are lock-free and allocation-free; changes copy the list.
/// </remarks>
public sealed class AccessList
{
    private static readonly IPAddress s_anyMapped = IPAddress.Parse("::ffff:0.0.0.0");
    private static readonly IPAddress s_anyNat64 = IPAddress.Parse("64:ff9b::");
    private readonly int _ipv6PrefixLength;
    private Snapshot _snapshot = Snapshot.Empty;

    internal AccessList(int ipv6PrefixLength) => _ipv6PrefixLength = ipv6PrefixLength;

    /// <summary>Raised after the list changed (used by persistence to record runtime entries).</summary>
    internal event Action? Changed;

    /// <summary>Gets the number of entries.</summary>
    public int Count => Volatile.Read(ref _snapshot).Networks.Length;

    /// <summary>Gets a copy of the entries, in canonical form, in the order they were added.</summary>
    public IReadOnlyList<IPNetwork> Entries => Volatile.Read(ref _snapshot).Networks.ToArray();

    /// <summary>Adds a network.</summary>
    /// <param name="network">The network, e.g. <c>IPNetwork.Parse("10.0.0.0/8")</c>.</param>
    /// <returns><see langword="true"/> when added; <see langword="false"/> when it was already there.</returns>
    /// <exception cref="ArgumentException">The network covers every IPv4 or every IPv6 client (see <see cref="CoversAnAddressFamily"/>).</exception>
    public bool Add(IPNetwork network)
    {
        ThrowIfCoversAnAddressFamily(network, nameof(network));
        return Update(Canonicalize(network), add: true);
    }

    /// <summary>
    /// Tells whether a network, as written, covers every client of an address family: <c>0.0.0.0/0</c>, <c>::/0</c>,
    /// and any IPv6 network that holds all of IPv4 in IPv4-mapped (<c>::ffff:0:0/96</c>) or NAT64 (<c>64:ff9b::/96</c>)
    /// form, such as <c>::/1</c>, <c>::/64</c>, <c>::ffff:0.0.0.0/95</c> or <c>64:ff9b::/96</c>. On an allowlist such an
    /// entry limits nobody; on a denylist it refuses everybody.
    /// </summary>
    /// <param name="network">The network as written.</param>
    /// <returns><see langword="true"/> when it covers a whole family.</returns>
    public static bool CoversAnAddressFamily(IPNetwork network)
    {
        if (network.PrefixLength == 0)
        {
            return true;
        }

        // A network of /96 or wider that holds the first address of a /96 holds all of it.
        return network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 && network.PrefixLength <= 96 &&
            (SharesPrefix(network, s_anyMapped) || SharesPrefix(network, s_anyNat64));
    }

    /// <summary>Whether <paramref name="address"/>'s first <see cref="IPNetwork.PrefixLength"/> bits (1 to 128) are the network's (both IPv6).</summary>
    private static bool SharesPrefix(IPNetwork network, IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[32];
        network.BaseAddress.TryWriteBytes(bytes[..16], out _);
        address.TryWriteBytes(bytes[16..], out _);
        UInt128 mask = UInt128.MaxValue << (128 - network.PrefixLength);
        return (BinaryPrimitives.ReadUInt128BigEndian(bytes[..16]) & mask) == (BinaryPrimitives.ReadUInt128BigEndian(bytes[16..]) & mask);
    }

    /// <summary>Adds one address (its whole IPv6 prefix for IPv6).</summary>
    /// <param name="address">The address.</param>
    /// <returns><see langword="true"/> when added; <see langword="false"/> when it was already there.</returns>
    public bool Add(IPAddress address) => Add(SingleAddress(address));

    /// <summary>Removes a network added earlier (in any of its equivalent forms).</summary>
    /// <param name="network">The network.</param>
    /// <returns><see langword="true"/> when it was removed.</returns>
    public bool Remove(IPNetwork network) => Update(Canonicalize(network), add: false);

    /// <summary>Removes an address added earlier.</summary>
    /// <param name="address">The address.</param>
    /// <returns><see langword="true"/> when it was removed.</returns>
    public bool Remove(IPAddress address) => Remove(SingleAddress(address));

    /// <summary>Removes every entry.</summary>
    public void Clear()
    {
        Interlocked.Exchange(ref _snapshot, Snapshot.Empty);
        Changed?.Invoke();
    }

    /// <summary>Tells whether an address falls in any entry.</summary>
    /// <param name="address">The address; <see langword="null"/> is the unknown client, never listed.</param>
    /// <returns><see langword="true"/> when listed.</returns>
    public bool Contains(IPAddress? address) => address is not null && Contains(IpKey.CreateUnchecked(address, _ipv6PrefixLength));

    /// <summary>Gets whether a client key is listed (for packages built on the engine, which hold keys rather than addresses).</summary>
    /// <param name="key">The client key, created with this list's IPv6 prefix length.</param>
    /// <returns><see langword="true"/> when listed.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public bool Contains(in IpKey key)
    {
        // Entries of the client's own family only: IPv4 keys live inside ::ffff:0:0/96, so an IPv6 entry widened to
        // its /64 (::1 becomes ::/64) would otherwise hold every IPv4 client. Lists hold addresses: a key hash is on none.
        if (key.IsKeyHash)
        {
            return false;
        }

        Group[] groups = key.IsIPv4 ? Volatile.Read(ref _snapshot).IPv4Groups : Volatile.Read(ref _snapshot).IPv6Groups;
        for (int i = 0; i < groups.Length; i++)
        {
            if (groups[i].Prefixes.Contains(key.Mask(groups[i].Bits)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The entries in canonical form (key prefix, length), for checkpoints.</summary>
    internal (IpKey Key, int Bits)[] CanonicalEntries => Volatile.Read(ref _snapshot).Entries;

    /// <summary>Gets the network as this list stores it (masked, IPv4-mapped as IPv4, IPv6 cut to the key's prefix length).</summary>
    /// <param name="network">The network.</param>
    /// <returns>The canonical network.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public IPNetwork CanonicalNetwork(IPNetwork network) => ToNetwork(Canonicalize(network));

    /// <summary>Adds an entry in canonical form, as read back from a checkpoint; never one that covers a whole family.</summary>
    internal bool AddCanonical(IpKey key, int bits) => AddUnlessWholeFamily((key.Mask(bits), Math.Clamp(bits, 0, 128)));

    /// <summary>Adds a network already in canonical form (mirrored from a shared list); never one that covers a whole family.</summary>
    /// <param name="canonical">The network, from <see cref="CanonicalNetwork"/>.</param>
    /// <returns><see langword="true"/> when added.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public bool AddCanonical(IPNetwork canonical) => AddUnlessWholeFamily(Canonicalize(canonical));

    /// <summary>Throws when <paramref name="network"/> covers every client of an address family (<see cref="CoversAnAddressFamily"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="paramName">The parameter to name in the exception.</param>
    /// <exception cref="ArgumentException">The network covers a whole family.</exception>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public static void ThrowIfCoversAnAddressFamily(IPNetwork network, string paramName)
    {
        if (CoversAnAddressFamily(network))
        {
            throw new ArgumentException(
                $"'{network}' covers every {(IsIPv6Only(network) ? "IPv6" : "IPv4")} client: on an allowlist nobody would be limited, on a denylist everybody refused.", paramName);
        }
    }

    private bool AddUnlessWholeFamily((IpKey Key, int Bits) entry) => !IsWholeFamily(entry) && Update(entry, add: true);

    private static bool IsIPv6Only(IPNetwork network) =>
        network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 && network.PrefixLength == 0;

    /// <summary>A canonical entry for all of IPv4 (0.0.0.0/0 as a mapped /96) or all of IPv6 (/0).</summary>
    private static bool IsWholeFamily((IpKey Key, int Bits) entry) => entry.Bits == 0 || (IsIPv4Entry(entry) && entry.Bits == 96);

    /// <summary>IPv4 entries are IPv4 keys masked at 96 bits or more; every other entry is IPv6.</summary>
    private static bool IsIPv4Entry((IpKey Key, int Bits) entry) => entry.Bits >= 96 && entry.Key.IsIPv4;

    private static IPNetwork SingleAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
    }

    /// <summary>The network as a key prefix: the masked key and how many of its 128 bits count.</summary>
    private (IpKey Key, int Bits) Canonicalize(IPNetwork network)
    {
        IPAddress address = network.BaseAddress ?? throw new ArgumentException("The network has no base address.", nameof(network));
        int prefix = network.PrefixLength;
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return (IpKey.FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes)).Mask(96 + prefix), 96 + prefix);
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6 || !address.TryWriteBytes(bytes, out _))
        {
            throw new ArgumentException($"Only IPv4 and IPv6 networks can be listed; got {network}.", nameof(network));
        }

        ulong high = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        ulong low = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        IpKey asIPv4 = IpKey.FromIPv6(high, low, IpKey.MaxIpv6PrefixLength);
        if (prefix >= 96 && asIPv4.IsIPv4)
        {
            // ::ffff:a.b.c.d/n and 64:ff9b::a.b.c.d/n are the IPv4 network a.b.c.d/(n-96).
            return (asIPv4.Mask(prefix), prefix);
        }

        int bits = Math.Min(prefix, _ipv6PrefixLength);
        return (new IpKey(high, low).Mask(bits), bits);
    }

    private static IPNetwork ToNetwork((IpKey Key, int Bits) entry) =>
        entry.Key.IsIPv4 && entry.Bits >= 96
            ? new IPNetwork(entry.Key.ToIPAddress()!, entry.Bits - 96)
            : new IPNetwork(IPv6Address(entry.Key), entry.Bits);

    private static IPAddress IPv6Address(IpKey key)
    {
        Span<byte> bytes = stackalloc byte[16];
        key.TryWriteBytes(bytes);
        return new IPAddress(bytes);
    }

    private bool Update((IpKey Key, int Bits) entry, bool add)
    {
        // Copy-on-write with a CAS loop: lookups always see a complete list and never wait.
        while (true)
        {
            Snapshot current = Volatile.Read(ref _snapshot);
            bool present = current.Entries.Contains(entry);
            if (present == add)
            {
                return false;
            }

            List<(IpKey Key, int Bits)> entries = [.. current.Entries];
            if (add)
            {
                entries.Add(entry);
            }
            else
            {
                entries.Remove(entry);
            }

            if (Interlocked.CompareExchange(ref _snapshot, new Snapshot(entries), current) == current)
            {
                Changed?.Invoke();
                return true;
            }
        }
    }

    private readonly record struct Group(int Bits, HashSet<IpKey> Prefixes);

    private sealed class Snapshot
    {
        public static readonly Snapshot Empty = new([]);

        public Snapshot(List<(IpKey Key, int Bits)> entries)
        {
            Entries = [.. entries];
            Networks = entries.Select(ToNetwork).ToArray();
            IPv4Groups = GroupByLength(entries.Where(IsIPv4Entry));
            IPv6Groups = GroupByLength(entries.Where(e => !IsIPv4Entry(e)));
        }

        public (IpKey Key, int Bits)[] Entries { get; }

        public IPNetwork[] Networks { get; }

        /// <summary>The IPv4 entries by prefix length, longest first: what an IPv4 client is looked up in.</summary>
        public Group[] IPv4Groups { get; }

        /// <summary>The IPv6 entries by prefix length, longest first: what an IPv6 client is looked up in.</summary>
        public Group[] IPv6Groups { get; }

        private static Group[] GroupByLength(IEnumerable<(IpKey Key, int Bits)> entries) => entries
            .GroupBy(e => e.Bits)
            .OrderByDescending(g => g.Key)
            .Select(g => new Group(g.Key, [.. g.Select(e => e.Key)]))
            .ToArray();
    }
}
