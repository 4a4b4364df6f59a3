using System.Net;
using Floodgate;
using Floodgate.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Operator endpoints: inspect clients, list blocked ones, unblock, blacklist, and change the lists at run time.</summary>
public static class FloodgateAdminEndpoints
{
    /// <summary>
    /// Maps the admin endpoints under <paramref name="prefix"/>, protected by <paramref name="authorizationPolicy"/>
    /// (required: they change who may use the app). Every operation applies to every policy.
    /// <list type="bullet">
    /// <item><c>GET {prefix}/clients/{address}</c>: the client's state under each policy</item>
    /// <item><c>GET {prefix}/blocked</c>: blocked and blacklisted clients per policy</item>
    /// <item><c>POST {prefix}/clients/{address}/unblock</c></item>
    /// <item><c>POST</c> / <c>DELETE {prefix}/clients/{address}/blacklist</c></item>
    /// <item><c>POST</c> / <c>DELETE {prefix}/allowlist?network=10.0.0.0/8</c>, and the same for <c>denylist</c></item>
    /// </list>
    /// </summary>
    /// <param name="endpoints">The app's endpoints.</param>
    /// <param name="prefix">The route prefix, e.g. <c>/floodgate</c>.</param>
    /// <param name="authorizationPolicy">The authorization policy an operator must satisfy.</param>
    /// <returns>The group, for more conventions.</returns>
    public static RouteGroupBuilder MapFloodgateAdmin(this IEndpointRouteBuilder endpoints, string prefix, string authorizationPolicy)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(authorizationPolicy);
        RouteGroupBuilder group = endpoints.MapGroup(prefix).RequireAuthorization(authorizationPolicy).DisableFloodgate();

        // With a shared store (Redis) configured, client operations run against it, so every instance sees them.
        // Every body is written with Floodgate's source-generated JSON context: no reflection, so it works under Native AOT.
        group.MapGet("/clients/{address}", (string address, FloodgateService service) =>
            WithAddressAsync(address, async ip => TypedResults.Json(WithChallengePasses(service, ip, await ForEachPolicyAsync(service,
                l => Describe(l.Inspect(ip)), async r => Describe(await r.InspectAsync(ip).ConfigureAwait(false))).ConfigureAwait(false)), AdminJson.Default.DictionaryStringClientView)));

        group.MapGet("/blocked", async (FloodgateService service, CancellationToken cancellationToken) =>
            TypedResults.Json(await ForEachPolicyAsync(service,
                l => l.GetBlockedClients().Select(Describe).ToList(),
                async r => (await r.GetBlockedClientsAsync(cancellationToken).ConfigureAwait(false)).Select(Describe).ToList()).ConfigureAwait(false), AdminJson.Default.DictionaryStringListClientView));

        group.MapPost("/clients/{address}/unblock", (string address, FloodgateService service) =>
            WithAddressAsync(address, async ip => TypedResults.Json(
                new UnblockedResult(await PoliciesWhereAsync(service, l => l.Unblock(ip), r => r.UnblockAsync(ip)).ConfigureAwait(false)), AdminJson.Default.UnblockedResult)));

        group.MapPost("/clients/{address}/blacklist", (string address, FloodgateService service) =>
            WithAddressAsync(address, async ip => TypedResults.Json(
                new BlacklistedResult(await PoliciesWhereAsync(service, l => l.Blacklist(ip), r => r.BlacklistAsync(ip)).ConfigureAwait(false)), AdminJson.Default.BlacklistedResult)));

        group.MapDelete("/clients/{address}/blacklist", (string address, FloodgateService service) =>
            WithAddressAsync(address, async ip => TypedResults.Json(
                new UnblacklistedResult(await PoliciesWhereAsync(service, l => l.Unblacklist(ip), r => r.UnblacklistAsync(ip)).ConfigureAwait(false)), AdminJson.Default.UnblacklistedResult)));

