using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Floodgate.AspNetCore;

/// <summary>Allow/deny list entries as written in configuration and admin requests: a CIDR network or one address.</summary>
internal static class ListEntry
{
    /// <summary>
    /// Parses <c>10.0.0.0/8</c> or <c>192.0.2.7</c> (as <c>/32</c>, or <c>/128</c> for IPv6). IPv4 only in its dotted
    /// quad: the legacy spellings the parser also takes (<c>1.2.3</c>, <c>0x7f.1</c>, <c>4294967295</c>, <c>010.0.0.1</c>)
    /// name other addresses than an operator reads, so they are refused.
    /// </summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out IPNetwork? network)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (!IsStrictSpelling(slash < 0 ? text : text[..slash]))
        {
            network = null;
            return false;
        }

        if (IPNetwork.TryParse(text, out IPNetwork parsed))
        {
            network = parsed;
            return true;
        }

        if (IPAddress.TryParse(text, out IPAddress? address))
        {
            network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        network = null;
        return false;
    }

    /// <summary>Parses one address, IPv4 only in its dotted quad (see <see cref="TryParse"/>).</summary>
    public static bool TryParseAddress(string text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        return IsStrictSpelling(text) && IPAddress.TryParse(text, out address);
    }

    /// <summary>An IPv6 address (it has a colon), or an IPv4 address as four decimal numbers 0 to 255 without leading zeros.</summary>
    private static bool IsStrictSpelling(string address)
    {
        if (address.Contains(':', StringComparison.Ordinal))
        {
            return true;
        }

        string[] parts = address.Split('.');
        return parts.Length == 4 && parts.All(part =>
            part.Length is > 0 and <= 3 && part.All(char.IsAsciiDigit) && (part.Length == 1 || part[0] != '0') && int.Parse(part, CultureInfo.InvariantCulture) <= 255);
    }
}
