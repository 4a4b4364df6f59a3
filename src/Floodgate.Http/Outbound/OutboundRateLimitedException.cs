namespace Floodgate;

/// <summary>An outbound call was not sent: its destination host is over its limit or in backoff.</summary>
public sealed class OutboundRateLimitedException : HttpRequestException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="host">The destination's budget key (canonical host, and port when not the default).</param>
    /// <param name="retryAfter">How long until a call may succeed.</param>
    public OutboundRateLimitedException(string host, TimeSpan retryAfter)
        : base($"Outbound calls to {host} are rate-limited by Floodgate; retry after {retryAfter.TotalSeconds:0.###} s.")
    {
        Host = host;
        RetryAfter = retryAfter;
    }

    /// <summary>Gets the destination's budget key: the canonical host, and the port when it is not the scheme's default.</summary>
    public string Host { get; }

    /// <summary>Gets how long until a call to the host may succeed.</summary>
    public TimeSpan RetryAfter { get; }
}