        foreach (string list in new[] { "allowlist", "denylist" })
        {
            AccessList Of(FloodgateLimiter limiter) => list == "allowlist" ? limiter.Allowlist : limiter.Denylist;
            bool deny = list == "denylist";
            group.MapPost("/" + list, (string network, FloodgateService service) =>
                ListEntry.TryParse(network, out IPNetwork? everyone) && AccessList.CoversAnAddressFamily(everyone.Value)
                ? Task.FromResult(Results.Problem(
                    deny ? $"'{network}' covers every address of a family: on the denylist every such client would be refused."
                         : $"'{network}' covers every address of a family: on the allowlist no such client would ever be limited.",
                    statusCode: StatusCodes.Status400BadRequest))
                : WithNetworkAsync(network, async n => TypedResults.Json(
                    new AddedResult((await PoliciesWhereAsync(service, l => Of(l).Add(n), r => r.ChangeListAsync(deny, n, add: true)).ConfigureAwait(false)).Count > 0), AdminJson.Default.AddedResult)));
            group.MapDelete("/" + list, (string network, FloodgateService service) =>
                WithNetworkAsync(network, async n => TypedResults.Json(
                    new RemovedResult((await PoliciesWhereAsync(service, l => Of(l).Remove(n), r => r.ChangeListAsync(deny, n, add: false)).ConfigureAwait(false)).Count > 0), AdminJson.Default.RemovedResult)));
            group.MapGet("/" + list, (FloodgateService service) =>
                TypedResults.Json(service.Limiters.Values.SelectMany(l => Of(l).Entries).Select(n => n.ToString()).Distinct().ToList(), AdminJson.Default.ListString));
        }

        return group;
    }

    private static Task<IResult> WithAddressAsync(string text, Func<IPAddress, Task<IResult>> action) =>
        ListEntry.TryParseAddress(text, out IPAddress? address)
            ? action(address)
            : Task.FromResult(Results.Problem($"'{text}' is not an IP address.", statusCode: StatusCodes.Status400BadRequest));

    private static async Task<Dictionary<string, T>> ForEachPolicyAsync<T>(FloodgateService service, Func<FloodgateLimiter, T> local, Func<IFloodgateRemoteLimiter, Task<T>> remote)
    {
        var results = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach ((string name, FloodgateLimiter limiter) in service.Limiters)
        {
            results[name] = service.Remote.TryGetValue(name, out IFloodgateRemoteLimiter? shared)
                ? await remote(shared).ConfigureAwait(false)
                : local(limiter);
        }

        return results;
    }

    private static async Task<List<string>> PoliciesWhereAsync(FloodgateService service, Func<FloodgateLimiter, bool> local, Func<IFloodgateRemoteLimiter, Task<bool>> remote) =>
        (await ForEachPolicyAsync(service, local, remote).ConfigureAwait(false)).Where(p => p.Value).Select(p => p.Key).ToList();

    private static Task<IResult> WithNetworkAsync(string text, Func<IPNetwork, Task<IResult>> action) =>
        ListEntry.TryParse(text, out IPNetwork? network)
            ? action(network.Value)
            : Task.FromResult(Results.Problem($"'{text}' is neither an address nor a CIDR network.", statusCode: StatusCodes.Status400BadRequest));

    /// <summary>Adds how many challenge passes the client earned under each policy in the last hour.</summary>
    private static Dictionary<string, ClientView> WithChallengePasses(FloodgateService service, IPAddress address, Dictionary<string, ClientView> views)
    {
        if (service.Challenge is not { } challenge)
        {
            return views;
        }

        IpKey key = IpKey.Create(address, service.Options.Ipv6PrefixLength);
        return views.ToDictionary(p => p.Key, p => p.Value with { ChallengePasses = challenge.PassesUsed(p.Key, key) }, StringComparer.Ordinal);
    }

    private static ClientView Describe(ClientState state) => new(
        state.Client.ToString(),
        state.IsTracked,
        state.IsWindowActive,
        state.Count,
        state.Remaining,
        Math.Ceiling(state.ResetAfter.TotalSeconds),
        state.IsBlocked,
        state.IsPunished,
        state.IsBlacklisted,
        state.BlockExpiresAt,
        state.BlockCount,
        state.IsAllowlisted,
        state.IsDenylisted);
}
