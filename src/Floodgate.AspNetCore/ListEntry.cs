using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace Floodgate.AspNetCore;

/// <summary>Allow/deny list entries as written in configuration and admin requests: a CIDR network or one address.</summary>
internal static class ListEntry
{
    /// <summary>Parses <c>10.0.0.0/8</c> or <c>192.0.2.7</c> (as <c>/32</c>, or <c>/128</c> for IPv6).</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out IPNetwork? network)
    {
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

    /// <summary>Whether the network is all of IPv4 or IPv6 (a /0): on an allowlist, a bypass for everyone.</summary>
    public static bool CoversEveryone(IPNetwork network) =>
        network.PrefixLength == 0 || (network.BaseAddress.IsIPv4MappedToIPv6 && network.PrefixLength <= 96);
}
