using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using Floodgate.Internal;
using static Floodgate.Internal.MultiplyFold;

namespace Floodgate;

/// <summary>
/// Canonical destination hosts, and their 128-bit keys in the limiter's table: lower case, IDN as punycode, no
/// trailing dot, IP literals canonicalised, the port only when it is not the scheme's default.
/// </summary>
internal static class HostKey
{
    private static readonly ulong s_seed1 = MultiplyFold.RandomKey();
    private static readonly ulong s_seed2 = MultiplyFold.RandomKey();
    private static readonly IdnMapping s_idn = new();

    /// <summary>The canonical host of a request URI (without port).</summary>
    public static string Host(Uri uri)
    {
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 &&
            IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out IPAddress? address))
        {
            return address.ToString();   // canonical text, scope id included (it changes the destination)
        }

        return uri.IdnHost.TrimEnd('.').ToLowerInvariant();
    }

    /// <summary>The budget key of a request: the canonical host, and ":port" when not the scheme's default.</summary>
    public static string BudgetKey(Uri uri, string host) =>
        uri.IsDefaultPort ? host : host + ":" + uri.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>A configured host pattern in canonical form ("*.example.com" stays a wildcard); null when invalid.</summary>
    public static string? CanonicalPattern(string pattern)
    {
        string text = pattern.Trim();
        bool wildcard = text.StartsWith("*.", StringComparison.Ordinal);
        string host = wildcard ? text[2..] : text;
        if (host.Length == 0 || !Uri.TryCreate("http://" + (host.Contains(':') && !host.StartsWith('[') ? "[" + host + "]" : host) + "/", UriKind.Absolute, out Uri? uri))
        {
            return null;
        }

        string canonical = Host(uri);
        try
        {
            canonical = uri.HostNameType == UriHostNameType.Dns ? s_idn.GetAscii(canonical) : canonical;
        }
        catch (ArgumentException)
        {
            return null;
        }

        return wildcard ? "*." + canonical : canonical;
    }

    /// <summary>The table key of a budget key and optional partition, keyed with a per-process secret.</summary>
    public static IpKey Key(string budgetKey, string? partition)
    {
        ulong h = Hash(s_seed1, budgetKey);
        if (partition is not null)
        {
            h = Hash(h ^ 0x9E3779B97F4A7C15, partition);
        }

        // The table matches clients by a 62-bit hash of the key anyway: 64 bits of identity are enough here.
        return new IpKey(h, Fold(h ^ s_seed2, 0xC2B2AE3D27D4EB4F));
    }

    /// <summary>A keyed 64-bit hash of the text's UTF-16 bytes, 16 bytes per step (as in wyhash).</summary>
    private static ulong Hash(ulong seed, string text)
    {
        ReadOnlySpan<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(text.AsSpan());
        ulong h = seed ^ (ulong)bytes.Length;
        while (bytes.Length >= 16)
        {
            h = Fold(BinaryPrimitives.ReadUInt64LittleEndian(bytes) ^ h ^ 0xA0761D6478BD642F, BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]) ^ 0xE7037ED1A0B428DB);
            bytes = bytes[16..];
        }

        ulong a = 0;
        ulong b = 0;
        if (bytes.Length >= 8)
        {
            a = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            bytes = bytes[8..];
        }

        for (int i = 0; i < bytes.Length; i++)
        {
            b |= (ulong)bytes[i] << (8 * i);
        }

        h = Fold(a ^ h ^ 0x8EBC6AF09C88C6E3, b ^ 0x589965CC75374CC3);
        return Fold(h ^ seed, 0x1D8E4E27C47D124F);
    }
}
