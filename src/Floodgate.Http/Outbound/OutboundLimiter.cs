using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Floodgate;

/// <summary>
/// The state behind <see cref="FloodgateOutboundHandler"/>: one limiter per host policy, shared by every handler
/// of a named client (IHttpClientFactory rotates handlers; the budgets must survive that), and optionally shared
/// with other app instances through a store.
/// </summary>
internal sealed class OutboundLimiter : IDisposable, IAsyncDisposable
{
    private const int ExactHostCapacity = 1024;   // one host: a few ports and partitions

    private readonly Dictionary<string, OutboundPolicy> _exact = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OutboundPolicy> _wildcards = new(StringComparer.Ordinal);
    private readonly OutboundPolicy? _default;
    private readonly IOutboundStore? _store;
    private readonly ILogger _logger;
    private int _disposed;

    public OutboundLimiter(FloodgateOutboundOptions options, IServiceProvider? services = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Floodgate outbound configuration: " + string.Join(" ", errors), nameof(options));
        }

        Options = options;
        _logger = options.Logger ?? NullLogger.Instance;
        _store = options.SharedStore?.Invoke(services);
        try
        {
            foreach ((string pattern, FloodgatePolicy policy) in options.Hosts)
            {
                string canonical = HostKey.CanonicalPattern(pattern)!;
                bool wildcard = canonical.StartsWith("*.", StringComparison.Ordinal);
                OutboundPolicy limiter = Create(policy, canonical, wildcard ? options.Capacity : ExactHostCapacity);
                (wildcard ? _wildcards : _exact)[wildcard ? canonical[2..] : canonical] = limiter;
            }

            _default = options.DefaultPolicy is null ? null : Create(options.DefaultPolicy, "*", options.Capacity);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public FloodgateOutboundOptions Options { get; }

    /// <summary>The policy of a canonical host: its exact policy, else the most specific wildcard, else the default.</summary>
    public OutboundPolicy? Resolve(string host)
    {
        if (_exact.TryGetValue(host, out OutboundPolicy? exact))
        {
            return exact;
        }

        if (_wildcards.Count > 0)
        {
            for (int dot = host.IndexOf('.'); dot >= 0; dot = host.IndexOf('.', dot + 1))
            {
                if (_wildcards.TryGetValue(host[(dot + 1)..], out OutboundPolicy? wildcard))
                {
                    return wildcard;
                }
            }
        }

        return _default;
    }

    /// <summary>Takes a permit, waiting up to MaxWait; otherwise puts the host into backoff and throws.</summary>
    public async ValueTask AcquireAsync(OutboundPolicy policy, OutboundCall call, CancellationToken cancellationToken)
    {
        TimeSpan waitLeft = Options.MaxWait;
        while (true)
        {
            Decision decision = policy.Shared is null
                ? policy.Local.Check(call.Key)
                : await policy.Shared.CheckAsync(call.Key, call.Budget, call.Partition, cancellationToken).ConfigureAwait(false);
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
            if (!inBackoff && Options.Backoff > TimeSpan.Zero && await BlockForAsync(policy, call, Options.Backoff).ConfigureAwait(false))
            {
                retryAfter = Options.Backoff;
                OutboundLog.OutboundBackoff(_logger, call.Budget, Options.Backoff.TotalSeconds);
            }

            throw new OutboundRateLimitedException(call.Budget, retryAfter);
        }
    }

    /// <summary>An upstream 429 or 503 with Retry-After puts the host into backoff for that long (capped).</summary>
    public void Observe(OutboundPolicy policy, OutboundCall call, HttpResponseMessage response)
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

        // At once here; with a shared store, for the other instances as soon as the store has it (the response is not held back).
        if (policy.Local.BlockFor(call.Key, delay))
        {
            OutboundLog.OutboundUpstreamBackoff(_logger, call.Budget, (int)response.StatusCode, delay.TotalSeconds);
        }

        if (policy.Shared is not null)
        {
            _ = ShareBackoffAsync(policy.Shared, call, delay);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (OutboundPolicy policy in Policies())
        {
            policy.Shared?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            policy.Local.Dispose();
        }

        _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (OutboundPolicy policy in Policies())
        {
            if (policy.Shared is not null)
            {
                await policy.Shared.DisposeAsync().ConfigureAwait(false);
            }

            policy.Local.Dispose();
        }

        if (_store is not null)
        {
            await _store.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<bool> BlockForAsync(OutboundPolicy policy, OutboundCall call, TimeSpan duration) =>
        policy.Shared is null
            ? policy.Local.BlockFor(call.Key, duration)
            : await policy.Shared.BlockForAsync(call.Key, call.Budget, call.Partition, duration).ConfigureAwait(false);

    private async Task ShareBackoffAsync(IOutboundBudget shared, OutboundCall call, TimeSpan delay)
    {
        try
        {
            await shared.BlockForAsync(call.Key, call.Budget, call.Partition, delay).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The local backoff holds; the other instances learn of it from the upstream themselves.
        catch (Exception e)
#pragma warning restore CA1031
        {
            OutboundLog.OutboundShareFailed(_logger, call.Budget, e.Message);
        }
    }

    private IEnumerable<OutboundPolicy> Policies() =>
        _exact.Values.Concat(_wildcards.Values).Concat(_default is null ? [] : [_default]);

    private OutboundPolicy Create(FloodgatePolicy policy, string pattern, int capacity)
    {
        string name = $"outbound:{Options.Name}:{pattern}";
        // Destinations are host names, not addresses: no network prefix to count.
        FloodgatePolicy perHost = (_store?.LocalPolicy(policy) ?? policy).Clone();
        perHost.MaxClientsPerPrefix = 0;
        var local = new FloodgateLimiter(perHost, new FloodgateLimiterOptions { Capacity = capacity, TimeProvider = Options.TimeProvider, Name = name, ResidentsFirst = false });
        try
        {
            return new OutboundPolicy(local, _store?.Create(name, policy, local));
        }
        catch
        {
            local.Dispose();
            throw;
        }
    }
}

/// <summary>One host policy: its in-process limiter, and its shared budget when a store shares them.</summary>
internal sealed record OutboundPolicy(FloodgateLimiter Local, IOutboundBudget? Shared);

/// <summary>One call's budget: the table key (keyed per process), and the budget and partition that name it across instances.</summary>
internal readonly record struct OutboundCall(IpKey Key, string Budget, string? Partition);
