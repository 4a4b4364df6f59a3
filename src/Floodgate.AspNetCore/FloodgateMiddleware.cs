using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Floodgate.AspNetCore;

/// <summary>
/// The request pipeline step: global guard (503) → exemption → the endpoint's policies, each checked against the
/// client's address (429/403 on the first that denies), RateLimit headers on every answer.
/// </summary>
internal sealed class FloodgateMiddleware
{
    private static readonly (string Name, FloodgateLimiter Limiter)[] s_none = [];

    private readonly RequestDelegate _next;
    private readonly FloodgateService _service;
    private readonly ConcurrentDictionary<Endpoint, (string Name, FloodgateLimiter Limiter)[]> _byEndpoint = new();

    public FloodgateMiddleware(RequestDelegate next, FloodgateService service, IEnumerable<EndpointDataSource> endpoints)
    {
        _next = next;
        _service = service;

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
    }

    public Task InvokeAsync(HttpContext context)
    {
        FloodgateOptions options = _service.Options;
        if (_service.Global is { } global)
        {
            // One shared budget for all requests: no per-client work before it.
            Decision overall = global.Check(IpKey.Unknown);
            if (!overall.IsAllowed)
            {
                return RejectionWriter.WriteAsync(context, options, "global", overall, 503);
            }
        }

        if (options.Exempt?.Invoke(context) == true)
        {
            return _next(context);
        }

        (string Name, FloodgateLimiter Limiter)[] policies = context.GetEndpoint() is { } endpoint
            ? _byEndpoint.GetOrAdd(endpoint, Resolve)
            : Resolve(null);
        if (policies.Length == 0)
        {
            return _next(context);
        }

        var address = context.Connection.RemoteIpAddress;
        var checks = new (string Name, FloodgateLimiter Limiter, Decision Decision)[policies.Length];
        for (int i = 0; i < policies.Length; i++)
        {
            Decision decision = policies[i].Limiter.Check(address);
            checks[i] = (policies[i].Name, policies[i].Limiter, decision);
            if (_service.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
            {
                AdapterLog.Decision(_service.Logger, policies[i].Name, address?.ToString() ?? "unknown", decision.Reason, decision.Remaining);
            }

            if (!decision.IsAllowed)
            {
                RejectionWriter.AddRateLimitHeaders(context.Response, checks.AsSpan(0, i + 1));
                return RejectionWriter.WriteAsync(context, options, policies[i].Name, decision, RejectionWriter.StatusOf(decision.Reason));
            }
        }

        RejectionWriter.AddRateLimitHeaders(context.Response, checks);
        return _next(context);
    }

    /// <summary>An endpoint's policies, resolved once per endpoint: its [Floodgate]/RequireFloodgate names, else the default.</summary>
    private (string Name, FloodgateLimiter Limiter)[] Resolve(Endpoint? endpoint)
    {
        if (endpoint?.Metadata.GetMetadata<DisableFloodgateAttribute>() is not null)
        {
            return s_none;
        }

        var names = endpoint?.Metadata.GetOrderedMetadata<FloodgateAttribute>().Select(a => a.PolicyName).Distinct(StringComparer.Ordinal).ToList() ?? [];
        if (names.Count == 0 && _service.Options.DefaultPolicy is { } fallback)
        {
            names.Add(fallback);
        }

        return names.Where(_service.Limiters.ContainsKey).Select(n => (n, _service.Limiters[n])).ToArray();
    }
}
