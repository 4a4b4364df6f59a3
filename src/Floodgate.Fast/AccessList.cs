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
/// they cannot be told apart). Lookups are lock-free and allocation-free; changes copy the list.
/// </remarks>
public sealed class AccessList
{
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
    public bool Add(IPNetwork network) => Update(Canonicalize(network), add: true);

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Contains(in IpKey key)
    {
        Group[] groups = Volatile.Read(ref _snapshot).Groups;
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

    /// <summary>The network as this list stores it (masked, IPv4-mapped as IPv4, IPv6 cut to the key's prefix length).</summary>
    internal IPNetwork CanonicalNetwork(IPNetwork network) => ToNetwork(Canonicalize(network));

    /// <summary>Adds an entry in canonical form, as read back from a checkpoint.</summary>
    internal bool AddCanonical(IpKey key, int bits) => Update((key.Mask(bits), Math.Clamp(bits, 0, 128)), add: true);

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
            Groups = entries
                .GroupBy(e => e.Bits)
                .OrderByDescending(g => g.Key)
                .Select(g => new Group(g.Key, [.. g.Select(e => e.Key)]))
                .ToArray();
        }

        public (IpKey Key, int Bits)[] Entries { get; }

        public IPNetwork[] Networks { get; }

        public Group[] Groups { get; }
    }
}
