using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Floodgate;

/// <summary>
/// The state behind <see cref="FloodgateOutboundHandler"/>: one limiter per host policy, shared by every handler
/// of a named client (IHttpClientFactory rotates handlers; the budgets must survive that).
/// </summary>
internal sealed class OutboundLimiter : IDisposable
{
    private const int ExactHostCapacity = 1024;   // one host: a few ports and partitions

    private readonly Dictionary<string, FloodgateLimiter> _exact = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FloodgateLimiter> _wildcards = new(StringComparer.Ordinal);
    private readonly FloodgateLimiter? _default;
    private readonly ILogger _logger;

    public OutboundLimiter(FloodgateOutboundOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate outbound configuration: " + string.Join(" ", errors), nameof(options));
        }

        Options = options;
        _logger = options.Logger ?? NullLogger.Instance;
        foreach ((string pattern, FloodgatePolicy policy) in options.Hosts)
        {
            string canonical = HostKey.CanonicalPattern(pattern)!;
            bool wildcard = canonical.StartsWith("*.", StringComparison.Ordinal);
            FloodgateLimiter limiter = Create(policy, canonical, wildcard ? options.Capacity : ExactHostCapacity);
            (wildcard ? _wildcards : _exact)[wildcard ? canonical[2..] : canonical] = limiter;
        }

        _default = options.DefaultPolicy is null ? null : Create(options.DefaultPolicy, "*", options.Capacity);
    }

    public FloodgateOutboundOptions Options { get; }

    /// <summary>The limiter for a canonical host: its exact policy, else the most specific wildcard, else the default.</summary>
    public FloodgateLimiter? Resolve(string host)
    {
        if (_exact.TryGetValue(host, out FloodgateLimiter? exact))
        {
            return exact;
        }

        if (_wildcards.Count > 0)
        {
            for (int dot = host.IndexOf('.'); dot >= 0; dot = host.IndexOf('.', dot + 1))
            {
                if (_wildcards.TryGetValue(host[(dot + 1)..], out FloodgateLimiter? wildcard))
                {
                    return wildcard;
                }
            }
        }

        return _default;
    }

    /// <summary>Takes a permit, waiting up to MaxWait; otherwise puts the host into backoff and throws.</summary>
    public async ValueTask AcquireAsync(FloodgateLimiter limiter, IpKey key, string budget, CancellationToken cancellationToken)
    {
        TimeSpan waitLeft = Options.MaxWait;
        while (true)
        {
            Decision decision = limiter.Check(in key);
            if (decision.IsAllowed)
            {
                return;
            }

            bool inBackoff = decision.Reason is DecisionReason.Blocked or DecisionReason.Blacklisted or DecisionReason.Denylisted;
            if (!inBackoff && decision.RetryAfter <= waitLeft)
            {
                // Waiting holds no permit: a cancelled wait leaves nothing behind.
                waitLeft -= decision.RetryAfter;
                await Task.Delay(decision.RetryAfter, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                continue;
            }

            TimeSpan retryAfter = decision.RetryAfter;
            if (!inBackoff && Options.Backoff > TimeSpan.Zero && limiter.BlockFor(in key, Options.Backoff))
            {
                retryAfter = Options.Backoff;
                Log.OutboundBackoff(_logger, budget, Options.Backoff.TotalSeconds);
            }

            throw new OutboundRateLimitedException(budget, retryAfter);
        }
    }

    /// <summary>An upstream 429 or 503 with Retry-After puts the host into backoff for that long (capped).</summary>
    public void Observe(FloodgateLimiter limiter, IpKey key, string budget, HttpResponseMessage response)
    {
        if (!Options.HonorRetryAfter || response.StatusCode is not (System.Net.HttpStatusCode.TooManyRequests or System.Net.HttpStatusCode.ServiceUnavailable) ||
            response.Headers.RetryAfter is not { } retryAfter)
        {
            return;
        }

        TimeSpan delay = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - Options.TimeProvider.GetUtcNow() : TimeSpan.Zero);
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        delay = delay > Options.MaxUpstreamBackoff ? Options.MaxUpstreamBackoff : delay;
        if (limiter.BlockFor(in key, delay))
        {
            Log.OutboundUpstreamBackoff(_logger, budget, (int)response.StatusCode, delay.TotalSeconds);
        }
    }

    public void Dispose()
    {
        foreach (FloodgateLimiter limiter in _exact.Values.Concat(_wildcards.Values))
        {
            limiter.Dispose();
        }

        _default?.Dispose();
    }

    private FloodgateLimiter Create(FloodgatePolicy policy, string pattern, int capacity) =>
        new(policy, new FloodgateLimiterOptions { Capacity = capacity, TimeProvider = Options.TimeProvider, Name = $"outbound:{Options.Name}:{pattern}" });
}
