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
        if (!TryResolve(request, out OutboundPolicy? policy, out OutboundCall call))
        {
            return base.SendAsync(request, cancellationToken);
        }

        // Not an async method: when the permit is there at once (the common case) and the inner handler has
        // answered synchronously, nothing is allocated for the call's own task.
        ValueTask acquire = _limiter.AcquireAsync(policy, call, cancellationToken);
        if (!acquire.IsCompletedSuccessfully)
        {
            return SendAfterWaitAsync(acquire, request, policy, call, cancellationToken);
        }

        Task<HttpResponseMessage> send = base.SendAsync(request, cancellationToken);
        if (send.IsCompletedSuccessfully)
        {
            _limiter.Observe(policy, call, send.Result);
            return send;
        }

        return ObserveAsync(send, policy, call);
    }

    /// <inheritdoc />
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!TryResolve(request, out OutboundPolicy? policy, out OutboundCall call))
        {
            return base.Send(request, cancellationToken);
        }

        ValueTask acquire = _limiter.AcquireAsync(policy, call, cancellationToken);
        if (!acquire.IsCompletedSuccessfully)
        {
            acquire.AsTask().GetAwaiter().GetResult();   // the synchronous API waits synchronously, as it asked
        }

        HttpResponseMessage response = base.Send(request, cancellationToken);
        _limiter.Observe(policy, call, response);
        return response;
    }

    private async Task<HttpResponseMessage> SendAfterWaitAsync(ValueTask acquire, HttpRequestMessage request, OutboundPolicy policy, OutboundCall call, CancellationToken cancellationToken)
    {
        await acquire.ConfigureAwait(false);
        return await ObserveAsync(base.SendAsync(request, cancellationToken), policy, call).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> ObserveAsync(Task<HttpResponseMessage> send, OutboundPolicy policy, OutboundCall call)
    {
        HttpResponseMessage response = await send.ConfigureAwait(false);
        _limiter.Observe(policy, call, response);
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

    private bool TryResolve(HttpRequestMessage request, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out OutboundPolicy? policy, out OutboundCall call)
    {
        policy = null;
        call = default;
        if (request.RequestUri is not { IsAbsoluteUri: true } uri)
        {
            return false;
        }

        string host = HostKey.Host(uri);
        policy = _limiter.Resolve(host);
        if (policy is null)
        {
            return false;
        }

        string budget = HostKey.BudgetKey(uri, host);
        string? partition = _limiter.Options.PartitionBy?.Invoke(request);
        call = new OutboundCall(HostKey.Key(budget, partition), budget, partition);
        return true;
    }
}
