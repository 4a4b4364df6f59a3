using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace Floodgate;

/// <summary>
/// Canonical destination hosts, and their 128-bit keys in the limiter's table: lower case, IDN as punycode, no
/// trailing dot, IP literals canonicalised, the port only when it is not the scheme's default.
/// </summary>
internal static class HostKey
{
    private static readonly ulong s_seed1 = RandomSeed();
    private static readonly ulong s_seed2 = RandomSeed();
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

    /// <summary>The 128-bit table key of a budget key and optional partition, keyed with a per-process secret.</summary>
    public static IpKey Key(string budgetKey, string? partition)
    {
        ulong a = Mix(s_seed1, budgetKey);
        ulong b = Mix(s_seed2, budgetKey);
        if (partition is not null)
        {
            a = Mix(a ^ 0x9E3779B97F4A7C15, partition);
            b = Mix(b ^ 0xC2B2AE3D27D4EB4F, partition);
        }

        return new IpKey(a, b);
    }

    private static ulong Mix(ulong h, string text)
    {
        foreach (char c in text)
        {
            ulong high = Math.BigMul(h ^ c, 0x9FB21C651E98DF25, out ulong low);
            h = high ^ low;
        }

        ulong finalHigh = Math.BigMul(h ^ (ulong)text.Length, 0xD6E8FEB86659FD93, out ulong finalLow);
        return finalHigh ^ finalLow;
    }

    private static ulong RandomSeed()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
