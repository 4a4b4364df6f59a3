namespace Floodgate;

/// <summary>
/// Limits an <see cref="HttpClient"/>'s calls per destination host. A call over its host's limit (after waiting
/// up to <see cref="FloodgateOutboundOptions.MaxWait"/>) is not sent: it fails with
/// <see cref="OutboundRateLimitedException"/> and the host enters backoff, during which calls fail fast. An upstream
/// 429 or 503 with <c>Retry-After</c> puts the host into backoff too.
/// </summary>
/// <example><code>
/// var handler = new FloodgateOutboundHandler(new FloodgateOutboundOptions
/// {
///     DefaultPolicy = new FloodgatePolicy { PermitLimit = 10, Window = TimeSpan.FromSeconds(1) },
///     Backoff = TimeSpan.FromSeconds(15),
/// }.AddHost("api.example.com", new FloodgatePolicy { PermitLimit = 25, Window = TimeSpan.FromSeconds(1) }))
/// { InnerHandler = new SocketsHttpHandler() };
/// </code></example>
public sealed class FloodgateOutboundHandler : DelegatingHandler
{
    private readonly OutboundLimiter _limiter;
    private readonly bool _ownsLimiter;

    /// <summary>Creates a handler with budgets of its own.</summary>
    /// <param name="options">The per-host limits.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message names every bad setting and its value.</exception>
    public FloodgateOutboundHandler(FloodgateOutboundOptions options)
    {
        _limiter = new OutboundLimiter(options);
        _ownsLimiter = true;
    }

    /// <summary>Creates a handler over budgets shared with other handlers (IHttpClientFactory).</summary>
    internal FloodgateOutboundHandler(OutboundLimiter limiter) => _limiter = limiter;

    /// <inheritdoc />
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!TryResolve(request, out FloodgateLimiter? limiter, out IpKey key, out string budget))
        {
            return base.SendAsync(request, cancellationToken);
        }

        // Not an async method: when the permit is there at once (the common case) and the inner handler has
        // answered synchronously, nothing is allocated for the call's own task.
        ValueTask acquire = _limiter.AcquireAsync(limiter, key, budget, cancellationToken);
        if (!acquire.IsCompletedSuccessfully)
        {
            return SendAfterWaitAsync(acquire, request, limiter, key, budget, cancellationToken);
        }

        Task<HttpResponseMessage> send = base.SendAsync(request, cancellationToken);
        if (send.IsCompletedSuccessfully)
        {
            _limiter.Observe(limiter, key, budget, send.Result);
            return send;
        }

        return ObserveAsync(send, limiter, key, budget);
    }

    /// <inheritdoc />
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!TryResolve(request, out FloodgateLimiter? limiter, out IpKey key, out string budget))
        {
            return base.Send(request, cancellationToken);
        }

        ValueTask acquire = _limiter.AcquireAsync(limiter, key, budget, cancellationToken);
        if (!acquire.IsCompletedSuccessfully)
        {
            acquire.AsTask().GetAwaiter().GetResult();   // the synchronous API waits synchronously, as it asked
        }

        HttpResponseMessage response = base.Send(request, cancellationToken);
        _limiter.Observe(limiter, key, budget, response);
        return response;
    }

    private async Task<HttpResponseMessage> SendAfterWaitAsync(ValueTask acquire, HttpRequestMessage request, FloodgateLimiter limiter, IpKey key, string budget, CancellationToken cancellationToken)
    {
        await acquire.ConfigureAwait(false);
        return await ObserveAsync(base.SendAsync(request, cancellationToken), limiter, key, budget).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> ObserveAsync(Task<HttpResponseMessage> send, FloodgateLimiter limiter, IpKey key, string budget)
    {
        HttpResponseMessage response = await send.ConfigureAwait(false);
        _limiter.Observe(limiter, key, budget, response);
        return response;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsLimiter)
        {
            _limiter.Dispose();
        }

        base.Dispose(disposing);
    }

    private bool TryResolve(HttpRequestMessage request, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FloodgateLimiter? limiter, out IpKey key, out string budget)
    {
        limiter = null;
        key = default;
        budget = string.Empty;
        if (request.RequestUri is not { IsAbsoluteUri: true } uri)
        {
            return false;
        }

        string host = HostKey.Host(uri);
        limiter = _limiter.Resolve(host);
        if (limiter is null)
        {
            return false;
        }

        budget = HostKey.BudgetKey(uri, host);
        key = HostKey.Key(budget, _limiter.Options.PartitionBy?.Invoke(request));
        return true;
    }
}
