using Microsoft.Extensions.Logging;

namespace Floodgate;

/// <summary>
/// Limits for an application's own outbound HTTP calls, per destination host: a policy per host (exact, or
/// <c>*.example.com</c>), a default for other hosts, and a backoff for a host whose limit was hit.
/// </summary>
/// <remarks>Bindable from configuration (<c>"Floodgate:Outbound"</c>): <c>DefaultPolicy</c>, <c>Hosts</c> (host → policy), and the rest.</remarks>
public sealed class FloodgateOutboundOptions
{
    /// <summary>
    /// Gets or sets the policy of hosts without one of their own.
    /// <value>The default value is <see langword="null"/>: such hosts are not limited.</value>
    /// </summary>
    public FloodgatePolicy? DefaultPolicy { get; set; }

    /// <summary>Gets the per-host policies: an exact host name (<c>api.example.com</c>) or a wildcard (<c>*.example.com</c>, any depth of subdomain).</summary>
    public Dictionary<string, FloodgatePolicy> Hosts { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets how long a host whose limit was hit stays in backoff: calls to it fail fast meanwhile.
    /// <value>The default value is 15 seconds.</value>
    /// </summary>
    public TimeSpan Backoff { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets or sets how long a call may wait for a permit before it fails (and the host enters backoff).
    /// <value>The default value is <see cref="TimeSpan.Zero"/>: fail fast.</value>
    /// </summary>
    public TimeSpan MaxWait { get; set; }

    /// <summary>
    /// Gets or sets whether an upstream 429 or 503 with <c>Retry-After</c> puts the host into backoff for that long.
    /// <value>The default value is <see langword="true"/>.</value>
    /// </summary>
    public bool HonorRetryAfter { get; set; } = true;

    /// <summary>
    /// Gets or sets the cap on a backoff asked for by an upstream <c>Retry-After</c> (not capped by <see cref="Backoff"/>).
    /// <value>The default value is 1 hour.</value>
    /// </summary>
    public TimeSpan MaxUpstreamBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets an optional partition combined with the host (for example the calling user or client IP), so
    /// that one caller cannot use up a host's budget for everyone; <see langword="null"/> results share the host's.
    /// <value>The default value is <see langword="null"/>: one budget per host.</value>
    /// </summary>
    public Func<HttpRequestMessage, string?>? PartitionBy { get; set; }

    /// <summary>
    /// Gets or sets how many host budgets the default and wildcard policies track (fixed memory, 64 bytes each).
    /// <value>The default value is 65,536.</value>
    /// </summary>
    public int Capacity { get; set; } = 1 << 16;

    /// <summary>Gets or sets the clock. <value>The default value is <see cref="TimeProvider.System"/>.</value></summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger for backoffs. <value>The default value is <see langword="null"/>: no logging.</value></summary>
    public ILogger? Logger { get; set; }

    /// <summary>Gets or sets the name in the metrics' <c>floodgate.limiter</c> tag (<c>outbound:&lt;name&gt;:&lt;host&gt;</c>). <value>The default value is <c>default</c>.</value></summary>
    public string Name { get; set; } = "default";

    /// <summary>
    /// Gets or sets the store that shares the budgets between app instances (set by Floodgate.Redis's <c>UseRedis</c>),
    /// made from the app's services when the limiter is built; <see langword="null"/>: budgets are this process's own.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public Func<IServiceProvider?, IOutboundStore>? SharedStore { get; set; }

    /// <summary>Adds a policy for a host: exact (<c>api.example.com</c>, any port) or wildcard (<c>*.example.com</c>).</summary>
    /// <param name="host">The host name or wildcard.</param>
    /// <param name="policy">Its policy.</param>
    /// <returns>These options.</returns>
    public FloodgateOutboundOptions AddHost(string host, FloodgatePolicy policy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentNullException.ThrowIfNull(policy);
        Hosts[host] = policy;
        return this;
    }

    /// <summary>Returns every problem with these options, each naming the setting and its value; empty when valid.</summary>
    /// <returns>The error messages.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (DefaultPolicy is not null)
        {
            errors.AddRange(DefaultPolicy.Validate("FloodgateOutboundOptions.DefaultPolicy"));
        }

        foreach ((string host, FloodgatePolicy policy) in Hosts)
        {
            if (HostKey.CanonicalPattern(host) is null)
            {
                errors.Add($"FloodgateOutboundOptions.Hosts has an invalid host '{host}': use a host name, an IP address or *.domain.");
            }

            errors.AddRange(policy.Validate($"FloodgateOutboundOptions.Hosts[{host}]"));
        }

        if (Backoff < TimeSpan.Zero || Backoff > FloodgatePolicy.MaxFiniteDuration)
        {
            errors.Add($"FloodgateOutboundOptions.Backoff must be between 0 and 10 years; got {Backoff}.");
        }

        if (MaxWait < TimeSpan.Zero || MaxWait > TimeSpan.FromMinutes(10))
        {
            errors.Add($"FloodgateOutboundOptions.MaxWait must be between 0 and 10 minutes; got {MaxWait}.");
        }

        if (MaxUpstreamBackoff < TimeSpan.Zero || MaxUpstreamBackoff > FloodgatePolicy.MaxFiniteDuration)
        {
            errors.Add($"FloodgateOutboundOptions.MaxUpstreamBackoff must be between 0 and 10 years; got {MaxUpstreamBackoff}.");
        }

        if (Capacity <= 0 || Capacity > FloodgateLimiterOptions.MaxCapacity)
        {
            errors.Add($"FloodgateOutboundOptions.Capacity must be between 1 and {FloodgateLimiterOptions.MaxCapacity}; got {Capacity}.");
        }

        if (TimeProvider is null)
        {
            errors.Add("FloodgateOutboundOptions.TimeProvider must not be null; got null.");
        }

        return errors;
    }
}
