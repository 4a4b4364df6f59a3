using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace Floodgate.AspNetCore;

/// <summary>
/// A cost set in configuration (<c>Floodgate:Policies:api:Costs:0</c> with <c>Endpoint</c> <c>"GET /export"</c> and
/// <c>Cost</c> 5): it replaces the cost the code gives the endpoints it matches under that policy.
/// </summary>
/// <param name="Policy">The policy's name.</param>
/// <param name="Endpoint">A route pattern as mapped (<c>/export</c>, <c>/orders/{id:int}</c>), optionally after a method.</param>
/// <param name="Cost">The permits a request of a matching endpoint costs.</param>
/// <param name="Setting">The setting's path, for messages.</param>
internal sealed record ConfiguredCost(string Policy, string Endpoint, int Cost, string Setting)
{
    /// <summary>Whether <paramref name="endpoint"/> is the one this entry names: its route pattern, and its method when one is given.</summary>
    public bool Matches(Endpoint endpoint)
    {
        if (endpoint is not RouteEndpoint route)
        {
            return false;
        }

        string text = Endpoint.Trim();
        int space = text.IndexOf(' ', StringComparison.Ordinal);
        string? method = space > 0 ? text[..space] : null;
        string pattern = space > 0 ? text[(space + 1)..].Trim() : text;
        return string.Equals(Normalize(route.RoutePattern.RawText), Normalize(pattern), StringComparison.OrdinalIgnoreCase)
            && (method is null || endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(method, StringComparer.OrdinalIgnoreCase) == true);
    }

    private static string Normalize(string? pattern) => "/" + (pattern ?? string.Empty).Trim().Trim('/');
}
