using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Floodgate.AspNetCore;

/// <summary>
/// The request pipeline step: global guard (503) → exemption → the endpoint's policies, each checked against the
/// client's address (429/403 on the first that denies), RateLimit headers on every answer.
/// </summary>
internal sealed class FloodgateMiddleware
{
    private readonly RequestDelegate _next;
    private readonly FloodgateService _service;
    private static readonly byte[] s_busy = RejectionWriter.BusyBody("global");
    private static readonly byte[] s_busyConcurrency = RejectionWriter.BusyBody("concurrency");

    // Replaced (not cleared) when a configuration reload changes the policies: a request holds one consistent cache.
    private volatile ConcurrentDictionary<Endpoint, EndpointPolicies> _byEndpoint = new();
    private readonly Func<Endpoint, EndpointPolicies> _resolve;   // one delegate, not one per lookup
    private volatile EndpointPolicies _withoutEndpoint;           // requests no endpoint matched (404s)
    private int _inFlight;

    public FloodgateMiddleware(RequestDelegate next, FloodgateService service, IEnumerable<EndpointDataSource> endpoints)
    {
        _next = next;
        _service = service;
        _resolve = Resolve;
        _withoutEndpoint = Resolve(null);
        service.Changed += () =>
        {
            // Reloaded policies: endpoints resolve again on their next request (numbers, modes, headers, the default policy).
            _withoutEndpoint = Resolve(null);
            _byEndpoint = new();
        };

        // Every policy an endpoint names must exist: fail at startup, not on a request.
        var unknown = endpoints.SelectMany(source => source.Endpoints)
            .SelectMany(endpoint => endpoint.Metadata.GetOrderedMetadata<FloodgateAttribute>().Select(a => (endpoint.DisplayName, a.PolicyName)))
            .Where(use => !service.Limiters.ContainsKey(use.PolicyName))
            .Select(use => $"'{use.PolicyName}' (used by {use.DisplayName})")
            .ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException(
                $"Floodgate: endpoints use policies that are not configured: {string.Join(", ", unknown)}. Configured: {string.Join(", ", service.Limiters.Keys)}.");
        }

        // And every cost must be one the policy can ever admit.
        var badCosts = endpoints.SelectMany(source => source.Endpoints)
            .SelectMany(endpoint => endpoint.Metadata.GetOrderedMetadata<FloodgateAttribute>().Select(a => (endpoint.DisplayName, Use: a)))
            .Where(use => use.Use.Cost < 1 || use.Use.Cost > service.Limiters[use.Use.PolicyName].MaxCost)
            .Select(use => $"[Floodgate(\"{use.Use.PolicyName}\")] Cost on {use.DisplayName} must be between 1 and {service.Limiters[use.Use.PolicyName].MaxCost} (the policy's largest request); got {use.Use.Cost}")
            .ToList();
        // A cost from configuration must name an endpoint that uses its policy, and be one the policy can admit.
        List<Endpoint> all = endpoints.SelectMany(source => source.Endpoints).ToList();
        foreach (ConfiguredCost configured in service.Options.ConfiguredCosts)
        {
            if (!service.Limiters.TryGetValue(configured.Policy, out FloodgateLimiter? limiter))
            {
                badCosts.Add($"{configured.Setting} is for policy '{configured.Policy}', which is not configured");
            }
            else if (!all.Any(endpoint => configured.Matches(endpoint) && UsesOf(endpoint).Any(use => use.Name == configured.Policy)))
            {
                badCosts.Add($"{configured.Setting}:Endpoint '{configured.Endpoint}' matches no endpoint that uses policy '{configured.Policy}' (by route pattern, e.g. \"GET /export\")");
            }
            else if (configured.Cost < 1 || configured.Cost > limiter.MaxCost)
            {
                badCosts.Add($"{configured.Setting}:Cost must be between 1 and {limiter.MaxCost} (the policy's largest request); got {configured.Cost}");
            }
        }

        if (badCosts.Count > 0)
        {
            throw new InvalidOperationException("Floodgate: " + string.Join("; ", badCosts) + ".");
        }

