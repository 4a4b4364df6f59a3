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
    /// <item>the same for a keyed client: <c>{prefix}/keys</c>, <c>{prefix}/keys/unblock</c>, <c>{prefix}/keys/blacklist</c> with the
    /// key's value in the <c>X-Floodgate-Key</c> header (hashed as requests' keys are), or <c>{prefix}/clients/{id}</c> with the
    /// <c>id</c> the listings show (<c>k</c> and 30 hex digits); they apply to the keyed policies</item>
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
        group.MapGet("/clients/{client}", (string client, FloodgateService service) =>
            WithClientAsync(client, service, target => InspectAsync(service, target)));
        group.MapGet("/keys", (HttpContext context, FloodgateService service) =>
            WithKeyAsync(context, service, target => InspectAsync(service, target)));

        group.MapGet("/blocked", async (FloodgateService service, CancellationToken cancellationToken) =>
            TypedResults.Json(await ForEachPolicyAsync(service, Target.All,
                l => l.GetBlockedClients().Select(Describe).ToList(),
                async r => (await r.GetBlockedClientsAsync(cancellationToken).ConfigureAwait(false)).Select(Describe).ToList()).ConfigureAwait(false), AdminJson.Default.DictionaryStringListClientView));

        // The same three operations by address (or a key hash's full text) in the path, and by a key's value in a header.
        // Lambdas written out, one per route: the request delegate generator compiles them (Native AOT).
        group.MapPost("/clients/{client}/unblock", (string client, FloodgateService service) => WithClientAsync(client, service, target => ChangeAsync(service, target, Change.Unblock)));
        group.MapPost("/keys/unblock", (HttpContext context, FloodgateService service) => WithKeyAsync(context, service, target => ChangeAsync(service, target, Change.Unblock)));
        group.MapPost("/clients/{client}/blacklist", (string client, FloodgateService service) => WithClientAsync(client, service, target => ChangeAsync(service, target, Change.Blacklist)));
        group.MapPost("/keys/blacklist", (HttpContext context, FloodgateService service) => WithKeyAsync(context, service, target => ChangeAsync(service, target, Change.Blacklist)));
        group.MapDelete("/clients/{client}/blacklist", (string client, FloodgateService service) => WithClientAsync(client, service, target => ChangeAsync(service, target, Change.Unblacklist)));
        group.MapDelete("/keys/blacklist", (HttpContext context, FloodgateService service) => WithKeyAsync(context, service, target => ChangeAsync(service, target, Change.Unblacklist)));

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
                    new AddedResult((await PoliciesWhereAsync(service, Target.All, l => Of(l).Add(n), r => r.ChangeListAsync(deny, n, add: true)).ConfigureAwait(false)).Count > 0), AdminJson.Default.AddedResult)));
            group.MapDelete("/" + list, (string network, FloodgateService service) =>
                WithNetworkAsync(network, async n => TypedResults.Json(
                    new RemovedResult((await PoliciesWhereAsync(service, Target.All, l => Of(l).Remove(n), r => r.ChangeListAsync(deny, n, add: false)).ConfigureAwait(false)).Count > 0), AdminJson.Default.RemovedResult)));
            group.MapGet("/" + list, (FloodgateService service) =>
                TypedResults.Json(service.Limiters.Values.SelectMany(l => Of(l).Entries).Select(n => n.ToString()).Distinct().ToList(), AdminJson.Default.ListString));
        }

        return group;
    }

    /// <summary>The header that carries a key's value to the key operations: never the URL, which access logs keep.</summary>
    public const string KeyHeader = "X-Floodgate-Key";

    private static async Task<IResult> InspectAsync(FloodgateService service, Target target)
    {
        Dictionary<string, ClientView> views = await ForEachPolicyAsync(service, target,
            l => Describe(target.Inspect(l)), async r => Describe(await target.InspectAsync(r).ConfigureAwait(false))).ConfigureAwait(false);
        return TypedResults.Json(target.Address is { } ip ? WithChallengePasses(service, ip, views) : views, AdminJson.Default.DictionaryStringClientView);
    }

    internal static async Task<IResult> ChangeAsync(FloodgateService service, Target target, Change change)
    {
        List<string> policies = await PoliciesWhereAsync(service, target, l => target.Local(l, change), r => target.RemoteAsync(r, change)).ConfigureAwait(false);
        return change switch
        {
            Change.Unblock => TypedResults.Json(new UnblockedResult(policies), AdminJson.Default.UnblockedResult),
            Change.Blacklist => TypedResults.Json(new BlacklistedResult(policies), AdminJson.Default.BlacklistedResult),
            _ => TypedResults.Json(new UnblacklistedResult(policies), AdminJson.Default.UnblacklistedResult),
        };
    }

    /// <summary>An address, or a key hash as the admin endpoints list it (<c>k</c> and 30 hex digits: the <c>id</c> of a keyed client).</summary>
    internal static Task<IResult> WithClientAsync(string text, FloodgateService service, Func<Target, Task<IResult>> action)
    {
        if (FloodgateKeyHasher.TryParse(text, out IpKey hash))
        {
            return action(Target.OfKey(hash));
        }

        return ListEntry.TryParseAddress(text, out IPAddress? address)
            ? action(Target.OfAddress(address))
            : Task.FromResult(Results.Problem($"'{text}' is neither an IP address nor a key hash (k and 30 hex digits).", statusCode: StatusCodes.Status400BadRequest));
    }

    /// <summary>A key's value from the <see cref="KeyHeader"/> header, hashed as requests' keys are; the keyed policies apply.</summary>
    private static Task<IResult> WithKeyAsync(HttpContext context, FloodgateService service, Func<Target, Task<IResult>> action)
    {
        if (service.KeyHasher is not { } hasher)
        {
            return Task.FromResult(Results.Problem("No policy is keyed by anything but the address (Floodgate:Policies:<name>:Key).", statusCode: StatusCodes.Status404NotFound));
        }

        string? value = context.Request.Headers[KeyHeader];
        return string.IsNullOrEmpty(value)
            ? Task.FromResult(Results.Problem($"Send the key's value in the {KeyHeader} header (never in the URL, which logs keep).", statusCode: StatusCodes.Status400BadRequest))
            : action(Target.OfKey(hasher.Hash(value)));
    }

    private static async Task<Dictionary<string, T>> ForEachPolicyAsync<T>(FloodgateService service, Target target, Func<FloodgateLimiter, T> local, Func<IFloodgateRemoteLimiter, Task<T>> remote)
    {
        var results = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach ((string name, FloodgateLimiter limiter) in service.Limiters)
        {
            if (target.IsKey && service.Options.GetKey(name).IsAddress)
            {
                continue;   // a key hash lives only in the tables of keyed policies
            }

            results[name] = service.Remote.TryGetValue(name, out IFloodgateRemoteLimiter? shared)
                ? await remote(shared).ConfigureAwait(false)
                : local(limiter);
        }

        return results;
    }

    private static async Task<List<string>> PoliciesWhereAsync(FloodgateService service, Target target, Func<FloodgateLimiter, bool> local, Func<IFloodgateRemoteLimiter, Task<bool>> remote) =>
        (await ForEachPolicyAsync(service, target, local, remote).ConfigureAwait(false)).Where(p => p.Value).Select(p => p.Key).ToList();

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

    internal enum Change
    {
        Unblock,
        Blacklist,
        Unblacklist,
    }

    /// <summary>Whom an operation is about: an address (every policy), a key hash (the keyed policies), or every client.</summary>
    internal readonly record struct Target(IPAddress? Address, IpKey Key, bool IsKey)
    {
        public static Target All => default;

        public static Target OfAddress(IPAddress address) => new(address, default, false);

        public static Target OfKey(IpKey key) => new(null, key, true);

        public ClientState Inspect(FloodgateLimiter limiter) => IsKey ? limiter.Inspect(Key) : limiter.Inspect(Address);

        public Task<ClientState> InspectAsync(IFloodgateRemoteLimiter remote) => IsKey ? remote.InspectAsync(Key) : remote.InspectAsync(Address);

        public bool Local(FloodgateLimiter limiter, Change op) => (op, IsKey) switch
        {
            (Change.Unblock, true) => limiter.Unblock(Key),
            (Change.Unblock, false) => limiter.Unblock(Address),
            (Change.Blacklist, true) => limiter.Blacklist(Key),
            (Change.Blacklist, false) => limiter.Blacklist(Address),
            (_, true) => limiter.Unblacklist(Key),
            _ => limiter.Unblacklist(Address),
        };

        public Task<bool> RemoteAsync(IFloodgateRemoteLimiter remote, Change op) => (op, IsKey) switch
        {
            (Change.Unblock, true) => remote.UnblockAsync(Key),
            (Change.Unblock, false) => remote.UnblockAsync(Address),
            (Change.Blacklist, true) => remote.BlacklistAsync(Key),
            (Change.Blacklist, false) => remote.BlacklistAsync(Address),
            (_, true) => remote.UnblacklistAsync(Key),
            _ => remote.UnblacklistAsync(Address),
        };
    }

    private static ClientView Describe(ClientState state) => new(
        state.Client.ToString(),
        state.Client.IsKeyHash ? FloodgateKeyHasher.Format(state.Client) : state.Client.ToString(),
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