        // The largest cost each policy is asked for, so that a configuration reload cannot lower a policy below it (a
        // check of more permits than the policy's largest request would fail on the request path).
        foreach (Endpoint endpoint in all)
        {
            foreach ((string name, int cost) in UsesOf(endpoint))
            {
                service.NoteCost(name, cost, endpoint.DisplayName ?? endpoint.ToString() ?? name);
            }
        }
    }

    public Task InvokeAsync(HttpContext context)
    {
        FloodgateOptions options = _service.Options;

        // The endpoint's policies first (one cached lookup): a [DisableFloodgate] endpoint (health probes, the admin
        // endpoints) skips everything, the global guard included, so a flood cannot take down what must stay up. The
        // endpoint is read through the feature collection's indexer (see CheckClient).
        EndpointPolicies policies = (context.Features[typeof(IEndpointFeature)] as IEndpointFeature)?.Endpoint is { } endpoint
            ? _byEndpoint.GetOrAdd(endpoint, _resolve)
            : _withoutEndpoint;
        if (policies.IsDisabled)
        {
            return _next(context);
        }

        if (_service.Global is { } global)
        {
            // One shared budget for all requests: no per-client work before it, and a tiny static answer.
            Decision overall = global.Check(IpKey.Unknown);
            if (!overall.IsAllowed && !Shadowed("global", address: null, overall))
            {
                return Busy(context, RejectionWriter.Seconds(overall.RetryAfter), _service.Rejections.Problems, "global", s_busy);
            }
        }

        if (_service.Challenge is { } challenge && HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals(options.Challenge.Path, StringComparison.Ordinal))
        {
            // An answer to a challenge: never counted against the client's policies (it is how a limited person gets back).
            return Floodgate.AspNetCore.Challenge.ChallengeEndpoint.AnswerAsync(context, challenge, _service.Limiters, options.Ipv6PrefixLength);
        }

        if (options.GlobalConcurrencyLimit is int cap)
        {
            // Interlocked: the count of requests in flight, shared by every thread serving requests.
            if (Interlocked.Increment(ref _inFlight) > cap && !Shadowed("concurrency", address: null, Decision.Denied(DecisionReason.RateLimited, cap, 1000, 1000)))
            {
                Interlocked.Decrement(ref _inFlight);
                return Busy(context, 1, _service.Rejections.Problems, "concurrency", s_busyConcurrency);
            }

            return WithinCapAsync(context, policies);
        }

        return CheckClient(context, policies);
    }

    private async Task WithinCapAsync(HttpContext context, EndpointPolicies policies)
    {
        try
        {
            await CheckClient(context, policies).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static Task Busy(HttpContext context, long retryAfterSeconds, IProblemDetailsService? problems, string limit, byte[] body)
    {
        HttpResponse response = context.Response;
        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (problems is not null)
        {
            // The app asked for its own problem details (AddProblemDetails): its customisations apply here too.
            return RejectionWriter.WriteBusyProblemAsync(context, problems, retryAfterSeconds, limit, body);
        }

        // Tiny and static: the draft's temporary-reduced-capacity problem, made once.
        response.ContentType = "application/problem+json";
        return response.Body.WriteAsync(body).AsTask();
    }

    private Task CheckClient(HttpContext context, EndpointPolicies policies)
    {
        FloodgateOptions options = _service.Options;
        if (options.Exempt?.Invoke(context) == true)
        {
            return _next(context);
        }

        // The client's address and (in WriteHeaders) the response headers are read through the feature collection's
        // indexer: HttpContext's typed accessors (Connection, Response.Headers) each make a generic virtual call
        // (Features.Get<T>) per request, which costs a lookup of its own; the indexer is a plain interface call.
        IFeatureCollection features = context.Features;
        if (policies.Count == 0 && !_service.AppWideChecks)
        {
            return _next(context);
        }

        var address = (features[typeof(IHttpConnectionFeature)] as IHttpConnectionFeature)?.RemoteIpAddress;

        // App-wide: the denylist on endpoints without a policy (those with one check it themselves), and a client
        // blacklisted under any policy, by its address, on every endpoint.
        // Until the first blacklisting this is a flag read per policy; the lists of an endpoint with a policy are its own.
        if (policies.Count == 0 || _service.MayHoldBlacklisted)
        {
            return CheckAppWide(context, policies, address);
        }

        return CheckPolicies(context, policies, address);
    }

    /// <summary>The app-wide refusals (see CheckClient), then the endpoint's policies; out of line, off the common path.</summary>
    private Task CheckAppWide(HttpContext context, EndpointPolicies policies, System.Net.IPAddress? address)
    {
        if (_service.AppWideChecks && _service.TryRefuseAppWide(address, checkLists: policies.Count == 0, out Decision refused, out string policyName) &&
            !Shadowed(policyName, address, refused))
        {
            LogDecision(policyName, address, refused);
            return RejectionWriter.WriteAsync(context, _service.Rejections, policyName, refused, RejectionWriter.StatusOf(refused.Reason));
        }

        return policies.Count == 0 ? _next(context) : CheckPolicies(context, policies, address);
    }

    private Task CheckPolicies(HttpContext context, EndpointPolicies policies, System.Net.IPAddress? address)
    {
        if (policies.Counting is not null)
        {
            return CheckCountingAsync(context, policies, address);
        }

        if (policies.Remote is not null || policies.Keys is not null || policies.Shadow is not null)
        {
            return CheckSeveral(context, policies, address);
        }

        if (policies.Count == 1)
        {
            // The common case: one policy, headers from precomputed parts, one string allocated per request.
            int cost = policies.Costs[0];
            Decision decision = cost == 1 ? policies.Limiters[0].Check(address) : policies.Limiters[0].Check(address, cost);
            LogDecision(policies.Names[0], address, decision);
            WriteHeaders(context, policies, new ReadOnlySpan<Decision>(in decision), decision.IsAllowed);
            return decision.IsAllowed
                ? _next(context)
                : RejectionWriter.WriteAsync(context, _service.Rejections, policies.Names[0], decision, RejectionWriter.StatusOf(decision.Reason));
        }

        return CheckSeveral(context, policies, address);
    }

    /// <summary>
    /// An endpoint with several policies (or a keyed, dry-run or shared one): checked in order, the first that denies
    /// answers. A shared store's check that needs a round trip continues on the async path; one answered at once (a
    /// known ban; a batched policy deciding in process) takes no async machinery and allocates nothing here.
    /// </summary>
    /// <remarks>Its own method, so that the one-policy path above has no stack buffer (nor the checks one brings).</remarks>
    private Task CheckSeveral(HttpContext context, EndpointPolicies policies, System.Net.IPAddress? address)
    {
        // Their decisions on the stack (an endpoint names a handful), one string for the header.
        Span<Decision> decisions = policies.Count <= 16 ? stackalloc Decision[policies.Count] : new Decision[policies.Count];
        // The keys too, for the headers' partition keys (pk): only when a policy here is keyed.
        Span<IpKey> keys = policies.Keys is null ? default : policies.Count <= 16 ? stackalloc IpKey[policies.Count] : new IpKey[policies.Count];
        for (int i = 0; i < decisions.Length; i++)
        {
            bool keyed = TryHashKey(context, policies, i, out IpKey key);
            if (keyed)
            {
                keys[i] = key;
            }

            if (policies.Remote is null)
            {
                decisions[i] = Decide(policies, i, address, keyed, in key, peek: false);
            }
            else
            {
                ValueTask<Decision> pending = DecideAsync(policies, i, address, keyed, key, peek: false, context.RequestAborted);
                if (!pending.IsCompletedSuccessfully)
                {
                    // A round trip: the rest on the async path, with what was decided so far.
                    var sofar = new Decision[decisions.Length];
                    decisions[..i].CopyTo(sofar);
                    return CheckSharedAsync(context, policies, address, i, keyed, key, pending, sofar, keys.IsEmpty ? null : keys.ToArray());
                }

                decisions[i] = pending.Result;
            }

            if (!Decided(context, policies, i, address, keyed, key, decisions, keys, out Task? rejected))
            {
                return rejected!;
            }
        }

        WriteHeaders(context, policies, decisions, allowed: true, keys);
        return _next(context);
    }

    /// <summary><see cref="CheckSeveral"/> from policy <paramref name="from"/> on, whose check waits for the shared store.</summary>
    private async Task CheckSharedAsync(HttpContext context, EndpointPolicies policies, System.Net.IPAddress? address, int from, bool keyed, IpKey key, ValueTask<Decision> pending, Decision[] decisions, IpKey[]? keys)
    {
        for (int i = from; i < decisions.Length; i++)
        {
            if (i > from)
            {
                keyed = TryHashKey(context, policies, i, out key);
                if (keyed)
                {
                    keys![i] = key;
                }

                pending = DecideAsync(policies, i, address, keyed, key, peek: false, context.RequestAborted);
            }

            decisions[i] = await pending.ConfigureAwait(false);
            if (!Decided(context, policies, i, address, keyed, key, decisions, keys, out Task? rejected))
            {
                await rejected!.ConfigureAwait(false);
                return;
            }
        }

        WriteHeaders(context, policies, decisions, allowed: true, keys);
        await _next(context).ConfigureAwait(false);
    }

    /// <summary>Counts (on a shared store) and logs policy <paramref name="i"/>'s decision; false, with the rejection under way, when it refuses the request.</summary>
    private bool Decided(HttpContext context, EndpointPolicies policies, int i, System.Net.IPAddress? address, bool keyed, IpKey key, ReadOnlySpan<Decision> decisions, ReadOnlySpan<IpKey> keys, out Task? rejected)
    {
        CountShared(policies, i, decisions[i]);
        LogDecision(policies.Names[i], address, keyed, key, decisions[i]);
        if (!decisions[i].IsAllowed && !Shadowed(policies, i, address, decisions[i]))
        {
            WriteHeaders(context, policies, decisions[..(i + 1)], allowed: false, keys);
            rejected = RejectionWriter.WriteAsync(context, _service.Rejections, policies.Names[i], decisions[i], RejectionWriter.StatusOf(decisions[i].Reason));
            return false;
        }

        rejected = null;
        return true;
    }

    /// <summary>
    /// The hash of the request's key under policy <paramref name="i"/> (the value goes no further than the hasher); false
    /// when the policy counts addresses or the request has no key, and it is counted by its address.
    /// </summary>
    private bool TryHashKey(HttpContext context, EndpointPolicies policies, int i, out IpKey hashed)
    {
        if (policies.Keys?[i] is { } key && ReadKey(context, policies.Names[i], key) is { } value)
        {
            hashed = _service.KeyHasher!.Hash(value);
            return true;
        }

        hashed = default;
        return false;
    }

    /// <summary>The request's key under a policy; null (counted by its address) when it has none, or the app's custom reader threw.</summary>
    private string? ReadKey(HttpContext context, string policy, FloodgateKey key)
    {
        try
        {
            return key.Read(context);
        }
#pragma warning disable CA1031 // An app's custom key reader must not fail the request: the address counts instead, and the fault is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            AdapterLog.CustomKeyFailed(_service.Logger, policy, e.GetType().Name);
            return null;
        }
    }

    /// <summary>
    /// An endpoint with a policy that counts only some answers (CountStatusCodes, CountWhen). Before the endpoint, such a
    /// policy only asks (Peek): a client it would refuse is checked for real, so the refusal counts as a violation and
    /// may block or escalate, as on any policy. After the endpoint, the request is checked (counted) under each such
    /// policy whose rule its answer matches. Policies that count every request are checked before, as always.
    /// </summary>
    private async Task CheckCountingAsync(HttpContext context, EndpointPolicies policies, System.Net.IPAddress? address)
    {
        int count = policies.Count;
        var decisions = new Decision[count];
        var keys = new IpKey[count];
        var keyed = new bool[count];
        var counted = new bool[count];
        CancellationToken aborted = context.RequestAborted;
        for (int i = 0; i < count; i++)
        {
            keyed[i] = TryHashKey(context, policies, i, out keys[i]);

            if (policies.Counting![i] is not null)
            {
                decisions[i] = await DecideAsync(policies, i, address, keyed[i], keys[i], peek: true, aborted).ConfigureAwait(false);
            }

            if (policies.Counting[i] is null || !decisions[i].IsAllowed)
            {
                // Counted now: every request of an ordinary policy, and one a counting policy would refuse at the door.
                decisions[i] = await DecideAsync(policies, i, address, keyed[i], keys[i], peek: false, aborted).ConfigureAwait(false);
                CountShared(policies, i, decisions[i]);
                counted[i] = true;
            }

            LogDecision(policies.Names[i], address, keyed[i], keys[i], decisions[i]);
            if (!decisions[i].IsAllowed && !Shadowed(policies, i, address, decisions[i]))
            {
                WriteHeaders(context, policies, decisions.AsSpan(0, i + 1), allowed: false, keys);
                await RejectionWriter.WriteAsync(context, _service.Rejections, policies.Names[i], decisions[i], RejectionWriter.StatusOf(decisions[i].Reason)).ConfigureAwait(false);
                return;
            }
        }

        WriteHeaders(context, policies, decisions, allowed: true, keys);
        bool threw = true;
        try
        {
            await _next(context).ConfigureAwait(false);
            threw = false;
        }
        finally
        {
            for (int i = 0; i < count; i++)
            {
                if (!counted[i] && policies.Counting![i]!.Counts(context, threw))
                {
                    // The answer is out (or on its way): this count only decides the client's next requests.
                    Decision after = await DecideAsync(policies, i, address, keyed[i], keys[i], peek: false, CancellationToken.None).ConfigureAwait(false);
                    CountShared(policies, i, after);
                    LogDecision(policies.Names[i], address, keyed[i], keys[i], after);
                }
            }
        }
    }

    /// <summary>Counts a decision made on the shared store for the dashboard (the engine counts those it makes in process).</summary>
    private void CountShared(EndpointPolicies policies, int i, Decision decision)
    {
        if (policies.Remote is not null)
        {
            _service.Tallies.For(policies.Names[i]).CountDecision(decision.Reason);
        }
    }

    /// <summary>One policy's check (or, with <paramref name="peek"/>, what it would decide), in process or on the shared store.</summary>
    private static ValueTask<Decision> DecideAsync(EndpointPolicies policies, int i, System.Net.IPAddress? address, bool keyed, IpKey key, bool peek, CancellationToken cancellationToken)
    {
        int cost = policies.Costs[i];
        if (policies.Remote?[i] is { } remote)
        {
            return peek ? remote.PeekAsync(address, keyed ? key : null, cost, cancellationToken)
                : keyed ? remote.CheckKeyAsync(address, key, cost, cancellationToken)
                : remote.CheckAsync(address, cost, cancellationToken);
        }

        return new ValueTask<Decision>(Decide(policies, i, address, keyed, in key, peek));
    }

    /// <summary>One policy's check (or, with <paramref name="peek"/>, what it would decide) in process.</summary>
    private static Decision Decide(EndpointPolicies policies, int i, System.Net.IPAddress? address, bool keyed, in IpKey key, bool peek)
    {
        FloodgateLimiter limiter = policies.Limiters[i];
        int cost = policies.Costs[i];
        return peek
            ? keyed ? limiter.PeekKey(address, in key, cost) : limiter.Peek(address, cost)
            : keyed ? limiter.CheckKey(address, in key, cost) : cost == 1 ? limiter.Check(address) : limiter.Check(address, cost);
    }

    private void LogDecision(string policy, System.Net.IPAddress? address, bool keyed, IpKey key, Decision decision)
    {
        if (keyed)
        {
            LogDecision(policy, in key, decision);
        }
        else
        {
            LogDecision(policy, address, decision);
        }
    }

    /// <summary>A refusal by a dry-run policy (its own Mode, or the app's): logged (event 306) and let through.</summary>
    private bool Shadowed(EndpointPolicies policies, int i, System.Net.IPAddress? address, Decision decision) =>
        policies.Shadow?[i] == true && Shadowed(policies.Names[i], address, decision, force: true);

    /// <summary>A refusal while the app runs in Shadow mode (or <paramref name="force"/>): logged and let through.</summary>
    private bool Shadowed(string policy, System.Net.IPAddress? address, Decision decision, bool force = false)
    {
        if (!force && _service.Options.Mode != FloodgatePolicyMode.Shadow)
        {
            return false;
        }

        if (_service.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            AdapterLog.ShadowRefusal(_service.Logger, policy, address?.ToString() ?? "unknown", decision.Reason);
        }

        return true;
    }

    /// <summary>RateLimit-Policy and RateLimit for the decisions so far, on the answers <see cref="FloodgateOptions.RateLimitHeaders"/> names.</summary>
    // Two overloads, the common one as small as it was before keys and jitter: it is inlined into the request path, whose
    // inlining budget also takes the header dictionary's insert (a larger WriteHeaders cost ~10% in MiddlewareBenchmarks).
    private void WriteHeaders(HttpContext context, EndpointPolicies policies, ReadOnlySpan<Decision> decisions, bool allowed)
    {
        FloodgateRateLimitHeaders mode = _service.Options.RateLimitHeaders;
        if (mode == FloodgateRateLimitHeaders.Never || (mode == FloodgateRateLimitHeaders.OnRejection && allowed) || !policies.HasHeaders)
        {
            return;
        }

        // Through the indexer, like the other features (see CheckClient).
        IHeaderDictionary headers = (context.Features[typeof(IHttpResponseFeature)] as IHttpResponseFeature)?.Headers ?? context.Response.Headers;
        headers["RateLimit-Policy"] = policies.PolicyHeader;
        headers["RateLimit"] = policies.StateHeader(context, decisions);
    }

    /// <summary>The same, with the keys of keyed policies (their partition keys, <c>pk</c>).</summary>
    private void WriteHeaders(HttpContext context, EndpointPolicies policies, ReadOnlySpan<Decision> decisions, bool allowed, ReadOnlySpan<IpKey> keys)
    {
        FloodgateRateLimitHeaders mode = _service.Options.RateLimitHeaders;
        if (mode == FloodgateRateLimitHeaders.Never || (mode == FloodgateRateLimitHeaders.OnRejection && allowed) || !policies.HasHeaders)
        {
            return;
        }

        IHeaderDictionary headers = (context.Features[typeof(IHttpResponseFeature)] as IHttpResponseFeature)?.Headers ?? context.Response.Headers;
        headers["RateLimit-Policy"] = policies.PolicyHeader;
        headers["RateLimit"] = policies.StateHeader(context, decisions, keys);
    }

    /// <summary>A keyed decision's log line names the key's fingerprint, never its value.</summary>
    private void LogDecision(string policy, in IpKey key, Decision decision)
    {
        if (_service.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            AdapterLog.Decision(_service.Logger, policy, key.ToString(), decision.Reason, decision.Remaining);
        }
    }

    private void LogDecision(string policy, System.Net.IPAddress? address, Decision decision)
    {
        if (_service.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            AdapterLog.Decision(_service.Logger, policy, address?.ToString() ?? "unknown", decision.Reason, decision.Remaining);
        }
    }

    /// <summary>An endpoint's policies, resolved once per endpoint: its [Floodgate]/RequireFloodgate names, else the default.</summary>
    private EndpointPolicies Resolve(Endpoint? endpoint)
    {
        if (endpoint?.Metadata.GetMetadata<DisableFloodgateAttribute>() is not null)
        {
            return EndpointPolicies.Disabled;
        }

        List<(string Name, int Cost)> uses = UsesOf(endpoint);
        // Read once: a reload replaces each whole, and a policy it removed is simply not applied.
        IReadOnlyDictionary<string, FloodgateLimiter> limiters = _service.Limiters;
        IReadOnlyDictionary<string, FloodgatePolicy> declared = _service.Policies;
        IReadOnlyDictionary<string, IFloodgateRemoteLimiter> remote = _service.Remote;
        FloodgateOptions options = _service.Options;
        return uses.Count == 0 ? EndpointPolicies.None : new EndpointPolicies(uses.Where(u => limiters.ContainsKey(u.Name) && declared.ContainsKey(u.Name))
            .Select(u => (u.Name, declared[u.Name], limiters[u.Name], remote.GetValueOrDefault(u.Name), u.Cost)).ToList(),
            options.GetKey, options.CountPredicates, _service.IsShadow, options.RateLimitResetJitter);
    }

    /// <summary>
    /// The policies an endpoint uses and what a request costs under each: its [Floodgate]/RequireFloodgate names (else the
    /// default policy), each at the cost configuration sets for it (Floodgate:Policies:&lt;name&gt;:Costs), else the code's.
    /// </summary>
    private List<(string Name, int Cost)> UsesOf(Endpoint? endpoint)
    {
        if (endpoint?.Metadata.GetMetadata<DisableFloodgateAttribute>() is not null)
        {
            return [];
        }

        // A policy named twice on one endpoint applies once, at the cost of its last mention (the one nearest the endpoint).
        var uses = new List<(string Name, int Cost)>();
        foreach (FloodgateAttribute use in endpoint?.Metadata.GetOrderedMetadata<FloodgateAttribute>() ?? [])
        {
            int at = uses.FindIndex(u => u.Name == use.PolicyName);
            if (at >= 0)
            {
                uses[at] = (use.PolicyName, use.Cost);
            }
            else
            {
                uses.Add((use.PolicyName, use.Cost));
            }
        }

        if (uses.Count == 0 && _service.Options.DefaultPolicy is { } fallback)
        {
            uses.Add((fallback, 1));
        }

        if (endpoint is not null && _service.Options.ConfiguredCosts.Count > 0)
        {
            for (int i = 0; i < uses.Count; i++)
            {
                (string name, int cost) = uses[i];
                uses[i] = (name, _service.Options.ConfiguredCosts.LastOrDefault(c => c.Policy == name && c.Matches(endpoint))?.Cost ?? cost);
            }
        }

        return uses;
    }
}
